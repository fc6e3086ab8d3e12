import type { ConformanceCheck } from './checks.js';
import { faultSourceChecks } from './checks.js';
import { type ConformanceHarness, resolveHarness } from './harness.js';

/** Outcome of one {@link ConformanceCheck}. */
export interface ConformanceResult {
  /** The check's {@link ConformanceCheck.id}. */
  readonly id: string;
  /** The check's title. */
  readonly title: string;
  /** `skipped`: the rule does not apply to this backend (copy-on-fault rules on a plain one, and vice versa). */
  readonly status: 'passed' | 'failed' | 'skipped';
  /** What went wrong, when `status` is `failed`. */
  readonly error?: unknown;
}

/** Which checks to run: all by default. */
export interface ConformanceSelection {
  /** Run only these check ids. */
  readonly only?: readonly string[];
  /** Skip these check ids (for example while a backend is being written; say why in your tests). */
  readonly skip?: readonly string[];
}

/** The checks a selection picks, failing loudly on an unknown id so typos do not skip checks silently. */
export function selectChecks(selection: ConformanceSelection = {}): readonly ConformanceCheck[] {
  const ids = new Set(faultSourceChecks.map((c) => c.id));
  for (const id of [...(selection.only ?? []), ...(selection.skip ?? [])]) {
    if (!ids.has(id))
      throw new RangeError(`unknown conformance check id '${id}'; known: ${[...ids].join(', ')}`);
  }
  return faultSourceChecks.filter(
    (c) => (!selection.only || selection.only.includes(c.id)) && !selection.skip?.includes(c.id),
  );
}

/**
 * Runs the conformance checks one after another and reports each outcome without throwing: for tools,
 * for CI summaries, and for proving that a broken backend fails.
 */
export async function runFaultSourceConformance(
  harness: ConformanceHarness,
  selection?: ConformanceSelection,
): Promise<ConformanceResult[]> {
  const h = resolveHarness(harness);
  const results: ConformanceResult[] = [];
  for (const c of selectChecks(selection)) {
    try {
      const out = await c.run(h);
      results.push({ id: c.id, title: c.title, status: out === 'skipped' ? 'skipped' : 'passed' });
    } catch (error) {
      results.push({ id: c.id, title: c.title, status: 'failed', error });
    }
  }
  return results;
}
