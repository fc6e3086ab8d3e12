import hdr from 'hdr-histogram-js';

/** An HDR histogram of latencies in nanoseconds (the `hdr-histogram-js` type). */
export type LatencyHistogram = hdr.Histogram;

/** Highest latency a histogram tracks: one hour in ns; larger values are clamped to it. */
export const MAX_TRACKED_NS = 3_600_000_000_000;

/**
 * A new latency histogram: 1 ns to one hour, 3 significant digits (0.1 % value error), 32-bit counts.
 */
export function createLatencyHistogram(): LatencyHistogram {
  return hdr.build({
    bitBucketSize: 32,
    lowestDiscernibleValue: 1,
    highestTrackableValue: MAX_TRACKED_NS,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

/** Records one latency, clamping to the tracked range so a wild clock value cannot throw on the hot path. */
export function recordLatency(histogram: LatencyHistogram, ns: number): void {
  const v = ns < 1 ? 1 : ns > MAX_TRACKED_NS ? MAX_TRACKED_NS : Math.round(ns);
  histogram.recordValue(v);
}

/** Percentiles of one latency distribution, all in nanoseconds. */
export interface LatencySummary {
  /** Number of recorded latencies. */
  count: number;
  /** Mean. */
  mean: number;
  /** Median. */
  p50: number;
  /** 90th percentile. */
  p90: number;
  /** 99th percentile. */
  p99: number;
  /** 99.9th percentile. */
  p999: number;
  /** Largest recorded value. */
  max: number;
}

/** Summarises a histogram (all zeros when it is empty). */
export function summarizeLatency(histogram: LatencyHistogram): LatencySummary {
  const count = histogram.totalCount;
  if (count === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
  const max = histogram.maxValue;
  // HDR reports a bucket's highest equivalent value (up to 0.1 % above what was recorded at 3
  // significant digits); no recorded value exceeds the max, so neither may a percentile.
  const at = (p: number): number => Math.min(histogram.getValueAtPercentile(p), max);
  return {
    count,
    mean: Math.round(histogram.mean),
    p50: at(50),
    p90: at(90),
    p99: at(99),
    p999: at(99.9),
    max,
  };
}

/** Serialises a histogram to compressed base64 (HdrHistogram's portable V2 encoding), e.g. to cross a thread. */
export function encodeHistogram(histogram: LatencyHistogram): string {
  return hdr.encodeIntoCompressedBase64(histogram);
}

/** The inverse of {@link encodeHistogram}. */
export function decodeHistogram(encoded: string): LatencyHistogram {
  return hdr.decodeFromCompressedBase64(encoded, 32, false);
}
