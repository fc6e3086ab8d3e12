import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createLatencyHistogram,
  decodeHistogram,
  encodeHistogram,
  recordLatency,
  summarizeLatency,
} from './latency-histogram.js';

describe('summarizeLatency', () => {
  it('property: percentiles are ordered, never above the max, and within 0.1 % of an exact rank', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 5e9 }), { minLength: 1, maxLength: 300 }), (values) => {
        const h = createLatencyHistogram();
        for (const v of values) recordLatency(h, v);
        const s = summarizeLatency(h);
        const sorted = [...values].sort((a, b) => a - b);
        expect(s.count).toBe(values.length);
        expect(s.max).toBe(sorted[sorted.length - 1]);
        const ps = [s.p50, s.p90, s.p99, s.p999, s.max];
        for (let i = 1; i < ps.length; i++) expect(ps[i]!).toBeGreaterThanOrEqual(ps[i - 1]!);
        // The value at rank ceil(p% * n) of the sorted input, to the histogram's 3 significant digits.
        for (const [p, got] of [
          [50, s.p50],
          [99, s.p99],
        ] as const) {
          const exact = sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
          expect(Math.abs(got - exact)).toBeLessThanOrEqual(exact * 0.001 + 1);
        }
      }),
    );
  });

  it('an empty histogram summarizes to zeros', () => {
    expect(summarizeLatency(createLatencyHistogram())).toEqual({
      count: 0,
      mean: 0,
      p50: 0,
      p90: 0,
      p99: 0,
      p999: 0,
      max: 0,
    });
  });

  it('survives encoding across a thread boundary, to the histogram resolution (0.1 %)', () => {
    const h = createLatencyHistogram();
    for (const v of [1200, 3400, 99_000, 2.5e6]) recordLatency(h, v);
    const before = summarizeLatency(h);
    const after = summarizeLatency(decodeHistogram(encodeHistogram(h)));
    expect(after.count).toBe(before.count);
    // The encoding keeps bucket counts, not the exact max: it comes back as its bucket's top.
    for (const k of ['mean', 'p50', 'p90', 'p99', 'p999', 'max'] as const) {
      expect(Math.abs(after[k] - before[k]), k).toBeLessThanOrEqual(before[k] * 0.001 + 1);
    }
    expect(after.p99).toBeLessThanOrEqual(after.max);
  });
});
