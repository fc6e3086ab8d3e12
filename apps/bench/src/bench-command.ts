import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  BadInputError,
  checkOutputPath,
  EXIT,
  parseChoice,
  parseInteger,
  parsePerSecond,
  parseSize,
} from 'bgsnap';
import type { Command } from 'commander';
import { fmtSize } from './format.js';
import { BENCH_POLICIES, parsePolicies } from './policies.js';
import { findRedisServer, isExecutableFile } from './redis-bgsave.js';
import { type BenchOptions, type BenchOutput, replotBench, runBench } from './run-bench.js';
import { DEFAULT_PROFILES, parseStallProfile } from './stall-profile.js';
import { resultsMarkdown } from './table.js';
import { targetsMarkdown } from './targets.js';

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
  matrix: boolean;
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

const MODES = ['plain', 'copy-on-fault'] as const;

function parseList<T extends string>(option: string, text: string, choices: readonly T[]): T[] {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) throw new BadInputError(option, `must list one or more of ${choices.join(', ')}`);
  return [...new Set(items.map((s) => parseChoice(option, s, choices)))];
}

/** The validated options of `bgsnap-bench`. */
export type BenchCommandOptions = Omit<BenchOptions, 'log'> & { json: boolean; from: string | undefined };

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
  const backends = raw.matrix ? parseList('--backends', raw.backends, ['sim', 'native'] as const) : [];
  if (!raw.matrix && !targets) throw new BadInputError('--no-matrix', 'nothing to run: add --targets');
  return {
    outDir: resolve(raw.out),
    backends,
    nativeModes: parseList('--modes', raw.modes, MODES),
    simModes: parseList('--sim-modes', raw.simModes, MODES),
    policies: await parsePolicies(raw.policies ?? []),
    profiles: raw.profiles.split(',').map((p) => parseStallProfile(p, '--profiles')),
    simSizeBytes: parseSize('--sim-size', raw.simSize, 2 ** 20, 2 ** 40, 4096),
    nativeSizeBytes: parseSize('--native-size', raw.nativeSize, 2 ** 20, 4 * 2 ** 30, 2 ** 20),
    writers: parseInteger('--writers', raw.writers, 1, 16),
    ratePerWriter: parsePerSecond('--rate', raw.rate, 1e7),
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
    json: raw.json === true,
    from: raw.from === undefined ? undefined : checkJsonInput(raw.from),
  };
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
    checkOutputPath('--out', dir); // the parent must exist and accept new entries
    try {
      mkdirSync(dir, { recursive: true });
    } catch (error) {
      throw new BadInputError(
        '--out',
        `cannot create ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
  }
  checkOutputPath('--out', join(dir, 'results.json'));
}

/** `bgsnap-bench`: every policy × sink stall profile on both backends, tables and plots; optionally the targets. */
export async function runBenchCommand(options: BenchCommandOptions): Promise<number> {
  const { json, from, ...bench } = options;
  if (from !== undefined) {
    prepareOutDir(bench.outDir);
    const files = await replotBench(from, bench.outDir);
    process.stdout.write(
      `redrew ${files.length} files from ${from}:\n${files.map((f) => `  ${f}`).join('\n')}\n`,
    );
    return EXIT.ok;
  }
  const wantsNative = bench.backends.includes('native') || bench.targets;
  if (wantsNative) {
    const uffd = await import('@bgsnap/fault-source-uffd').catch((e: unknown) => e as Error);
    const support = uffd instanceof Error ? { available: false as const, error: uffd } : uffd.probeUffd();
    if (!support.available) {
      process.stderr.write(
        `bgsnap-bench: userfaultfd write-protect is not available here (${support.error.message}); running the simulator only\n`,
      );
      bench.backends = bench.backends.filter((b) => b !== 'native');
      bench.targets = false;
      if (bench.backends.length === 0) return EXIT.failed;
    }
  }
  prepareOutDir(bench.outDir);
  process.stderr.write(
    `bgsnap-bench: ${bench.policies.length} policies × ${bench.profiles.length} profiles on ${bench.backends.join(' + ') || 'no matrix'}` +
      ` (sim ${fmtSize(bench.simSizeBytes)}, native ${fmtSize(bench.nativeSizeBytes)}, ${bench.writers} writers)` +
      `${bench.targets ? ', plus the app-level targets' : ''}; results in ${bench.outDir}\n`,
  );
  const out: BenchOutput = await runBench({ ...bench, log: (line) => process.stderr.write(`  ${line}\n`) });
  if (json) {
    const { series: _series, ...rest } = out;
    const targets = rest.targets ? { ...rest.targets, results: undefined } : undefined;
    process.stdout.write(`${JSON.stringify({ ...rest, targets }, null, 2)}\n`);
  } else {
    if (out.rows.length > 0) process.stdout.write(`\n${resultsMarkdown(out.rows)}`);
    if (out.targets) process.stdout.write(`\n## Targets\n\n${targetsMarkdown(out.targets)}`);
    process.stdout.write(
      `\nwrote ${out.files.length} files:\n${out.files.map((f) => `  ${f}`).join('\n')}\n`,
    );
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
      'Benchmark every limiter policy × sink stall profile on the simulator and the native backend (plain and copy-on-fault): ' +
        'a results table (markdown + JSON) and plots (write-fault latency CDF per policy, throughput over time) as SVG and PNG. ' +
        'With --targets, also measure the app-level targets side by side in the same run.',
    )
    .option('--backends <list>', 'matrix backends: sim,native', 'sim,native')
    .option('--modes <list>', 'native modes: plain,copy-on-fault', 'plain,copy-on-fault')
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
    .option('--targets', 'also measure the app-level targets (a)-(d) in this run (native)')
    .option('--no-matrix', 'skip the policy × profile matrix (with --targets)')
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
      'target (d): measure Redis BGSAVE of the same size with this redis-server (auto: the one on PATH; none: quote the reference)',
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
      '\nExamples:\n  bgsnap-bench --backends sim --sim-size 64GiB\n  bgsnap-bench --targets --no-matrix\n  bgsnap-bench --policies qemu,latency --profiles periodic:50ms/250ms --backends native\n  bgsnap-bench --policies qemu --policies mine=./my-policy.mjs --backends sim' +
        '\n\nExit codes: 0 ok; 1 a run failed (or userfaultfd is missing and nothing else was asked); 2 bad input or usage (nothing measured).',
    )
    .action((raw: RawBenchOptions) => run(async () => runBenchCommand(await parseBenchOptions(raw))));
}
