import type { FaultSource } from '@bgsnap/fault-source';
import type { LimiterPolicy } from '@bgsnap/rate-limiter';
import type { LatencyHistogram } from './latency-histogram.js';

/**
 * The part of `@bgsnap/stream-writer`'s `SnapshotWriter` the save loop uses. Structural, so tests and
 * users can pass their own.
 */
export interface PageWriter {
  /** Copies pages `[first, first + data.length / pageSize)` of `region` synchronously; never blocks. */
  writePages(region: number, first: number, data: Uint8Array): void;
  /** Buffered bytes are at or above the high-water mark: the loop awaits {@link PageWriter.drain}. */
  readonly needsDrain: boolean;
  /** Resolves when the buffer is below the low-water mark; rejects with the sink's error. */
  drain(): Promise<void>;
  /**
   * Optional running totals; when present, `onScan` reports encoded bytes (`bytesEncoded` delta: zero
   * pages cost no data), which is what the sink will see, instead of raw page bytes.
   */
  readonly stats?: { readonly bytesEncoded: number; readonly bufferedBytes?: number };
}

/** A progress event: how far the snapshot has got. Emitted at most every `progressIntervalNs` and at the end. */
export interface SnapshotProgress {
  /** Clock time (ns) of this event. */
  now: number;
  /** Clock time since the save loop started (ns). */
  elapsedNs: number;
  /** Pages in all tracked regions. */
  totalPages: number;
  /** Pages saved so far (faulted + scanned). */
  savedPages: number;
  /** Pages saved from write faults so far. */
  pagesFaulted: number;
  /** Pages saved by the linear scan so far. */
  pagesScanned: number;
  /** Bytes of memory saved so far (pages × page size, before encoding). */
  savedBytes: number;
  /** Bytes of memory in all tracked regions. */
  totalBytes: number;
}

/** Options of {@link runSaveLoop}. */
export interface SaveLoopOptions {
  /** A started fault source (state `tracking`). The loop neither starts nor stops it. */
  source: FaultSource;
  /** The limiter; the loop calls its `start()` first. */
  limiter: LimiterPolicy;
  /** Where saved pages go. */
  writer: PageWriter;
  /** Cancels the loop with a {@link SnapshotAbortedError}; the caller cleans up. */
  signal?: AbortSignal | undefined;
  /** Most pages per scan step (one claim → read → write → release per contiguous run). Default 64. */
  batchPages?: number | undefined;
  /**
   * Most pages per scan step while no fault has been served for 5 ms (and from the start until the
   * first fault). Default `batchPages` (no change of step); `snapshot()` uses 512, 2 MiB of 4 KiB
   * pages. A step has a fixed cost, so long steps scan faster; a writer that faults waits for the step
   * in progress, so the loop goes back to `batchPages` as soon as faults come. Where the source copies
   * on fault (`capabilities.copiesOnFault`) no writer waits for a step, so every step is this long.
   */
  quietBatchPages?: number | undefined;
  /**
   * Copy-on-fault sources: bytes of faulted pages the loop holds until the scan reaches them and
   * writes them within its runs, instead of one record per faulted page. Default 64 MiB, allocated as
   * faults come; 0 writes
   * every faulted page at once.
   */
  stagedFaultBytes?: number | undefined;
  /**
   * Plain mode: scanned pages stay protected until the scan reaches the next multiple of this many
   * bytes of their region (or a fault or a drain needs them released), then go in one release. Default
   * 2 MiB, the x86-64 huge page: a release that covers part of a transparent huge page splits it, and
   * each release is an ioctl and a TLB flush, so scan runs of `batchPages` released one by one cost
   * more than the copy. 0 releases each scan run at once. Copy-on-fault sources always release at once,
   * because they do not report faults on claimed pages.
   */
  releaseAlignBytes?: number | undefined;
  /** Progress callback. */
  onProgress?: ((progress: SnapshotProgress) => void) | undefined;
  /** Minimum clock time between progress events, ns. Default 100 ms. */
  progressIntervalNs?: number | undefined;
  /**
   * Clock time at which the snapshot started: the limiter's `startedAt`, and the first "queue last
   * seen empty" time for the upper-bound measure (nothing can have faulted before protection began).
   * Default: now.
   */
  startedAt?: number | undefined;
  /**
   * The pending `source.start()`, when the loop is started before protection completes (writers not
   * paused): until it settles the loop only services faults, so a writer that hits an already protected
   * chunk waits for its page, not for the whole protect pass. A rejection is rethrown.
   */
  starting?: Promise<unknown> | undefined;
  /**
   * Keep servicing write faults while awaiting `writer.drain()` (default false, as QEMU: a stalled sink
   * stalls fault service). `writePages` never blocks, so faulted pages can still be copied into the
   * writer's buffer past its high-water mark while the sink is stuck; plain-mode writers then no longer
   * wait for the sink. The buffer grows by the pages faulted during the stall, up to
   * `maxBufferedWhileDrainingBytes` when the writer exposes `stats.bufferedBytes`.
   */
  serveFaultsWhileDraining?: boolean | undefined;
  /** Cap on the writer's buffered bytes while servicing faults during a drain. Default 64 MiB. */
  maxBufferedWhileDrainingBytes?: number | undefined;
  /**
   * Copy-on-fault only: when the scan is done and pages owned by the fault path have not arrived for this
   * long (ns), the loop fails instead of waiting forever. Default 30 s.
   */
  missingPagesTimeoutNs?: number | undefined;
}

/** What the save loop did. Times are clock ns. */
export interface SaveLoopResult {
  /** Clock time the loop started. */
  startedAt: number;
  /** Clock time the last page was saved. */
  endedAt: number;
  /** Pages in all regions. */
  totalPages: number;
  /** Bytes in all regions. */
  totalBytes: number;
  /** Pages saved from write-fault events. */
  pagesFaulted: number;
  /** Pages saved by the linear scan. */
  pagesScanned: number;
  /** Bytes saved from write faults (before encoding). */
  bytesFaulted: number;
  /** Bytes saved by the scan (before encoding). */
  bytesScanned: number;
  /** Fault events naming a page that was already saved (late or duplicate events), skipped. */
  duplicateFaults: number;
  /**
   * Faults on pages the scan had saved but not yet released (see `releaseAlignBytes`); each released
   * its page at once (alone). Counted in the latency histograms, not in `pagesFaulted`.
   */
  faultsOnPendingRelease: number;
  /** Release calls for scanned pages. */
  scanReleases: number;
  /** Copy-on-fault: scan claims that returned 0 because the fault path owned the page. */
  claimsLost: number;
  /** Time spent in limiter-requested waits (`waitForFaults(decision.waitNs)`). */
  throttledNs: number;
  /** Time spent awaiting `writer.drain()` (backpressure from the sink). */
  drainStalledNs: number;
  /** Scan steps taken. */
  scanSteps: number;
  /** Fault latencies per serviced fault, by measure. `true` is empty when the backend does not know fault times. */
  latency: {
    sinceFetch: LatencyHistogram;
    upperBound: LatencyHistogram;
    true: LatencyHistogram;
  };
}
