import type { LatencyHistogram, SnapshotProgress } from 'bgsnap';

/** One point of a cumulative distribution: the fraction of samples at or below `latencyNs`. */
export interface CdfPoint {
  latencyNs: number;
  fraction: number;
}

/** Percentiles sampled for CDFs: dense in the body, then ever finer steps into the tail. */
const CDF_PERCENTILES: readonly number[] = (() => {
  const ps: number[] = [0];
  for (let p = 1; p <= 90; p += 1) ps.push(p);
  for (let p = 90.5; p <= 99; p += 0.5) ps.push(p);
  for (let p = 99.1; p <= 99.9; p += 0.1) ps.push(Math.round(p * 10) / 10);
  for (let p = 99.91; p <= 99.99; p += 0.01) ps.push(Math.round(p * 100) / 100);
  ps.push(99.995, 99.999, 100);
  return ps;
})();

/**
 * The CDF of a latency histogram, sampled at fixed percentiles (HDR precision: 0.1 %). Both
 * coordinates are non-decreasing; an empty histogram gives no points.
 */
export function cdfPoints(histogram: LatencyHistogram): CdfPoint[] {
  if (histogram.totalCount === 0) return [];
  const points: CdfPoint[] = [];
  let last = -1;
  const max = histogram.maxValue;
  for (const p of CDF_PERCENTILES) {
    // getValueAtPercentile answers the top of a value's HDR bucket, which can exceed the recorded max.
    const v = p === 100 ? max : Math.min(histogram.getValueAtPercentile(p), max);
    const latencyNs = Math.max(v, last, 1);
    // A plateau (many equal values) is one point at its highest fraction.
    if (points.length > 0 && points[points.length - 1]!.latencyNs === latencyNs) points.pop();
    points.push({ latencyNs, fraction: p / 100 });
    last = latencyNs;
  }
  return points;
}

/** Throughput of one interval: bytes saved per second between the previous sample and `tNs`. */
export interface ThroughputSample {
  /** Time since the save loop started, ns (end of the interval). */
  tNs: number;
  bytesPerSec: number;
}

/** Collects progress events and turns them into per-interval throughput. */
export class ThroughputRecorder {
  private readonly points: { t: number; bytes: number }[] = [{ t: 0, bytes: 0 }];

  /** Pass as `onProgress`. */
  readonly onProgress = (p: SnapshotProgress): void => {
    const last = this.points[this.points.length - 1]!;
    if (p.elapsedNs > last.t) this.points.push({ t: p.elapsedNs, bytes: p.savedBytes });
  };

  /** The samples, at most `maxSamples` (adjacent intervals merged evenly when there are more). */
  samples(maxSamples = 400): ThroughputSample[] {
    const pts = this.points;
    const step = Math.max(1, Math.ceil((pts.length - 1) / maxSamples));
    const out: ThroughputSample[] = [];
    for (let i = step; i < pts.length; i += step) {
      const a = pts[i - step]!;
      const b = pts[i]!;
      out.push({ tNs: b.t, bytesPerSec: ((b.bytes - a.bytes) * 1e9) / (b.t - a.t) });
    }
    const tail = (pts.length - 1) % step;
    if (tail !== 0) {
      const a = pts[pts.length - 1 - tail]!;
      const b = pts[pts.length - 1]!;
      out.push({ tNs: b.t, bytesPerSec: ((b.bytes - a.bytes) * 1e9) / (b.t - a.t) });
    }
    return out;
  }
}

/**
 * Merges throughput samples into at most `n` time-weighted averages (each output covers consecutive
 * input intervals), so a plot of a long run stays readable; the bytes represented are unchanged.
 */
export function downsampleThroughput(samples: readonly ThroughputSample[], n: number): ThroughputSample[] {
  if (samples.length <= n) return [...samples];
  const per = Math.ceil(samples.length / n);
  const out: ThroughputSample[] = [];
  let prevT = 0;
  for (let i = 0; i < samples.length; i += per) {
    const group = samples.slice(i, i + per);
    const start = prevT;
    let bytes = 0;
    for (const s of group) {
      bytes += (s.bytesPerSec * (s.tNs - prevT)) / 1e9;
      prevT = s.tNs;
    }
    const span = prevT - start;
    out.push({ tNs: prevT, bytesPerSec: span > 0 ? (bytes * 1e9) / span : 0 });
  }
  return out;
}
