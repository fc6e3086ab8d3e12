import {
  decodeHistogram,
  encodeHistogram,
  type LatencyHistogram,
  type LatencySummary,
  summarizeLatency,
} from '../save-loop/latency-histogram.js';
import type { SaveLoopResult } from '../save-loop/types.js';

/** Latency summaries by measure; see {@link SnapshotReport.latency}. */
export interface LatencyReport {
  /** As the application's writers measured their own writes (only when the workload reports them). */
  writer?: LatencySummary;
  /**
   * As the writers measured them, only the stores that took a write fault (a writer's first store to a
   * page that a fault event named): the figure comparable with a C program's fault round trip.
   */
  writerFaults?: LatencySummary;
  /** The QEMU patch's measure: from when the save loop fetched the fault event to the page's release. */
  sinceFetch: LatencySummary;
  /** Upper bound: from the last time the loop found the fault queue empty to the page's release. */
  upperBound: LatencySummary;
  /** The writer's real wait (fault raised → released), where the backend knows the fault time. */
  true?: LatencySummary;
}

/**
 * The outcome of one snapshot: JSON-serialisable (`JSON.stringify(report)`); {@link formatReport}
 * renders it for people. Times are nanoseconds, sizes bytes.
 */
export interface SnapshotReport {
  /** Report layout version. */
  reportVersion: 1;
  /** Fault-source backend, e.g. `uffd` or `sim`. */
  backend: string;
  /**
   * `plain` (the loop saves a faulted page, then releases it), `copy-on-fault` (a fault thread copies
   * and releases it) or `in-thread` (the faulting thread copies and releases it itself).
   */
  mode: SnapshotMode;
  /** The limiter policy's name. */
  limiter: string;
  /** Where the stream went, e.g. `file:/tmp/state.bgsnap`. */
  output: string;
  /** Thread the save loop ran on. */
  thread: 'worker' | 'current';
  /** Wall-clock time the snapshot started (ISO 8601). */
  startedAt: string;
  /** From the start of write-protection to the sink's close. */
  durationNs: number;
  /** Time `source.start()` took (write-protecting every page; writers paused when `quiesce` was given). */
  protectNs: number;
  /** Time the save loop ran (first to last page). */
  saveNs: number;
  /** Time spent closing the stream (trailer, fsync, rename). */
  finishNs: number;
  /** Page counts. */
  pages: {
    total: number;
    faulted: number;
    scanned: number;
    zero: number;
    /** Fault events for pages already saved (late or duplicate), skipped. */
    duplicateFaults: number;
    /**
     * Faults on pages the scan had saved but not yet released (released in aligned blocks): served by
     * releasing that page at once. They are in the latency histograms, not in `faulted`.
     */
    faultsOnPendingRelease: number;
  };
  /** Byte counts: memory saved (`total`, `faulted`, `scanned`) and stream bytes written (`stream`). */
  bytes: { total: number; faulted: number; scanned: number; stream: number };
  /** Memory bytes saved per second of {@link SnapshotReport.durationNs}. */
  throughputBytesPerSec: number;
  /** Time the loop spent in limiter-requested waits. */
  throttledNs: number;
  /** Time the loop spent awaiting the writer's drain (sink backpressure). */
  sinkStalledNs: number;
  /** Total time sink writes were pending, as the writer measured it (overlaps with the loop's work). */
  sinkBlockedNs: number;
  /** Write-fault latency by measure. */
  latency: LatencyReport;
  /** HdrHistogram V2 compressed base64 encodings of the same distributions, for plots (CDFs). */
  histograms: {
    writer?: string;
    writerFaults?: string;
    sinceFetch: string;
    upperBound: string;
    true?: string;
  };
  /** Remarks on how the snapshot was taken, e.g. a mode fallback (`bgsnap run` sets them). */
  notes?: string[];
  /**
   * The native backend's counters at the end (`UffdStats`: e.g. `slotWaits`, times a writer waited
   * for a free copy slot; in-thread `servedInThread`, `scanOwnedWaits`, `faultOwnedWaits`, `reserveUsed`).
   */
  backendStats?: Readonly<Record<string, number>>;
  /** Set by callers that verified the output (the CLI does). */
  verification?: { ok: boolean; method: string; mismatchedPages: number; detail?: string };
}

/** How write faults were served; see {@link SnapshotReport.mode}. */
export type SnapshotMode = 'plain' | 'copy-on-fault' | 'in-thread';

/** What {@link buildReport} needs besides the save loop's result. */
export interface ReportInput {
  backend: string;
  mode: SnapshotMode;
  limiter: string;
  output: string;
  thread: 'worker' | 'current';
  startedAtWall: Date;
  /** Clock times: before `start()`, after `start()`, after the sink closed. */
  protectStartNs: number;
  protectEndNs: number;
  finishedNs: number;
  loop: SaveLoopResult;
  zeroPages: number;
  streamBytes: number;
  sinkBlockedNs: number;
  knowsFaultTime: boolean;
  writerLatency?: LatencyHistogram | undefined;
}

/** Assembles a {@link SnapshotReport}. */
export function buildReport(input: ReportInput): SnapshotReport {
  const { loop } = input;
  const durationNs = input.finishedNs - input.protectStartNs;
  const latency: LatencyReport = {
    sinceFetch: summarizeLatency(loop.latency.sinceFetch),
    upperBound: summarizeLatency(loop.latency.upperBound),
  };
  const histograms: SnapshotReport['histograms'] = {
    sinceFetch: encodeHistogram(loop.latency.sinceFetch),
    upperBound: encodeHistogram(loop.latency.upperBound),
  };
  if (input.knowsFaultTime) {
    latency.true = summarizeLatency(loop.latency.true);
    histograms.true = encodeHistogram(loop.latency.true);
  }
  if (input.writerLatency) {
    latency.writer = summarizeLatency(input.writerLatency);
    histograms.writer = encodeHistogram(input.writerLatency);
  }
  return {
    reportVersion: 1,
    backend: input.backend,
    mode: input.mode,
    limiter: input.limiter,
    output: input.output,
    thread: input.thread,
    startedAt: input.startedAtWall.toISOString(),
    durationNs,
    protectNs: input.protectEndNs - input.protectStartNs,
    saveNs: loop.endedAt - loop.startedAt,
    finishNs: input.finishedNs - loop.endedAt,
    pages: {
      total: loop.totalPages,
      faulted: loop.pagesFaulted,
      scanned: loop.pagesScanned,
      zero: input.zeroPages,
      duplicateFaults: loop.duplicateFaults,
      faultsOnPendingRelease: loop.faultsOnPendingRelease,
    },
    bytes: {
      total: loop.totalBytes,
      faulted: loop.bytesFaulted,
      scanned: loop.bytesScanned,
      stream: input.streamBytes,
    },
    throughputBytesPerSec: durationNs > 0 ? (loop.totalBytes * 1e9) / durationNs : 0,
    throttledNs: loop.throttledNs,
    sinkStalledNs: loop.drainStalledNs,
    sinkBlockedNs: input.sinkBlockedNs,
    latency,
    histograms,
  };
}

/** Decodes one of {@link SnapshotReport.histograms} back into a histogram (e.g. to plot a CDF). */
export function reportHistogram(
  report: SnapshotReport,
  measure: keyof SnapshotReport['histograms'],
): LatencyHistogram | undefined {
  const encoded = report.histograms[measure];
  return encoded === undefined ? undefined : decodeHistogram(encoded);
}
