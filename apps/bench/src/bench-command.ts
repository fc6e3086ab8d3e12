import { existsSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join, resolve } from 'node:path';
import {
  BadInputError,
  checkOutputTarget,
  EXIT,
  parseChoice,
  parseInteger,
  parsePerSecond,
  parseSize,
} from 'bgsnap';
import type { Command } from 'commander';
import { fmtSize } from './format.js';
import { copyBufferPagesFor, inThreadSkipReason, NATIVE_MODES, type NativeMode } from './modes.js';
import { BENCH_POLICIES, parsePolicies } from './policies.js';
import type { RealClientOptions } from './real-client.js';
import { realClientMarkdown } from './real-client-verdict.js';
import { findRedisServer, isExecutableFile } from './redis-bgsave.js';
import { type BenchOptions, type BenchOutput, replotBench, runBench } from './run-bench.js';
import { DEFAULT_PROFILES, parseStallProfile } from './stall-profile.js';
import { resultsMarkdown } from './table.js';
import { targetsMarkdown } from './targets.js';
import { passText } from './verdict.js';

interface RawBenchOptions {
  backends: string;
  modes: string;
  simModes: string;
  policies?: string[];
  profiles: string;
  simSize: string;
  nativeSize: string;
  writers: string;
  rate: string;
  seed: string;
  nativeSink: string;
  quiesce: boolean;
  targets?: boolean;
  matrix?: boolean;
  realClient?: boolean;
  copyBufferPages?: string;
  clientRequests: string;
  clientConnections: string;
  clientPipeline: string;
  valueBytes: string;
  clientLimiters: string;
  clientInside: string;
  targetReps: string;
  targetStall: string;
  floorFaults: string;
  floorSource?: string;
  probeSeconds: string;
  redis: string;
  plots: boolean;
  batchPages?: string;
  from?: string;
  out: string;
  json?: boolean;
}

const SIM_MODES = ['plain', 'copy-on-fault'] as const;
const APT = 'apt-get update && apt-get install -y redis-server redis-tools';

function parseList<T extends string>(option: string, text: string, choices: readonly T[]): T[] {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) throw new BadInputError(option, `must list one or more of ${choices.join(', ')}`);
  return [...new Set(items.map((s) => parseChoice(option, s, choices)))];
}

/** The validated options of `bgsnap-bench`. */
export type BenchCommandOptions = Omit<BenchOptions, 'log'> & {
  json: boolean;
  from: string | undefined;
  /** No action was given (`--matrix`, `--targets`, `--real-client`, `--from`): print the help, exit 2. */
  noAction?: boolean | undefined;
};

/**
 * Validates every option of `bgsnap-bench` (nothing is written yet); policy modules are loaded once to
 * check they build a policy.
 */
export async function parseBenchOptions(raw: RawBenchOptions): Promise<BenchCommandOptions> {
  const floorSource = raw.floorSource === undefined ? undefined : resolve(raw.floorSource);
  if (floorSource !== undefined && !(existsSync(floorSource) && statSync(floorSource).isFile())) {
    throw new BadInputError('--floor-source', `${floorSource} is not a file`);
  }
  const redisServer = parseRedis(raw.redis);
  const targetStall = parseStallProfile(raw.targetStall, '--target-stall');
  const targets = raw.targets === true;
  const matrix = raw.matrix === true;
  // Validated even when not used, so that a typo fails at once whatever the action.
  const allBackends = parseList('--backends', raw.backends, ['sim', 'native'] as const);
  const backends = matrix ? allBackends : [];
  const writers = parseInteger('--writers', raw.writers, 1, 16);
  const ratePerWriter = parsePerSecond('--rate', raw.rate, 1e7);
  const nativeModes = parseList('--modes', raw.modes, NATIVE_MODES);
  const nativeSizeBytes = parseSize('--native-size', raw.nativeSize, 2 ** 20, 4 * 2 ** 30, 2 ** 20);
  const realClient = raw.realClient === true ? parseRealClient(raw, nativeSizeBytes, nativeModes) : undefined;
  return {
    outDir: resolve(raw.out),
    backends,
    nativeModes,
    simModes: parseList('--sim-modes', raw.simModes, SIM_MODES),
    policies: await parsePolicies(raw.policies ?? []),
    profiles: raw.profiles.split(',').map((p) => parseStallProfile(p, '--profiles')),
    simSizeBytes: parseSize('--sim-size', raw.simSize, 2 ** 20, 2 ** 40, 4096),
    nativeSizeBytes,
    writers,
    ratePerWriter,
    seed: parseInteger('--seed', raw.seed, 0, 2 ** 31 - 1),
    nativeSink: parseChoice('--native-sink', raw.nativeSink, ['file', 'discard'] as const),
    quiesce: raw.quiesce,
    targets,
    targetReps: parseInteger('--target-reps', raw.targetReps, 1, 20),
    floorFaults: parseInteger('--floor-faults', raw.floorFaults, 100, 10_000_000),
    floorSource,
    probeSeconds: parseInteger('--probe-seconds', raw.probeSeconds, 0, 600),
    redisServer,
    targetStall,
    plots: raw.plots,
    batchPages:
      raw.batchPages === undefined ? undefined : parseInteger('--batch-pages', raw.batchPages, 1, 65536),
    copyBufferPages:
      raw.copyBufferPages === undefined
        ? copyBufferPagesFor(
            targetStall.kind === 'periodic' ? targetStall.stallNs : 0,
            writers * ratePerWriter,
          )
        : parseInteger('--copy-buffer-pages', raw.copyBufferPages, 1, 2 ** 20),
    realClient,
    json: raw.json === true,
    from: raw.from === undefined ? undefined : checkJsonInput(raw.from),
    noAction: !(matrix || targets || realClient || raw.from !== undefined),
  };
}

/** The first executable `name` on PATH, or undefined. */
function onPath(name: string, path = process.env.PATH ?? ''): string | undefined {
  return path
    .split(delimiter)
    .filter(Boolean)
    .map((d) => join(d, name))
    .find(isExecutableFile);
}

/** `--real-client`: redis-benchmark, the example's built server, and the client's load. */
function parseRealClient(
  raw: RawBenchOptions,
  sizeBytes: number,
  modes: readonly NativeMode[],
): Omit<RealClientOptions, 'log'> {
  const redisBenchmark = onPath('redis-benchmark');
  if (!redisBenchmark) {
    throw new BadInputError(
      '--real-client',
      `redis-benchmark (Redis >= 7) is not on PATH; on Debian/Ubuntu: ${APT}`,
    );
  }
  const inside = Number(raw.clientInside);
  if (!(inside > 0 && inside <= 1)) {
    throw new BadInputError('--client-inside', `must be a fraction in (0, 1]; got '${raw.clientInside}'`);
  }
  const limiters = raw.clientLimiters
    .split(',')
    .map((l) => l.trim())
    .filter(Boolean);
  if (limiters.length === 0)
    throw new BadInputError('--client-limiters', "must list one or more limiter specs or 'default'");
  return {
    redisBenchmark,
    redisServer: parseRedis(raw.redis),
    kvServerMain: kvServerMain(),
    sizeBytes,
    valueBytes: parseSize('--value-bytes', raw.valueBytes, 1, 2 ** 20, 1),
    requests: parseInteger('--client-requests', raw.clientRequests, 1, 100_000_000),
    clients: parseInteger('--client-connections', raw.clientConnections, 1, 10_000),
    pipeline: parseInteger('--client-pipeline', raw.clientPipeline, 1, 1000),
    modes,
    limiters,
    inside,
  };
}

/** The example kv-server's built entry point (a workspace dependency of the bench). */
function kvServerMain(): string {
  let main: string;
  try {
    main = join(
      dirname(createRequire(import.meta.url).resolve('@bgsnap/example-kv-server/package.json')),
      'dist',
      'main.js',
    );
  } catch {
    throw new BadInputError(
      '--real-client',
      'the example @bgsnap/example-kv-server is not installed beside the bench',
    );
  }
  if (!existsSync(main)) {
    throw new BadInputError(
      '--real-client',
      `${main} is missing: build the example first (pnpm --filter @bgsnap/example-kv-server build)`,
    );
  }
  return main;
}

/** `--redis auto|none|<path>`: the redis-server for target (d), or undefined to quote the reference. */
function parseRedis(text: string): string | undefined {
  if (text === 'none') return undefined;
  if (text === 'auto') return findRedisServer();
  const full = resolve(text);
  if (existsSync(full) && !statSync(full).isFile())
    throw new BadInputError('--redis', `${full} is not a file`);
  if (!isExecutableFile(full)) {
    throw new BadInputError(
      '--redis',
      `${full} is not an executable (give auto, none or the path of redis-server)`,
    );
  }
  return full;
}

function checkJsonInput(path: string): string {
  const full = resolve(path);
  if (!(existsSync(full) && statSync(full).isFile()))
    throw new BadInputError('--from', `${full} is not a file`);
  return full;
}

/** Creates the output folder (and checks it accepts files); BadInputError when it cannot. */
function prepareOutDir(dir: string): void {
  if (existsSync(dir) && !statSync(dir).isDirectory())
    throw new BadInputError('--out', `${dir} is not a folder`);
  if (!existsSync(dir)) {
    checkOutputTarget('--out', dir, { force: false, allowSpecial: false }); // the parent must exist and accept new entries
    try {
      mkdirSync(dir, { recursive: true });
    } catch (error) {
      throw new BadInputError(
        '--out',
        `cannot create ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
  }
  checkOutputTarget('--out', join(dir, 'results.json'), { force: true, allowSpecial: false }); // a rerun replaces its results
}

/** `bgsnap-bench`: every policy × sink stall profile on both backends, tables and plots; optionally the targets. */
export async function runBenchCommand(options: BenchCommandOptions): Promise<number> {
  const { json, from, noAction: _noAction, ...bench } = options;
  if (from !== undefined) {
    prepareOutDir(bench.outDir);
    const files = await replotBench(from, bench.outDir);
    process.stdout.write(
      `redrew ${files.length} files from ${from}:\n${files.map((f) => `  ${f}`).join('\n')}\n`,
    );
    return EXIT.ok;
  }
  const wantsNative = bench.backends.includes('native') || bench.targets || bench.realClient !== undefined;
  if (wantsNative) {
    const uffd = await import('@bgsnap/fault-source-uffd').catch((e: unknown) => e as Error);
    const support = uffd instanceof Error ? { available: false as const, error: uffd } : uffd.probeUffd();
    if (!support.available) {
      process.stderr.write(
        `bgsnap-bench: userfaultfd write-protect is not available here (${support.error.message}); running the simulator only\n`,
      );
      bench.backends = bench.backends.filter((b) => b !== 'native');
      bench.targets = false;
      bench.realClient = undefined;
      if (bench.backends.length === 0) return EXIT.failed;
    } else if (bench.nativeModes.includes('in-thread')) {
      const skip = inThreadSkipReason(support);
      if (skip) {
        process.stderr.write(`bgsnap-bench: in-thread mode skipped: ${skip}\n`);
        bench.inThreadSkipped = skip;
        bench.nativeModes = bench.nativeModes.filter((m) => m !== 'in-thread');
        if (bench.realClient) {
          bench.realClient = {
            ...bench.realClient,
            modes: bench.realClient.modes.filter((m) => m !== 'in-thread'),
          };
        }
      }
    }
  }
  prepareOutDir(bench.outDir);
  const parts = [
    bench.backends.length > 0
      ? `the matrix: ${bench.policies.length} policies × ${bench.profiles.length} profiles on ${bench.backends.join(' + ')} (sim ${fmtSize(bench.simSizeBytes)})`
      : '',
    bench.targets ? 'the app-level targets' : '',
    bench.realClient ? `the real client (${bench.realClient.modes.join(', ')})` : '',
  ].filter(Boolean);
  process.stderr.write(
    `bgsnap-bench: ${parts.join('; ')}; native ${fmtSize(bench.nativeSizeBytes)}, ${bench.writers} writers, modes ${bench.nativeModes.join(', ')}; results in ${bench.outDir}\n`,
  );
  const out: BenchOutput = await runBench({ ...bench, log: (line) => process.stderr.write(`  ${line}\n`) });
  if (json) {
    const { series: _series, ...rest } = out;
    const targets = rest.targets ? { ...rest.targets, results: undefined } : undefined;
    process.stdout.write(`${JSON.stringify({ ...rest, targets }, null, 2)}\n`);
  } else {
    if (out.rows.length > 0) process.stdout.write(`\n${resultsMarkdown(out.rows)}`);
    if (out.targets) process.stdout.write(`\n## Targets\n\n${targetsMarkdown(out.targets)}`);
    if (out.realClient) process.stdout.write(`\n## Real client\n\n${realClientMarkdown(out.realClient)}`);
    if (out.realClientVerdict && !out.targets) {
      const v = out.realClientVerdict;
      process.stdout.write(`\n${v.target}: ${passText(v.pass)}; goal ${v.goal}; measured ${v.measured}\n`);
    }
    process.stdout.write(
      `\nwrote ${out.files.length} files:\n${out.files.map((f) => `  ${f}`).join('\n')}\n`,
    );
  }
  if (out.realClientError) {
    process.stderr.write(`bgsnap-bench: the real-client comparison failed: ${out.realClientError}\n`);
    return EXIT.failed;
  }
  return EXIT.ok;
}

/** Declares the options of `bgsnap-bench` on `program`; `run` maps the action's outcome to an exit code. */
export function defineBenchCommand(
  program: Command,
  run: (fn: () => Promise<number>) => Promise<void>,
): Command {
  return program
    .description(
      'The bgsnap benchmark harness. Give one or more actions: --matrix (every limiter policy × sink stall profile on the ' +
        'simulator and the native backend, plain, copy-on-fault and in-thread: a results table and plots), --targets (the ' +
        'app-level targets (a)-(d), side by side in one run), --real-client (redis-benchmark against Redis and the example ' +
        'kv-server; target (e)), or --from (redraw an earlier run). Without an action it prints this help and exits 2.',
    )
    .option('--matrix', 'run the policy × profile matrix (about an hour natively with the defaults)')
    .option('--backends <list>', 'matrix backends: sim,native', 'sim,native')
    .option(
      '--modes <list>',
      'native modes of the matrix, the targets and the real client: plain,copy-on-fault,in-thread (in-thread is skipped, with the reason, where the kernel lacks it)',
      NATIVE_MODES.join(','),
    )
    .option('--sim-modes <list>', 'simulator modes: plain,copy-on-fault', 'plain')
    .option(
      '--policies <list>',
      `policies (repeatable; items separated by , or ;): all | ${BENCH_POLICIES.map((p) => p.name).join(',')} | ` +
        'name=<limiter spec> | name=<path of your policy module>[:key=value,...] (default: all)',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .option(
      '--profiles <list>',
      'sink profiles: none | periodic:<stall>/<period> | slow:<rate>',
      DEFAULT_PROFILES.join(','),
    )
    .option('--sim-size <size>', 'simulated memory (1MiB..1TiB)', '16GiB')
    .option('--native-size <size>', 'native tracked memory (1MiB..4GiB)', '1GiB')
    .option('--writers <n>', 'writer threads / simulated CPUs (1..16)', '2')
    .option('--rate <n>', 'stores per second per writer, e.g. 20k (0 = unpaced)', '20k')
    .option('--seed <n>', 'seed of contents, writers and simulation', '1')
    .option(
      '--native-sink <kind>',
      'real sink under the stall schedule in the matrix: discard | file (the targets use file)',
      'discard',
    )
    .option('--no-quiesce', 'do not park native writers around write-protection')
    .option(
      '--targets',
      'measure the app-level targets (a)-(d) in this run (native; with --real-client also (e))',
    )
    .option('--no-matrix', 'no matrix (the default unless --matrix is given; kept for older command lines)')
    .option(
      '--real-client',
      'redis-benchmark SETs against Redis (BGSAVE) and the example kv-server (bgsnap BGSAVE per --modes), each against its own baseline; target (e). Needs redis-benchmark (Redis >= 7) and the built example',
    )
    .option(
      '--client-requests <n>',
      'real client: first baseline requests (redis-benchmark -n), the most sent during a save',
      '200000',
    )
    .option('--client-connections <n>', 'real client: redis-benchmark -c', '50')
    .option('--client-pipeline <n>', 'real client: redis-benchmark -P', '1')
    .option(
      '--value-bytes <size>',
      'real client: SET value size (redis-benchmark -d); keys = --native-size / this',
      '4096',
    )
    .option(
      '--client-limiters <list>',
      "real client: bgsnap limiter specs, one save each ('default': bgsnap's default policy)",
      'default',
    )
    .option(
      '--client-inside <fraction>',
      "real client: during-save requests = baseline rate × a first save's duration × this, (0, 1]",
      '0.5',
    )
    .option(
      '--copy-buffer-pages <n>',
      'in-thread runs: copy buffer pages (default: 2 × the faults the writers take during one --target-stall stall, a power of two, at least 1024)',
    )
    .option(
      '--target-reps <n>',
      'runs of each (b)/(c) case and passes of (a) (at least 5); medians are compared (1..20)',
      '3',
    )
    .option('--target-stall <profile>', 'sink profile of target (c)', 'periodic:50ms/250ms')
    .option('--floor-faults <n>', 'faults the C floor program takes per variant', '20000')
    .option(
      '--floor-source <path>',
      'uffd-floor.c to compile (default: the native package bench/, else ../shared/tools/)',
    )
    .option(
      '--probe-seconds <s>',
      'target (b): seconds to keep every CPU busy and record how long the machine stops threads (0 = skip; 0..600)',
      '10',
    )
    .option(
      '--redis <auto|none|path>',
      'target (d) and the real client: measure Redis BGSAVE with this redis-server (auto: the one on PATH; none: quote the reference, and no Redis rows in the real client)',
      'auto',
    )
    .option('--batch-pages <n>', "pages per linear-scan step, 1..65536 (default: the save loop's default)")
    .option('--no-plots', 'skip the SVG/PNG plots')
    .option(
      '--from <results.json>',
      "redraw the tables and plots of an earlier run's results.json into --out (no measuring)",
    )
    .option('--out <dir>', 'output folder', 'bench-results')
    .option('--json', 'print the results (without plot series) as JSON on stdout')
    .addHelpText(
      'after',
      '\nExamples:\n  bgsnap-bench --matrix --backends sim --sim-size 64GiB\n  bgsnap-bench --targets\n  bgsnap-bench --real-client\n  bgsnap-bench --targets --real-client\n  bgsnap-bench --matrix --policies qemu,latency --profiles periodic:50ms/250ms --backends native\n  bgsnap-bench --matrix --policies qemu --policies mine=./my-policy.mjs --backends sim' +
        '\n\nExit codes: 0 ok; 1 a run failed (or userfaultfd is missing and nothing else was asked); 2 bad input or usage (nothing measured).',
    )
    .action((raw: RawBenchOptions, command: Command) =>
      run(async () => {
        const options = await parseBenchOptions(raw);
        if (options.noAction) {
          command.outputHelp({ error: true });
          process.stderr.write(
            '\nbgsnap-bench: nothing to do: give --matrix, --targets, --real-client or --from\n',
          );
          return EXIT.usage;
        }
        return runBenchCommand(options);
      }),
    );
}
