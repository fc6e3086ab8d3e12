import type { FaultSource } from '@bgsnap/fault-source';
import type { TrackedMemory, UffdMode } from '@bgsnap/fault-source-uffd';
import type { LimiterPolicy } from '@bgsnap/rate-limiter';
import { BadInputError } from './errors.js';
import { DEFAULT_LIMITER, type LimiterSpec, resolveLimiter } from './limiter-spec.js';
import type { SnapshotMode, SnapshotReport } from './report/report.js';
import { encodeHistogram, type LatencyHistogram, summarizeLatency } from './save-loop/latency-histogram.js';
import type { SnapshotProgress } from './save-loop/types.js';
import { describeTarget, isLiveSink, openSink, type SnapshotTarget, toSinkSpec } from './sink-spec.js';
import { type Quiesce, type SnapshotTuning, snapshotOnThisThread } from './snapshot-core.js';
import { runSnapshotInWorker } from './snapshot-in-worker.js';

/** The modes {@link SnapshotOptions.mode} takes. */
export const SNAPSHOT_MODES: readonly SnapshotMode[] = ['plain', 'copy-on-fault', 'in-thread'];

/** Native tracked memory to snapshot: one region, or several named ones. */
export type SnapshotMemory = TrackedMemory | readonly { name: string; memory: TrackedMemory }[];

/** Options of {@link snapshot}. Give exactly one of `source` and `memory`. */
export interface SnapshotOptions extends SnapshotTuning {
  /** Any FaultSource (e.g. the simulator, or your own), not yet started. The loop runs on the current thread. */
  source?: FaultSource;
  /**
   * Native tracked memory (`@bgsnap/fault-source-uffd`). The save loop then runs in a worker thread by
   * default, which attaches to the memory through its handle, so every thread of yours — the main
   * thread included — may keep writing.
   */
  memory?: SnapshotMemory;
  /**
   * With `memory`: `plain` (default; QEMU's design), `copy-on-fault` or `in-thread` (the faulting
   * thread saves its own page in a SIGBUS handler; the kernel's own writes into tracked memory, such as
   * `fs.readSync()` into a tracked buffer, then fail with EFAULT — see the README's modes).
   */
  mode?: UffdMode;
  /** With `memory`: bytes write-protected per call during start (the backend's default otherwise). */
  protectChunkBytes?: number;
  /**
   * Where the stream goes: a file path (written under a temporary name, renamed when complete), a
   * {@link SinkSpec} (`{kind: 'file'|'fd'|'tcp'|'discard', ...}`), or a live `Sink` — the last only with
   * `thread: 'current'`, because a live object cannot move to the worker.
   */
  to: SnapshotTarget;
  /**
   * The rate-limiting policy: a policy object (current thread only) or a spec — a built-in name with
   * options (`threshold`, `token-bucket:bytesPerSecond=100MiB/s,burstBytes=4MiB`, ...) or the path of a
   * module exporting one. Default: `threshold`, the port of the QEMU patch's `limit_scan_rate`.
   */
  limiter?: LimiterPolicy | LimiterSpec;
  /** Cancels the snapshot: memory released, writers resumed, no output kept, {@link SnapshotAbortedError}. */
  signal?: AbortSignal;
  /** Called with progress, at most every `progressIntervalNs` (default 100 ms) and once at the end. */
  onProgress?: (progress: SnapshotProgress) => void;
  /** Pauses your writers around write-protection so the image is a strict point in time. */
  quiesce?: Quiesce;
  /**
   * Longest wait for `quiesce.pause()`, ms (default 30 s). Past it, or on abort, the snapshot rejects
   * (`QuiesceTimeoutError` / `SnapshotAbortedError`) and a pause that settles later gets its `resume()`.
   */
  quiesceTimeoutMs?: number;
  /**
   * Where the save loop runs. `worker` (default with `memory`) or `current` (required with `source`, a
   * live `Sink` or a policy object). With native memory in plain mode, `current` is only safe when this
   * thread never writes the tracked memory while the snapshot runs — see the README's deadlock rule.
   */
  thread?: 'worker' | 'current';
  /**
   * Write latencies as your writers measured them, collected after the save loop ends and before the
   * output is committed (e.g. from your writer threads); they appear in the report as
   * `latency.writer`. If it throws, the snapshot rejects with that error and no output is kept.
   */
  writerLatency?: () => LatencyHistogram | undefined | Promise<LatencyHistogram | undefined>;
  /**
   * The same, only the stores that took a write fault (e.g. matched with `faultedPages` by
   * `matchWriterFaults`); called after `writerLatency`, reported as `latency.writerFaults`.
   */
  writerFaultLatency?: () => LatencyHistogram | undefined | Promise<LatencyHistogram | undefined>;
  /**
   * Per-region maps from `createFaultedPages` (shared memory, so they work with the worker thread):
   * the save loop marks the page of every fault event it takes, for matching your writers' stores.
   */
  faultedPages?: Uint8Array[];
  /** Backend name for the report when `source` is given (default `custom`, or `sim`/`uffd` by class). */
  backendName?: string;
}

function regionsOf(memory: SnapshotMemory): { name: string; memory: TrackedMemory }[] {
  if (Array.isArray(memory)) return [...(memory as { name: string; memory: TrackedMemory }[])];
  return [{ name: 'memory', memory: memory as TrackedMemory }];
}

function liveOnly(what: string): BadInputError {
  return new BadInputError(
    'thread',
    `${what} is a live object and cannot move to the save loop's worker thread; pass a path or spec instead, ` +
      "or set thread: 'current' (then no thread that writes the tracked memory may host the save loop or the sink)",
  );
}

/**
 * Takes a point-in-time snapshot of memory while its owner keeps writing, QEMU background-snapshot style:
 * write-protect everything, save faulted pages first, scan the rest in page order under the limiter's
 * control, stream everything to `to`, and return a {@link SnapshotReport}.
 *
 * @example
 * ```ts
 * import { TrackedMemory } from '@bgsnap/fault-source-uffd';
 * import { snapshot, formatReport } from 'bgsnap';
 * const memory = TrackedMemory.allocate(256 * 2 ** 20);
 * const report = await snapshot({ memory, to: 'state.bgsnap', limiter: 'latency-target' });
 * console.log(formatReport(report));
 * ```
 * @throws BadInputError for inconsistent options; SnapshotAbortedError when `signal` aborts; otherwise
 * the original error of whatever failed (the source is stopped and the output discarded first).
 */
export async function snapshot(options: SnapshotOptions): Promise<SnapshotReport> {
  const { source, memory } = options;
  if ((source === undefined) === (memory === undefined)) {
    throw new BadInputError(
      'source/memory',
      'give exactly one of `source` (a FaultSource) and `memory` (TrackedMemory)',
    );
  }
  if (options.to === undefined)
    throw new BadInputError('to', 'an output (path, sink spec or Sink) is required');
  const thread = options.thread ?? (memory ? 'worker' : 'current');
  if (thread !== 'worker' && thread !== 'current') {
    throw new BadInputError('thread', `must be 'worker' or 'current', got ${JSON.stringify(thread)}`);
  }
  const quiesceTimeoutMs = options.quiesceTimeoutMs;
  if (quiesceTimeoutMs !== undefined && !(Number.isFinite(quiesceTimeoutMs) && quiesceTimeoutMs > 0)) {
    throw new BadInputError(
      'quiesceTimeoutMs',
      `must be a positive number of ms, got ${String(quiesceTimeoutMs)}`,
    );
  }
  if (options.mode !== undefined && !(SNAPSHOT_MODES as readonly unknown[]).includes(options.mode)) {
    throw new BadInputError(
      'mode',
      `must be one of ${SNAPSHOT_MODES.join(', ')}, got ${JSON.stringify(options.mode)}`,
    );
  }
  const output = describeTarget(options.to);
  // Collected before the commit, so a throwing callback discards the output instead of leaving it.
  let writerHistogram: LatencyHistogram | undefined;
  let writerFaultHistogram: LatencyHistogram | undefined;
  const { writerLatency: getWriterLatency, writerFaultLatency: getWriterFaultLatency } = options;
  const beforeCommit =
    getWriterLatency || getWriterFaultLatency
      ? async (): Promise<void> => {
          writerHistogram = await getWriterLatency?.();
          writerFaultHistogram = await getWriterFaultLatency?.();
        }
      : undefined;
  let report: SnapshotReport;
  let faultSourceStats: (() => object) | undefined;
  if (thread === 'worker') {
    if (!memory) throw liveOnly('`source`');
    if (isLiveSink(options.to)) throw liveOnly('the Sink given as `to`');
    if (options.limiter !== undefined && typeof options.limiter !== 'string')
      throw liveOnly('the limiter policy');
    report = await runSnapshotInWorker({
      regions: regionsOf(memory).map((r) => ({ name: r.name, handle: r.memory.handle })),
      mode: options.mode ?? 'plain',
      faultedPages: options.faultedPages,
      protectChunkBytes: options.protectChunkBytes,
      sink: toSinkSpec(options.to),
      limiter: options.limiter ?? DEFAULT_LIMITER,
      cwd: process.cwd(),
      output,
      tuning: {
        compression: options.compression,
        batchPages: options.batchPages,
        quietBatchPages: options.quietBatchPages,
        releaseAlignBytes: options.releaseAlignBytes,
        batchBytes: options.batchBytes,
        highWaterMark: options.highWaterMark,
        progressIntervalNs: options.progressIntervalNs,
        serveFaultsWhileDraining: options.serveFaultsWhileDraining,
      },
      signal: options.signal,
      onProgress: options.onProgress,
      quiesce: options.quiesce,
      quiesceTimeoutMs,
      beforeCommit,
    });
  } else {
    const limiter =
      typeof options.limiter === 'object' ? options.limiter : await resolveLimiter(options.limiter);
    let faultSource: FaultSource;
    let backend: string;
    if (source) {
      faultSource = source;
      backend = options.backendName ?? source.constructor?.name ?? 'custom';
    } else {
      const uffd = await import('@bgsnap/fault-source-uffd');
      const native = new uffd.UffdFaultSource({
        regions: regionsOf(memory!),
        mode: options.mode ?? 'plain',
        ...(options.protectChunkBytes === undefined ? {} : { protectChunkBytes: options.protectChunkBytes }),
      });
      faultSource = native;
      faultSourceStats = () => native.stats();
      backend = 'uffd';
    }
    const sink = isLiveSink(options.to) ? options.to : openSink(toSinkSpec(options.to));
    report = await snapshotOnThisThread({
      source: faultSource,
      sink,
      limiter,
      backend,
      ...(memory ? { mode: options.mode ?? 'plain' } : {}),
      faultedPages: options.faultedPages,
      output,
      thread: 'current',
      signal: options.signal,
      onProgress: options.onProgress,
      quiesce: options.quiesce,
      quiesceTimeoutMs,
      beforeCommit,
      compression: options.compression,
      batchPages: options.batchPages,
      quietBatchPages: options.quietBatchPages,
      releaseAlignBytes: options.releaseAlignBytes,
      batchBytes: options.batchBytes,
      highWaterMark: options.highWaterMark,
      progressIntervalNs: options.progressIntervalNs,
      serveFaultsWhileDraining: options.serveFaultsWhileDraining,
    });
  }
  if (faultSourceStats) report.backendStats = { ...faultSourceStats() };
  if (writerHistogram && writerHistogram.totalCount > 0) {
    report.latency.writer = summarizeLatency(writerHistogram);
    report.histograms.writer = encodeHistogram(writerHistogram);
  }
  if (writerFaultHistogram && writerFaultHistogram.totalCount > 0) {
    report.latency.writerFaults = summarizeLatency(writerFaultHistogram);
    report.histograms.writerFaults = encodeHistogram(writerFaultHistogram);
  }
  return report;
}
