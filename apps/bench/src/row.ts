import type { SnapshotReport } from 'bgsnap';
import { type LatencyHistogram, type LatencySummary, summarizeLatency } from 'bgsnap';
import type { NativeMode } from './modes.js';
import type { CdfPoint, ThroughputSample } from './series.js';

/** One measured benchmark run: a row of the results table. Times in ns, sizes in bytes. */
export interface BenchRow {
  /** Unique id, e.g. `uffd-plain-periodic-latency`. */
  id: string;
  /** `sim` (virtual time) or `uffd` (native, real time). */
  backend: 'sim' | 'uffd';
  mode: NativeMode;
  /** Preset name of the policy and the limiter spec it stands for. */
  policy: string;
  spec: string;
  /** The policy's own description (`SnapshotReport.limiter`). */
  limiter: string;
  /** Stall profile label and key. */
  profile: string;
  profileKey: string;
  /** Sink under the stall schedule: `sim`, `file` or `discard`. */
  sink: string;
  sizeBytes: number;
  writers: number;
  ratePerWriter: number;
  durationNs: number;
  protectNs: number;
  throughputBytesPerSec: number;
  pages: { total: number; faulted: number; scanned: number; zero: number };
  /** Write-fault latency as the writers saw it (sim: each blocked writer's own wait, ground truth). */
  writer: LatencySummary;
  /** The QEMU patch's measure, the upper bound, and the backend's true fault latency. */
  sinceFetch: LatencySummary;
  upperBound: LatencySummary;
  true: LatencySummary | undefined;
  /** Longest single write any writer suffered during the snapshot (fault or not). */
  longestWriterStallNs: number;
  /** Writes slower than 5 ms. */
  writesOver5ms: number;
  /** Limiter-requested waits of the save loop. */
  throttledNs: number;
  /** The save loop waiting for the sink (drain). */
  sinkStalledNs: number;
  /** Delay the stall schedule injected into sink writes (native) or the simulated device stalled (sim). */
  injectedStallNs: number;
  /** Native with quiesce: how long the writers were parked around write-protection. */
  quiescePauseNs?: number | undefined;
  /** Extra backend figures. */
  extra?: Record<string, number | string | boolean> | undefined;
}

/** Per-row data for plots (kept out of the table). */
export interface BenchSeries {
  id: string;
  cdf: CdfPoint[];
  throughput: ThroughputSample[];
}

/** A row with its plot data. */
export interface BenchResult {
  row: BenchRow;
  series: BenchSeries;
}

/** What a runner adds to a report to make a row. */
export interface RowInput {
  id: string;
  backend: 'sim' | 'uffd';
  policy: string;
  spec: string;
  profile: string;
  profileKey: string;
  sink: string;
  writers: number;
  ratePerWriter: number;
  writerLatency: LatencyHistogram;
  longestWriterStallNs: number;
  writesOver5ms: number;
  injectedStallNs: number;
  quiescePauseNs?: number | undefined;
  extra?: Record<string, number | string | boolean> | undefined;
}

/** Builds a row from a snapshot report and what the runner measured around it. */
export function toRow(report: SnapshotReport, input: RowInput): BenchRow {
  return {
    id: input.id,
    backend: input.backend,
    mode: report.mode,
    policy: input.policy,
    spec: input.spec,
    limiter: report.limiter,
    profile: input.profile,
    profileKey: input.profileKey,
    sink: input.sink,
    sizeBytes: report.bytes.total,
    writers: input.writers,
    ratePerWriter: input.ratePerWriter,
    durationNs: report.durationNs,
    protectNs: report.protectNs,
    throughputBytesPerSec: report.throughputBytesPerSec,
    pages: {
      total: report.pages.total,
      faulted: report.pages.faulted,
      scanned: report.pages.scanned,
      zero: report.pages.zero,
    },
    writer: summarizeLatency(input.writerLatency),
    sinceFetch: report.latency.sinceFetch,
    upperBound: report.latency.upperBound,
    true: report.latency.true,
    longestWriterStallNs: input.longestWriterStallNs,
    writesOver5ms: input.writesOver5ms,
    throttledNs: report.throttledNs,
    sinkStalledNs: report.sinkStalledNs,
    injectedStallNs: input.injectedStallNs,
    quiescePauseNs: input.quiescePauseNs,
    extra: input.extra,
  };
}
