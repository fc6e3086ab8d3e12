/**
 * @bgsnap/fault-source/testing: the conformance suite every {@link FaultSource} backend runs against
 * itself with vitest. See the package README for a complete harness.
 * @packageDocumentation
 */
import { describe, it } from 'vitest';
import { ConformanceError } from './testing/assert.js';
import type { ConformanceHarness } from './testing/harness.js';
import { resolveHarness } from './testing/harness.js';
import { type ConformanceSelection, selectChecks } from './testing/run.js';

export { ConformanceError } from './testing/assert.js';
export type { ConformanceCheck } from './testing/checks.js';
export { faultSourceChecks } from './testing/checks.js';
export type { ConformanceHarness, ConformanceSubject, ResolvedHarness } from './testing/harness.js';
export { resolveHarness } from './testing/harness.js';
export type { ConformanceResult, ConformanceSelection } from './testing/run.js';
export { runFaultSourceConformance, selectChecks } from './testing/run.js';

/**
 * Registers the conformance suite as a vitest `describe` block named `name`, one `it` per rule.
 * Rules that do not apply to the backend (copy-on-fault rules on a plain one, and vice versa) are
 * left out when `harness.copiesOnFault` declares the mode, and reported as skipped otherwise. Each test's timeout is derived from `harness.realTimeLimitMs`.
 *
 * @example
 * describeFaultSourceConformance('my backend', { create: () => makeSubject() });
 */
export function describeFaultSourceConformance(
  name: string,
  harness: ConformanceHarness,
  selection?: ConformanceSelection,
): void {
  const h = resolveHarness(harness);
  describe(`FaultSource conformance: ${name}`, () => {
    const mode =
      harness.copiesOnFault === undefined ? undefined : harness.copiesOnFault ? 'copy-on-fault' : 'plain';
    if (harness.copiesOnFault !== undefined) {
      // The filter below trusts the declaration, so check it against what the backend says of itself.
      it('the declared mode matches capabilities.copiesOnFault [declared-mode]', async () => {
        const subject = await h.create();
        try {
          const actual = subject.source.capabilities.copiesOnFault;
          if (actual !== harness.copiesOnFault) {
            throw new ConformanceError(
              `the harness declares copiesOnFault: ${harness.copiesOnFault}, the backend reports ${actual}`,
            );
          }
        } finally {
          await subject.source.stop();
          await subject.dispose?.();
        }
      });
    }
    for (const c of selectChecks(selection)) {
      if (mode && c.appliesTo && c.appliesTo !== mode) continue;
      it(
        `${c.title} [${c.id}]`,
        async (ctx) => {
          const out = await c.run(h);
          if (out === 'skipped') ctx.skip();
        },
        h.realTimeLimitMs *
          4 *
          Math.max(1, c.id === 'save-race' || c.id === 'events-in-range' ? h.randomRuns : 1),
      );
    }
  });
}
