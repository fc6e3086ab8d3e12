import type { BenchRow } from './row.js';

/** The repeated runs of one target case (mode, policy, quiesce or not), summarised by its median. */
export interface CaseRuns {
  /** `mode/policy`, plus `/no-quiesce` for runs without the quiesce pause. */
  readonly key: string;
  /** The run whose writer p99 is the median of the case (the lower middle one for an even count). */
  readonly median: BenchRow;
  /** Writer p99 of every run, in run order. */
  readonly p99s: readonly number[];
  readonly runs: readonly BenchRow[];
}

/** The case a run belongs to. */
export function caseKey(r: BenchRow): string {
  return `${r.mode}/${r.policy}${r.quiescePauseNs === undefined ? '/no-quiesce' : ''}`;
}

/**
 * Groups runs by case, in the order cases first appear. On a shared 2-vCPU machine one run's tail
 * moves by 2× between runs; a verdict on the median run of each case does not hinge on one lucky
 * or unlucky run.
 */
export function groupCaseRuns(rows: readonly BenchRow[]): CaseRuns[] {
  const byKey = new Map<string, BenchRow[]>();
  for (const r of rows) {
    const key = caseKey(r);
    let list = byKey.get(key);
    if (!list) {
      list = [];
      byKey.set(key, list);
    }
    list.push(r);
  }
  return [...byKey].map(([key, runs]) => {
    const sorted = [...runs].sort((a, b) => a.writer.p99 - b.writer.p99);
    return {
      key,
      median: sorted[(sorted.length - 1) >> 1]!,
      p99s: runs.map((r) => r.writer.p99),
      runs,
    };
  });
}
