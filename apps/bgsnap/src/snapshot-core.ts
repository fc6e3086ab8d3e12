import type { FaultSource } from '@bgsnap/fault-source';
import type { LimiterPolicy } from '@bgsnap/rate-limiter';
import { createSnapshotWriter, type Sink, type SnapshotCompression, zstdReady } from '@bgsnap/stream-writer';
import { snapshotCrc32 } from './checksum.js';
import { QuiesceTimeoutError, SnapshotAbortedError } from './errors.js';
import { buildReport, type SnapshotMode, type SnapshotReport } from './report/report.js';
import { runSaveLoop } from './save-loop/save-loop.js';
import type { SaveLoopOptions, SnapshotProgress } from './save-loop/types.js';
import { type FaultedPages, recordFaultedPages } from './workload/writer-faults.js';

/**
 * Pauses and resumes the application's writers around write-protection, so the image is a strict
 * point in time (a backend that protects in chunks would otherwise see writes between chunks).
 */
export interface Quiesce {
  /** Stop every writer of the tracked memory; resolve when none is mid-write. */
  pause(): void | Promise<void>;
  /** Let the writers continue. */
  resume(): void | Promise<void>;
}

/**
 * Scan step while no writer has faulted for 5 ms: 2 MiB of 4 KiB pages, one release block. With the
 * 64-page default step a 1 GiB snapshot without writers ran at 0.50x memcpy, with 512 at 0.70x.
 */
const DEFAULT_QUIET_BATCH_PAGES = 512;

/** Tuning shared by both threads' paths. */
export interface SnapshotTuning {
  /** Stream compression (default none). */
  compression?: SnapshotCompression | undefined;
  /** Most pages per scan step (default 64). */
  batchPages?: number | undefined;
  /** Most pages per scan step while no fault has come for 5 ms (default 512; `batchPages` or less turns it off; see {@link SaveLoopOptions}). */
  quietBatchPages?: number | undefined;
  /** Plain mode: scanned pages are released in blocks of this alignment, bytes (default 2 MiB; 0 = per run; see {@link SaveLoopOptions}). */
  releaseAlignBytes?: number | undefined;
  /** Size of sink writes in bytes (stream writer default ~1 MiB). */
  batchBytes?: number | undefined;
  /** Buffered bytes above which the loop awaits drain (stream writer default ~8 MiB). */
  highWaterMark?: number | undefined;
  /** Minimum clock time between progress events, ns (default 100 ms). */
  progressIntervalNs?: number | undefined;
  /** Keep servicing faults while waiting for the sink to drain (see {@link SaveLoopOptions}). Default false. */
  serveFaultsWhileDraining?: boolean | undefined;
}

/** Everything {@link snapshotOnThisThread} needs: live objects, all on the calling thread. */
export interface CoreSnapshotOptions extends SnapshotTuning {
  source: FaultSource;
  sink: Sink;
  limiter: LimiterPolicy;
  backend: string;
  output: string;
  thread: 'worker' | 'current';
  signal?: AbortSignal | undefined;
  onProgress?: ((progress: SnapshotProgress) => void) | undefined;
  quiesce?: Quiesce | undefined;
  /** Longest wait for `quiesce.pause()`, ms (default {@link DEFAULT_QUIESCE_TIMEOUT_MS}). */
  quiesceTimeoutMs?: number | undefined;
  /**
   * Runs after the last page is written and before the sink is closed (for a file: fsync and rename).
   * Throwing, or an abort that has arrived by the time it returns, discards the output. Once it has
   * returned the snapshot commits: a later abort no longer cancels it.
   */
  beforeCommit?: (() => void | Promise<void>) | undefined;
  /** The mode for the report (default: from `source.capabilities.copiesOnFault`). */
  mode?: SnapshotMode | undefined;
  /** Marks the page of every fault event here (see `recordFaultedPages`). */
  faultedPages?: FaultedPages | undefined;
}

/** Default deadline of `quiesce.pause()`: a pause that never settles must not hang the snapshot. */
export const DEFAULT_QUIESCE_TIMEOUT_MS = 30_000;

function abortError(signal: AbortSignal): SnapshotAbortedError {
  return signal.reason instanceof SnapshotAbortedError
    ? signal.reason
    : new SnapshotAbortedError(signal.reason);
}

/**
 * Waits for the application's `quiesce.pause()`, but no longer than the abort signal or `timeoutMs`.
 * A pause that settles after we gave up is answered with `resume()`: its writers are not left paused.
 */
function pauseWithin(quiesce: Quiesce, signal: AbortSignal | undefined, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let done = false;
    const settle = (fn: () => void): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = (): void => settle(() => reject(abortError(signal!)));
    const timer = setTimeout(() => settle(() => reject(new QuiesceTimeoutError(timeoutMs))), timeoutMs);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    Promise.resolve()
      .then(() => quiesce.pause())
      .then(
        () => {
          if (done)
            void Promise.resolve()
              .then(() => quiesce.resume())
              .catch(() => {});
          else settle(resolve);
        },
        (error: unknown) => settle(() => reject(error)),
      );
  });
}

/** A sink wrapped by {@link gateSink}, with what its gate saw. */
interface GatedSink {
  readonly sink: Sink;
  /** Whether the real `close()` (the commit) has started. */
  committed(): boolean;
  /** What `beforeCommit` threw, unwrapped from the writer's SinkError. */
  readonly hookFailure: { error?: unknown };
}

/**
 * The sink as the writer sees it: once the snapshot is aborted no further byte goes out, and `close()`
 * (fsync, rename: the commit) starts only after `beforeCommit` succeeded and no abort has arrived.
 */
function gateSink(
  sink: Sink,
  signal: AbortSignal | undefined,
  beforeCommit: (() => void | Promise<void>) | undefined,
): GatedSink {
  let committed = false;
  const hookFailure: { error?: unknown } = {};
  return {
    committed: () => committed,
    hookFailure,
    sink: {
      write(chunk) {
        if (signal?.aborted) return Promise.reject(abortError(signal));
        return sink.write(chunk);
      },
      async close() {
        try {
          await beforeCommit?.();
        } catch (error) {
          hookFailure.error = error;
          throw error;
        }
        if (signal?.aborted) throw abortError(signal);
        committed = true;
        return sink.close();
      },
      abort(reason) {
        return sink.abort(reason);
      },
    },
  };
}

/**
 * One snapshot with every part live on the calling thread: write-protect (inside `quiesce`), run the
 * save loop, finish the stream, stop the source. On abort or any error the source is stopped (every
 * page released, writers resumed) and the writer aborted (nothing under the final name); an abort
 * rejects with {@link SnapshotAbortedError}, any other failure with the original error.
 */
export async function snapshotOnThisThread(options: CoreSnapshotOptions): Promise<SnapshotReport> {
  const { sink, limiter, signal } = options;
  const source = options.faultedPages
    ? recordFaultedPages(options.source, options.faultedPages)
    : options.source;
  const clock = source.clock;
  let forwardSinkWrites = false;
  // zstd's WebAssembly module loads on demand; the writer compresses synchronously, so load it first.
  if ((options.compression ?? 'none') !== 'none') await zstdReady();
  const gate = gateSink(sink, signal, options.beforeCommit);
  const writer = createSnapshotWriter({
    regions: source.regions,
    sink: gate.sink,
    clock,
    compression: options.compression ?? 'none',
    ...(options.batchBytes === undefined ? {} : { batchBytes: options.batchBytes }),
    ...(options.highWaterMark === undefined ? {} : { highWaterMark: options.highWaterMark }),
    writerId: 'bgsnap',
    ...snapshotCrc32(),
    onSinkWrite: (bytes, blockedNs, now) => {
      // The header may be written before the loop has started the policy.
      if (forwardSinkWrites) limiter.onSinkWrite(now, bytes, blockedNs);
    },
  });
  const startedAtWall = new Date();
  try {
    if (signal?.aborted) throw abortError(signal);
    let protectStartNs: number;
    let protectEndNs: number;
    // Without quiesce the loop serves faults while the backend is still protecting (in chunks).
    let starting: Promise<void> | undefined;
    if (options.quiesce) {
      await pauseWithin(options.quiesce, signal, options.quiesceTimeoutMs ?? DEFAULT_QUIESCE_TIMEOUT_MS);
      try {
        protectStartNs = clock.now();
        await source.start();
        protectEndNs = clock.now();
      } finally {
        await options.quiesce.resume();
      }
    } else {
      protectStartNs = clock.now();
      protectEndNs = protectStartNs;
      starting = source.start().then(() => {
        protectEndNs = clock.now();
      });
      starting.catch(() => {}); // awaited through the loop
    }
    forwardSinkWrites = true;
    const loop = await runSaveLoop({
      starting,
      source,
      limiter,
      writer,
      signal,
      onProgress: options.onProgress,
      batchPages: options.batchPages,
      quietBatchPages: options.quietBatchPages ?? DEFAULT_QUIET_BATCH_PAGES,
      releaseAlignBytes: options.releaseAlignBytes,
      progressIntervalNs: options.progressIntervalNs,
      serveFaultsWhileDraining: options.serveFaultsWhileDraining,
      startedAt: protectStartNs,
    });
    // Not raced with the signal: the gate decides, before the rename, whether the abort still wins.
    const summary = await writer.finish();
    const finishedNs = clock.now();
    await source.stop();
    return buildReport({
      backend: options.backend,
      mode: options.mode ?? (source.capabilities.copiesOnFault ? 'copy-on-fault' : 'plain'),
      limiter: limiter.name,
      output: options.output,
      thread: options.thread,
      startedAtWall,
      protectStartNs,
      protectEndNs,
      finishedNs,
      loop,
      zeroPages: summary.zeroPages,
      streamBytes: summary.streamBytes,
      sinkBlockedNs: summary.sinkBlockedNs,
      knowsFaultTime: source.capabilities.knowsFaultTime,
    });
  } catch (error) {
    // Release the writers first: they may be blocked on pages the loop will never save now.
    await source.stop().catch(() => {});
    await writer.abort(error).catch(() => {});
    if ('error' in gate.hookFailure) throw gate.hookFailure.error;
    // An abort wins only before the commit; after it the output exists and the failure is the truth.
    if (signal?.aborted && !gate.committed())
      throw error instanceof SnapshotAbortedError ? error : abortError(signal);
    throw error;
  }
}
