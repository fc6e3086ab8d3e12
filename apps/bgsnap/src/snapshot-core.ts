import type { FaultSource } from '@bgsnap/fault-source';
import type { LimiterPolicy } from '@bgsnap/rate-limiter';
import { createSnapshotWriter, type Sink, type SnapshotCompression } from '@bgsnap/stream-writer';
import { snapshotCrc32 } from './checksum.js';
import { SnapshotAbortedError } from './errors.js';
import { buildReport, type SnapshotReport } from './report/report.js';
import { runSaveLoop } from './save-loop/save-loop.js';
import type { SaveLoopOptions, SnapshotProgress } from './save-loop/types.js';

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
}

function abortError(signal: AbortSignal): SnapshotAbortedError {
  return signal.reason instanceof SnapshotAbortedError
    ? signal.reason
    : new SnapshotAbortedError(signal.reason);
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(signal));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/**
 * One snapshot with every part live on the calling thread: write-protect (inside `quiesce`), run the
 * save loop, finish the stream, stop the source. On abort or any error the source is stopped (every
 * page released, writers resumed) and the writer aborted (nothing under the final name); an abort
 * rejects with {@link SnapshotAbortedError}, any other failure with the original error.
 */
export async function snapshotOnThisThread(options: CoreSnapshotOptions): Promise<SnapshotReport> {
  const { source, sink, limiter, signal } = options;
  const clock = source.clock;
  let forwardSinkWrites = false;
  const writer = createSnapshotWriter({
    regions: source.regions,
    sink,
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
      await options.quiesce.pause();
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
    const summary = await raceAbort(writer.finish(), signal);
    const finishedNs = clock.now();
    await source.stop();
    return buildReport({
      backend: options.backend,
      mode: source.capabilities.copiesOnFault ? 'copy-on-fault' : 'plain',
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
    if (signal?.aborted) throw error instanceof SnapshotAbortedError ? error : abortError(signal);
    throw error;
  }
}
