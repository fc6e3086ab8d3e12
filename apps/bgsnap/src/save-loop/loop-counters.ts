import { createLatencyHistogram } from './latency-histogram.js';
import type { SaveLoopResult, SnapshotProgress } from './types.js';

/**
 * What the save loop has done so far: the counts and latency histograms that become its
 * {@link SaveLoopResult}, the pages still to save, and when a page was last saved. Plain fields, so the
 * fault path and the scan bump them without calls.
 */
export class LoopCounters {
  /** Pages not saved yet; the loop ends at 0. */
  remaining: number;
  pagesFaulted = 0;
  pagesScanned = 0;
  bytesFaulted = 0;
  bytesScanned = 0;
  duplicateFaults = 0;
  faultsOnPendingRelease = 0;
  scanReleases = 0;
  claimsLost = 0;
  throttledNs = 0;
  drainStalledNs = 0;
  scanSteps = 0;
  /** Clock time a page (faulted or scanned) was last saved; copy-on-fault's missing-pages timeout. */
  lastSavedAt: number;
  readonly sinceFetch = createLatencyHistogram();
  readonly upperBound = createLatencyHistogram();
  readonly trueLatency = createLatencyHistogram();

  constructor(
    readonly totalPages: number,
    readonly totalBytes: number,
    readonly startedAt: number,
  ) {
    this.remaining = totalPages;
    this.lastSavedAt = startedAt;
  }

  /** A progress event as of `now`. */
  progress(now: number): SnapshotProgress {
    return {
      now,
      elapsedNs: now - this.startedAt,
      totalPages: this.totalPages,
      savedPages: this.totalPages - this.remaining,
      pagesFaulted: this.pagesFaulted,
      pagesScanned: this.pagesScanned,
      savedBytes: this.bytesFaulted + this.bytesScanned,
      totalBytes: this.totalBytes,
    };
  }

  /** The loop's result, ended at `endedAt`. */
  result(endedAt: number): SaveLoopResult {
    return {
      startedAt: this.startedAt,
      endedAt,
      totalPages: this.totalPages,
      totalBytes: this.totalBytes,
      pagesFaulted: this.pagesFaulted,
      pagesScanned: this.pagesScanned,
      bytesFaulted: this.bytesFaulted,
      bytesScanned: this.bytesScanned,
      duplicateFaults: this.duplicateFaults,
      faultsOnPendingRelease: this.faultsOnPendingRelease,
      scanReleases: this.scanReleases,
      claimsLost: this.claimsLost,
      throttledNs: this.throttledNs,
      drainStalledNs: this.drainStalledNs,
      scanSteps: this.scanSteps,
      latency: { sinceFetch: this.sinceFetch, upperBound: this.upperBound, true: this.trueLatency },
    };
  }
}
