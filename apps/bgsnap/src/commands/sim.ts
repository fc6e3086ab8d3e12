import { statfsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
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
import { BadInputError, SnapshotAbortedError } from '../errors.js';
import { resolveLimiter } from '../limiter-spec.js';
import { formatReport } from '../report/format-report.js';
import { buildReport, type SnapshotMode, type SnapshotReport } from '../report/report.js';
import {
  createLatencyHistogram,
  type LatencyHistogram,
  recordLatency,
} from '../save-loop/latency-histogram.js';
import { runSaveLoop } from '../save-loop/save-loop.js';
import type { SnapshotProgress } from '../save-loop/types.js';
import { snapshot } from '../snapshot.js';
import { interruptSignal } from './interrupt.js';
import { commitVerified, type StagedOutput, stageWithInterrupt } from './output-target.js';
import {
  createProgressDisplay,
  EXIT,
  parseChoice,
  parseInteger,
  parsePerSecond,
  parseSize,
} from './shared.js';
import { CheckedStream } from './sim-checked-stream.js';
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
}

/** The modes the simulator models. */
export type SimMode = 'plain' | 'copy-on-fault';

/**
 * The simulator models plain and copy-on-fault; in-thread mode (a SIGBUS handler in the writing
 * thread) has no model there, so it is refused (exit 2) rather than silently run as something else.
 */
export function toSimMode(mode: SnapshotMode | undefined, fallback: SimMode): SimMode {
  if (mode === 'in-thread') {
    throw new BadInputError(
      '--mode',
      'in-thread is not modelled by the simulator (it models plain and copy-on-fault); in-thread needs the native backend (userfaultfd with UFFD_FEATURE_SIGBUS)',
    );
  }
  return mode ?? fallback;
}

/** Options of `bgsnap sim`, validated. */
export interface SimCommandOptions extends Omit<SnapshotCliOptions, 'mode'> {
  mode: SimMode;
  size: number;
  cpus: number;
  rate: number;
  pattern: SimPattern | 'uniform' | 'hot' | 'sequential';
  seed: number;
  /** Parsed simulated-sink options, or `'none'`. */
  sinkProfile: SimSinkOptions | 'none';
  sinkProfileText: string;
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
    if (p.startsWith('slow:')) return `bandwidth=${p.slice('slow:'.length)}`;
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
  const snapshotOptions = parseSnapshotOptions(raw);
  if (snapshotOptions.out === undefined && snapshotOptions.compression !== 'none') {
    throw new BadInputError(
      '--compression',
      'applies to a real stream only: without --out nothing is encoded (pages are checked as they are saved); add --out FILE',
    );
  }
  return {
    ...snapshotOptions,
    mode: toSimMode(snapshotOptions.mode, 'plain'),
    size: parseSize('--size', raw.size, 4096, 2 ** 44, 4096),
    cpus: parseInteger('--cpus', raw.cpus, 0, 1024),
    rate: parsePerSecond('--rate', raw.rate, 1e9),
    pattern: parseChoice('--pattern', raw.pattern, SIM_PATTERNS),
    seed: parseInteger('--seed', raw.seed, 0, 2 ** 31 - 1),
    sinkProfile: parseSinkProfileOption(raw.sinkProfile),
    sinkProfileText: raw.sinkProfile,
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

/** Scan step while no fault has come for 5 ms, as `snapshot()` uses: 2 MiB of 4 KiB pages. */
const DEFAULT_QUIET_BATCH_PAGES = 512;

/** How a run went: the report (without verification) and the oracle's verdict. */
interface SimOutcome {
  report: SnapshotReport;
  check: { ok: boolean; mismatchedPages: number; detail?: string | undefined };
}

/** Free bytes of the file system holding `folder`, for an unprivileged writer. */
export type FreeSpace = (folder: string) => number;

const statfsFreeSpace: FreeSpace = (folder) => {
  const st = statfsSync(folder);
  return st.bavail * st.bsize;
};

/**
 * The stream size a simulation will need: its non-zero pages (the configured `initialFill` of them)
 * plus record overhead; with zstd a sixteenth of that, since a simulated page is a 16-byte header
 * and zeros. A projection, not a bound: the fill is a hash, so the real count varies a little.
 */
export function projectedStreamBytes(
  sim: SimFaultSource,
  compression: SimCommandOptions['compression'],
): number {
  let bytes = 1 << 20; // header, trailer, zero-page records and slack
  for (const r of sim.regions) bytes += Math.ceil(r.pageCount * sim.config.initialFill) * (r.pageSize + 24);
  return compression === 'none' ? bytes : Math.ceil(bytes / 16);
}

/**
 * Refuses (before anything is written) a stream that cannot fit where `out` goes.
 * @throws BadInputError naming `--out` when the free space is smaller than `projectedBytes`.
 */
export function checkFreeSpace(
  out: string,
  projectedBytes: number,
  freeSpace: FreeSpace = statfsFreeSpace,
): void {
  const folder = dirname(resolve(out));
  let free: number;
  try {
    free = freeSpace(folder);
  } catch (error) {
    throw new BadInputError('--out', `cannot check the free space of ${folder}: ${(error as Error).message}`);
  }
  if (free < projectedBytes) {
    throw new BadInputError(
      '--out',
      `the stream needs about ${formatGiB(projectedBytes)} but ${folder} has ${formatGiB(free)} free; ` +
        'pick another folder, a smaller --size, or leave out --out (the default checks every page without writing a file)',
    );
  }
}

function formatGiB(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(bytes < 2 ** 30 ? 3 : 1)} GiB`;
}

/**
 * The default run: the save loop writes into a {@link CheckedStream}, which checks every page against
 * the oracle as it is saved and feeds the simulated sink the stream's sizes; nothing is encoded or
 * written to disk.
 */
async function runChecked(
  options: SimCommandOptions,
  sim: SimFaultSource,
  signal: AbortSignal,
  onProgress: (p: SnapshotProgress) => void,
  writerLatency: LatencyHistogram,
): Promise<SimOutcome> {
  const limiter = await resolveLimiter(options.limiter);
  const checker = createSnapshotChecker(sim);
  let forwardSinkWrites = false;
  const stream = new CheckedStream({
    sim,
    checker,
    sink: createSimSink(sim, options.sinkProfile === 'none' ? {} : options.sinkProfile),
    onSinkWrite: (bytes, blockedNs, now) => {
      if (forwardSinkWrites) limiter.onSinkWrite(now, bytes, blockedNs);
    },
  });
  const clock = sim.clock;
  const startedAtWall = new Date();
  try {
    const protectStartNs = clock.now();
    await sim.start();
    const protectEndNs = clock.now();
    forwardSinkWrites = true;
    const loop = await runSaveLoop({
      source: sim,
      limiter,
      writer: stream,
      signal,
      onProgress,
      batchPages: options.batchPages,
      quietBatchPages: options.quietBatchPages ?? DEFAULT_QUIET_BATCH_PAGES,
      serveFaultsWhileDraining: options.serveFaultsWhileDraining,
      startedAt: protectStartNs,
    });
    const summary = await stream.finish();
    const finishedNs = clock.now();
    await sim.stop();
    const report = buildReport({
      backend: 'sim',
      mode: options.mode,
      limiter: limiter.name,
      output: `sim-sink(${options.sinkProfileText}), no file (every page checked as saved)`,
      thread: 'current',
      startedAtWall,
      protectStartNs,
      protectEndNs,
      finishedNs,
      loop,
      ...summary,
      knowsFaultTime: true,
      writerLatency: writerLatency.totalCount > 0 ? writerLatency : undefined,
    });
    const r = checker.result();
    const detail = r.ok ? undefined : checkDetail(r);
    return { report, check: { ok: r.ok, mismatchedPages: r.mismatchCount + r.missingCount, detail } };
  } catch (error) {
    // Release the writers first: they may be blocked on pages the loop will never save now.
    await sim.stop().catch(() => {});
    await stream.abort(error).catch(() => {});
    if (signal.aborted && !(error instanceof SnapshotAbortedError))
      throw new SnapshotAbortedError(signal.reason);
    throw error;
  }
}

function checkDetail(r: { mismatchCount: number; missingCount: number; duplicateCount: number }): string {
  return `${r.mismatchCount} mismatched, ${r.missingCount} missing, ${r.duplicateCount} duplicated page(s)`;
}

/** `--out FILE`: the full stream, encoded and written (after a free-space check), then read back and checked. */
async function runToFile(
  options: SimCommandOptions,
  staged: StagedOutput,
  sim: SimFaultSource,
  signal: AbortSignal,
  onProgress: (p: SnapshotProgress) => void,
  writerLatency: LatencyHistogram,
): Promise<SimOutcome> {
  checkFreeSpace(staged.target, projectedStreamBytes(sim, options.compression));
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
    signal,
    onProgress,
    writerLatency: () => writerLatency,
  });
  report.output = `sim-sink(${options.sinkProfileText}) + file:${staged.target}`;
  return { report, check: await checkAgainstOracle(staged.path, sim) };
}

/**
 * `bgsnap sim`: a snapshot of simulated memory in virtual time, verified against the oracle. The
 * report is printed, or handed to `present` instead (e.g. `bgsnap demo`'s table).
 */
export async function runSimCommand(
  options: SimCommandOptions,
  present?: (report: SnapshotReport) => void,
): Promise<number> {
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
  // Without --out nothing is written, so there is nothing to stage: only the signals to handle.
  const { interrupt, staged } =
    options.out === undefined
      ? { interrupt: interruptSignal(), staged: undefined }
      : stageWithInterrupt(options.out, 'sim.bgsnap');
  const progress = createProgressDisplay({ quiet: options.quiet });
  const onProgress = (p: SnapshotProgress): void => progress.update(p);
  try {
    const { report, check } =
      staged === undefined
        ? await runChecked(options, sim, interrupt.signal, onProgress, writerLatency)
        : await runToFile(options, staged, sim, interrupt.signal, onProgress, writerLatency);
    progress.stop();
    report.verification = {
      ok: check.ok,
      method:
        options.out === undefined
          ? "every page as saved, by identity (page, version) against the simulator's oracle"
          : "page by page against the simulator's oracle",
      mismatchedPages: check.mismatchedPages,
      ...(check.detail ? { detail: check.detail } : {}),
    };
    if (staged !== undefined)
      await commitVerified(staged, interrupt, { verified: check.ok, keepTemporary: false });
    // The simulator's writer figures are its fault waits only: every one is a faulting store.
    if (report.latency.writer) {
      report.latency.writerFaults = report.latency.writer;
      if (report.histograms.writer) report.histograms.writerFaults = report.histograms.writer;
    }
    if (present) present(report);
    else printSimReport(options, sim, report, check.ok ? staged?.target : undefined);
    return check.ok ? EXIT.ok : EXIT.failed;
  } finally {
    progress.stop();
    interrupt.dispose();
    staged?.discard();
  }
}

function printSimReport(
  options: SimCommandOptions,
  sim: SimFaultSource,
  report: SnapshotReport,
  kept: string | undefined,
): void {
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
    return;
  }
  process.stdout.write(`${formatReport(report)}\n`);
  process.stdout.write(
    `  simulation    ${options.cpus} virtual CPU(s), ${options.pattern}, ${options.rate} writes/s each; ${stats.writes} writes, ${stats.faults} faults (times are virtual)\n`,
  );
  if (kept !== undefined) process.stdout.write(`  snapshot kept at ${kept}\n`);
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
    );
  addSnapshotOptions(cmd, {
    help: 'plain | copy-on-fault (the simulator does not model in-thread)',
    default: 'plain',
  });
  const out = cmd.options.find((o) => o.long === '--out');
  if (out) {
    out.description =
      'write the snapshot stream to this file (after a free-space check) and check it read back; default: no file, every page checked as it is saved';
  }
  cmd.action((raw: RawSimOptions) => run(() => runSimCommand(parseSimOptions(raw))));
}
