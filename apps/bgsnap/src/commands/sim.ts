import {
  createSimFaultSource,
  createSimSink,
  createSnapshotChecker,
  parseSinkProfile,
  type SimFaultSource,
  type SimSinkOptions,
  type SimWorkload,
} from '@bgsnap/fault-source-sim';
import { fileSink, readSnapshot, type Sink } from '@bgsnap/stream-writer';
import type { Command } from 'commander';
import { BadInputError } from '../errors.js';
import { resolveLimiter } from '../limiter-spec.js';
import { formatReport } from '../report/format-report.js';
import { createLatencyHistogram, recordLatency } from '../save-loop/latency-histogram.js';
import { snapshot } from '../snapshot.js';
import { commitVerified, stageWithInterrupt } from './output-target.js';
import {
  createProgressDisplay,
  EXIT,
  parseChoice,
  parseInteger,
  parsePerSecond,
  parseSize,
} from './shared.js';
import {
  addSnapshotOptions,
  checkUniqueKeys,
  parseSnapshotOptions,
  type RawSnapshotOptions,
  type SnapshotCliOptions,
} from './snapshot-options.js';

const SIM_PATTERNS = ['uniform', 'hot', 'sequential', 'zipf', 'idle'] as const;
type SimPattern = (typeof SIM_PATTERNS)[number];

interface RawSimOptions extends RawSnapshotOptions {
  size: string;
  cpus: string;
  rate: string;
  pattern: string;
  seed: string;
  sinkProfile: string;
  keep?: boolean;
}

/** Options of `bgsnap sim`, validated. */
export interface SimCommandOptions extends SnapshotCliOptions {
  size: number;
  cpus: number;
  rate: number;
  pattern: SimPattern | 'uniform' | 'hot' | 'sequential';
  seed: number;
  /** Parsed simulated-sink options, or `'none'`. */
  sinkProfile: SimSinkOptions | 'none';
  sinkProfileText: string;
  keep: boolean;
}

/**
 * Parses `--sink-profile`: `none`, `periodic:50ms/250ms` (a 50 ms stall every 250 ms), `slow:100MB/s`
 * (bandwidth), `random:20ms/1s` (mean stall / mean gap), or the simulator's own
 * `bandwidth=…,latency=…,stall=…` form; several shorthands may be joined with `+`.
 */
export function parseSinkProfileOption(text: string): SimSinkOptions | 'none' {
  if (text.trim() === '' || text.trim() === 'none') return 'none';
  const items = text.split('+').map((part) => {
    const p = part.trim();
    if (p.startsWith('periodic:')) return `stall=${p.slice('periodic:'.length)}`;
    if (p.startsWith('slow:')) return `bandwidth=${/\/s$/.test(p) ? p.slice(5) : `${p.slice(5)}/s`}`;
    if (p.startsWith('random:')) return `stall=${p}`;
    return p;
  });
  checkUniqueKeys('--sink-profile', items);
  try {
    return parseSinkProfile(items.join(','));
  } catch (error) {
    throw new BadInputError(
      '--sink-profile',
      `${(error as Error).message.replace(/\n\s*/g, '; ')} (shorthands: none, periodic:50ms/250ms, slow:100MB/s, random:20ms/1s)`,
    );
  }
}

/** Validates every option before anything is written. */
export function parseSimOptions(raw: RawSimOptions): SimCommandOptions {
  return {
    ...parseSnapshotOptions(raw),
    size: parseSize('--size', raw.size, 4096, 2 ** 44, 4096),
    cpus: parseInteger('--cpus', raw.cpus, 0, 1024),
    rate: parsePerSecond('--rate', raw.rate, 1e9),
    pattern: parseChoice('--pattern', raw.pattern, SIM_PATTERNS),
    seed: parseInteger('--seed', raw.seed, 0, 2 ** 31 - 1),
    sinkProfile: parseSinkProfileOption(raw.sinkProfile),
    sinkProfileText: raw.sinkProfile,
    keep: raw.keep === true,
  };
}

function workloadOf(pattern: SimCommandOptions['pattern']): SimWorkload {
  return pattern === 'hot' ? { kind: 'hot-set' } : { kind: pattern };
}

/** Real-file bytes the tee may hold in memory before it makes the simulated writer wait for the disk. */
const TEE_MAX_PENDING_BYTES = 256 * 2 ** 20;

/**
 * A sink that is the simulated device (virtual time) and also writes the stream to a real file. The
 * file write runs behind the simulated one, on a copy, so real disk time does not leak into virtual
 * time (a loop waiting for faults meanwhile would advance it) unless the disk falls far behind.
 */
function teeSink(simulated: Sink, file: Sink): Sink {
  let chain: Promise<void> = Promise.resolve();
  let pending = 0;
  let failure: unknown;
  return {
    async write(chunk) {
      if (failure !== undefined) throw failure;
      await simulated.write(chunk);
      const copy = new Uint8Array(chunk); // a copy: Buffer#slice would be a view of a reused batch
      pending += copy.length;
      chain = chain.then(() =>
        file.write(copy).then(
          () => {
            pending -= copy.length;
          },
          (error: unknown) => {
            failure ??= error;
          },
        ),
      );
      if (pending > TEE_MAX_PENDING_BYTES) await chain;
      if (failure !== undefined) throw failure;
    },
    async close() {
      await simulated.close();
      await chain;
      if (failure !== undefined) throw failure;
      await file.close();
    },
    async abort(reason) {
      await Promise.allSettled([simulated.abort(reason), chain.then(() => file.abort(reason))]);
    },
  };
}

/** Checks a saved stream page by page against the simulator's oracle. */
async function checkAgainstOracle(path: string, sim: SimFaultSource) {
  const checker = createSnapshotChecker(sim);
  try {
    for await (const event of readSnapshot(path)) {
      if (event.type !== 'pages') continue;
      const ps = sim.regions[event.region]!.pageSize;
      for (let i = 0; i < event.count; i++) {
        checker.check(
          event.region,
          event.first + i,
          event.data ? event.data.subarray(i * ps, (i + 1) * ps) : null,
        );
      }
    }
  } catch (error) {
    return { ok: false, mismatchedPages: 0, detail: (error as Error).message };
  }
  const r = checker.result();
  const detail = r.ok
    ? undefined
    : `${r.mismatchCount} mismatched, ${r.missingCount} missing, ${r.duplicateCount} duplicated page(s)`;
  return { ok: r.ok, mismatchedPages: r.mismatchCount + r.missingCount, detail };
}

/** `bgsnap sim`: a snapshot of simulated memory in virtual time, verified against the oracle. */
export async function runSimCommand(options: SimCommandOptions): Promise<number> {
  await resolveLimiter(options.limiter);
  const writerLatency = createLatencyHistogram();
  const sim = createSimFaultSource(
    {
      regions: [{ name: 'memory', pageCount: options.size / 4096, pageSize: 4096 }],
      cpus: Array.from({ length: options.cpus }, () => ({
        rate: options.rate,
        workload: workloadOf(options.pattern),
      })),
      mode: options.mode,
      seed: options.seed,
      recordFaults: false,
    },
    { onFaultResolved: (f) => recordLatency(writerLatency, f.latencyNs) },
  );
  const { interrupt, staged } = stageWithInterrupt(options.out, 'sim.bgsnap');
  const out = staged.target;
  const progress = createProgressDisplay({ quiet: options.quiet });
  try {
    const simulated = createSimSink(sim, options.sinkProfile === 'none' ? {} : options.sinkProfile);
    const report = await snapshot({
      source: sim,
      backendName: 'sim',
      to: teeSink(simulated, fileSink(staged.path)),
      limiter: await resolveLimiter(options.limiter),
      compression: options.compression,
      batchPages: options.batchPages,
      quietBatchPages: options.quietBatchPages,
      serveFaultsWhileDraining: options.serveFaultsWhileDraining,
      signal: interrupt.signal,
      onProgress: (p) => progress.update(p),
      writerLatency: () => writerLatency,
    });
    progress.stop();
    report.output = `sim-sink(${options.sinkProfileText}) + file:${out}`;
    const check = await checkAgainstOracle(staged.path, sim);
    report.verification = {
      ok: check.ok,
      method: "page by page against the simulator's oracle",
      mismatchedPages: check.mismatchedPages,
      ...(check.detail ? { detail: check.detail } : {}),
    };
    await commitVerified(staged, interrupt, {
      verified: check.ok,
      keepTemporary: options.out === undefined && options.keep,
    });
    const stats = sim.stats;
    const simulation = {
      cpus: options.cpus,
      ratePerCpu: options.rate,
      pattern: options.pattern,
      sinkProfile: options.sinkProfileText,
      writes: stats.writes,
      faults: stats.faults,
      cpuStallNs: stats.cpuStallNs,
      virtualNs: stats.now,
    };
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ ...report, histograms: undefined, simulation }, null, 2)}\n`);
    } else {
      process.stdout.write(`${formatReport(report)}\n`);
      process.stdout.write(
        `  simulation    ${options.cpus} virtual CPU(s), ${options.pattern}, ${options.rate} writes/s each; ${stats.writes} writes, ${stats.faults} faults (times are virtual)\n`,
      );
      if (check.ok && (options.out !== undefined || options.keep))
        process.stdout.write(`  snapshot kept at ${out}\n`);
    }
    return check.ok ? EXIT.ok : EXIT.failed;
  } finally {
    progress.stop();
    interrupt.dispose();
    staged.discard();
  }
}

/** Registers `bgsnap sim`. */
export function registerSim(program: Command, run: (fn: () => Promise<number>) => Promise<void>): void {
  const cmd = program
    .command('sim')
    .description(
      "Snapshot simulated memory of any size in virtual time (virtual CPUs writing, a simulated sink with stalls), and check the saved stream page by page against the simulator's oracle.",
    )
    .option('--size <size>', 'simulated memory size (4KiB..16TiB, page multiple)', '1GiB')
    .option('--cpus <n>', 'virtual CPUs writing (0..1024)', '2')
    .option('--rate <n>', 'writes per second of virtual time per CPU, e.g. 20000 or 20k', '20k')
    .option('--pattern <name>', `access pattern: ${SIM_PATTERNS.join(' | ')}`, 'uniform')
    .option('--seed <n>', 'simulation seed', '1')
    .option(
      '--sink-profile <profile>',
      'simulated sink: none | periodic:50ms/250ms | slow:100MB/s | random:20ms/1s | bandwidth=…,latency=…,stall=… (join shorthands with +)',
      'none',
    )
    .option('--keep', 'keep the default temporary snapshot file (an explicit --out is always kept)');
  addSnapshotOptions(cmd);
  cmd.action((raw: RawSimOptions) => run(() => runSimCommand(parseSimOptions(raw))));
}
