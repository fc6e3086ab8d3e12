import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { caseKey, groupCaseRuns } from './case-runs.js';
import type { BenchRow } from './row.js';

/** Just the fields grouping reads; the rest of a row does not matter here. */
function row(mode: BenchRow['mode'], policy: string, quiesce: boolean, p99: number, id: string): BenchRow {
  return {
    id,
    mode,
    policy,
    quiescePauseNs: quiesce ? 1e6 : undefined,
    writer: { p99, count: 1 },
  } as unknown as BenchRow;
}

const runArb = fc.record({
  mode: fc.constantFrom<BenchRow['mode']>('plain', 'copy-on-fault'),
  policy: fc.constantFrom('unlimited', 'qemu', 'latency'),
  quiesce: fc.boolean(),
  p99: fc.integer({ min: 1, max: 10_000_000 }),
});

describe('groupCaseRuns', () => {
  it('puts every run in exactly one case, keeps run order, and picks the run with the median p99', () => {
    fc.assert(
      fc.property(fc.array(runArb, { maxLength: 40 }), (specs) => {
        const rows = specs.map((s, i) => row(s.mode, s.policy, s.quiesce, s.p99, `r${i}`));
        const cases = groupCaseRuns(rows);
        expect(cases.flatMap((c) => c.runs).length).toBe(rows.length);
        expect(new Set(cases.map((c) => c.key)).size).toBe(cases.length);
        for (const c of cases) {
          expect(c.runs.every((r) => caseKey(r) === c.key)).toBe(true);
          expect(c.p99s).toEqual(c.runs.map((r) => r.writer.p99));
          expect(c.runs).toContain(c.median);
          // The median: at most half of the other runs are below it, at most half above.
          const below = c.p99s.filter((p) => p < c.median.writer.p99).length;
          const above = c.p99s.filter((p) => p > c.median.writer.p99).length;
          expect(below).toBeLessThanOrEqual((c.p99s.length - 1) >> 1);
          expect(above).toBeLessThanOrEqual(c.p99s.length >> 1);
        }
        // Cases come in the order their first run appears.
        const firsts = cases.map((c) => rows.indexOf(c.runs[0]!));
        expect([...firsts].sort((a, b) => a - b)).toEqual(firsts);
      }),
    );
  });

  it('tells a run without the quiesce pause from one with it', () => {
    const cases = groupCaseRuns([
      row('plain', 'latency', true, 5, 'a'),
      row('plain', 'latency', false, 7, 'b'),
      row('plain', 'latency', true, 3, 'c'),
      row('plain', 'latency', true, 9, 'd'),
    ]);
    expect(cases.map((c) => c.key)).toEqual(['plain/latency', 'plain/latency/no-quiesce']);
    expect(cases[0]!.median.id).toBe('a');
    expect(cases[0]!.p99s).toEqual([5, 3, 9]);
  });
});
