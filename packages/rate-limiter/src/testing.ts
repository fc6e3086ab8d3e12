/**
 * @bgsnap/rate-limiter/testing: the policy conformance suite for vitest, the same rules as plain
 * functions, and the synthetic latency model for evaluating policies.
 * @packageDocumentation
 */
import { describe, it } from 'vitest';
import {
  CONFORMANCE_RULES,
  type ConformanceOptions,
  checkPolicyConformance,
  type LimiterPolicyFactory,
  PolicyConformanceError,
} from './conformance.js';

export {
  assertPolicyConformance,
  CONFORMANCE_RULES,
  type ConformanceFailure,
  type ConformanceOptions,
  type ConformanceReport,
  type ConformanceRule,
  checkPolicyConformance,
  decisionProblem,
  type LimiterPolicyFactory,
  PolicyConformanceError,
} from './conformance.js';
export {
  type LatencyModelOptions,
  type LatencyModelResult,
  runLatencyModel,
  type StallProfile,
} from './latency-model.js';

/**
 * Registers the policy conformance suite as a vitest `describe` block, one `it` per rule (see
 * {@link checkPolicyConformance} for the rules). Call it at the top level of a test file.
 *
 * @param name - Shown in the suite title.
 * @param factory - Makes a fresh, un-started policy.
 * @param options - Bounds, runs, seed, rule selection; see {@link ConformanceOptions}.
 *
 * @example
 * import { describeLimiterPolicyConformance } from '@bgsnap/rate-limiter/testing';
 * describeLimiterPolicyConformance('my policy', () => myPolicy({ pages: 100 }));
 */
export function describeLimiterPolicyConformance(
  name: string,
  factory: LimiterPolicyFactory,
  options: ConformanceOptions = {},
): void {
  describe(`LimiterPolicy conformance: ${name}`, () => {
    for (const rule of options.rules ?? CONFORMANCE_RULES) {
      it(rule, () => {
        const report = checkPolicyConformance(factory, { ...options, rules: [rule] });
        if (!report.ok) throw new PolicyConformanceError(report);
      }, 20_000);
    }
  });
}
