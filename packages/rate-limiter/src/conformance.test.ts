import { describe, expect, it } from 'vitest';
import { all } from './all.js';
import { checkPolicyConformance, decisionProblem, PolicyConformanceError } from './conformance.js';
import { latencyTarget } from './latency-target.js';
import { parseLimiterSpec } from './registry.js';
import { describeLimiterPolicyConformance } from './testing.js';
import { threshold } from './threshold.js';
import { tokenBucket } from './token-bucket.js';
import type { LimiterPolicy } from './types.js';
import { unlimited } from './unlimited.js';

const MiB = 2 ** 20;
const RUNS = { runs: 60 };

describeLimiterPolicyConformance('unlimited', () => unlimited(), RUNS);
describeLimiterPolicyConformance('threshold (patch defaults)', () => threshold(), RUNS);
describeLimiterPolicyConformance(
  'threshold (true measure)',
  () => threshold({ measure: 'true', pages: 7 }),
  RUNS,
);
describeLimiterPolicyConformance(
  'token-bucket',
  () => tokenBucket({ bytesPerSecond: 64 * MiB, burstBytes: 4 * MiB }),
  RUNS,
);
for (const control of ['aimd', 'codel', 'pi'] as const) {
  describeLimiterPolicyConformance(`latency-target ${control}`, () => latencyTarget({ control }), RUNS);
}
describeLimiterPolicyConformance(
  'all(threshold, token-bucket, latency-target)',
  () => all(threshold(), tokenBucket({ bytesPerSecond: 64 * MiB, burstBytes: 4 * MiB }), latencyTarget()),
  RUNS,
);
describeLimiterPolicyConformance(
  'from a spec',
  () => parseLimiterSpec('latency-target:p99=200us+threshold'),
  RUNS,
);

/** A policy with a configurable defect, to show the suite catches each kind. */
function broken(defect: 'zero' | 'nan' | 'long-wait' | 'starve' | 'random' | 'no-reset'): LimiterPolicy {
  let slow = false;
  let scans = 0;
  return {
    name: `broken-${defect}`,
    start() {
      if (defect !== 'no-reset') slow = false;
      scans = 0;
    },
    onFault(o) {
      if (o.sinceFetchNs > 5e6) slow = true;
    },
    onScan() {
      scans++;
    },
    onSinkWrite() {},
    decide() {
      if (defect === 'random') return { scanPages: Math.random() < 0.5 ? 1 : 2, waitNs: 0 };
      if (!slow) return { scanPages: 64, waitNs: 0 };
      switch (defect) {
        case 'zero':
          return { scanPages: 0, waitNs: 0 };
        case 'nan':
          return { scanPages: 1, waitNs: Number.NaN };
        case 'long-wait':
          return { scanPages: 1, waitNs: 5e9 };
        case 'starve':
          return { scanPages: scans > 1_000_000 ? 1 : 0, waitNs: 1e6 };
        default:
          return { scanPages: 0, waitNs: 1e6 };
      }
    },
  };
}

describe('the conformance suite catches broken policies', () => {
  it.each([
    ['zero', 'legal'],
    ['nan', 'legal'],
    ['long-wait', 'legal'],
    ['starve', 'progress'],
    ['random', 'deterministic'],
    ['no-reset', 'restart'],
  ] as const)('%s fails %s', (defect, rule) => {
    const report = checkPolicyConformance(() => broken(defect), { runs: 200, seed: 42 });
    expect(report.ok).toBe(false);
    expect(report.failures.map((f) => f.rule)).toContain(rule);
    expect(report.failures.find((f) => f.rule === rule)!.message).toMatch(/seed/);
  });

  it('a policy with an empty name fails the name rule; a good one passes all rules', () => {
    const nameless = { ...unlimited(), name: '' };
    expect(checkPolicyConformance(() => nameless, { rules: ['name'] }).failures[0]?.rule).toBe('name');
    expect(checkPolicyConformance(() => unlimited(), { runs: 20 })).toEqual({
      policy: 'unlimited',
      ok: true,
      failures: [],
    });
  });

  it('PolicyConformanceError lists each failure', () => {
    const report = checkPolicyConformance(() => broken('zero'), { runs: 50, seed: 1, rules: ['legal'] });
    const e = new PolicyConformanceError(report);
    expect(e.message).toContain('[legal]');
    expect(e.failures).toHaveLength(1);
  });

  it('decisionProblem spells out the rule', () => {
    expect(decisionProblem({ scanPages: 1, waitNs: 0 })).toBeUndefined();
    expect(decisionProblem({ scanPages: 0, waitNs: 0 })).toMatch(/never/);
    expect(decisionProblem({ scanPages: 1.5, waitNs: 0 })).toMatch(/scanPages/);
    expect(decisionProblem({ scanPages: 1, waitNs: -1 })).toMatch(/waitNs/);
    expect(decisionProblem({ scanPages: 1, waitNs: 2e9 })).toMatch(/bound/);
    expect(decisionProblem({ scanPages: Number.POSITIVE_INFINITY, waitNs: 0 })).toMatch(/scanPages/);
  });
});
