/**
 * @bgsnap/rate-limiter/conformance: the policy conformance rules as plain functions, usable from any
 * test runner (or none), and the synthetic latency model. `./testing` re-exports both and adds the
 * vitest wrapper.
 * @packageDocumentation
 */
import type { Arbitrary, RunDetails } from 'fast-check';
import { MAX_WAIT_NS } from './constants.js';
import { loadOptionalPeer } from './optional-peer.js';

export { MissingPeerDependencyError } from './optional-peer.js';

import type { LimiterContext, LimiterDecision, LimiterPolicy } from './types.js';

// fast-check is an optional peer: only this entry (and ./testing) needs it, so a consumer of the
// policies alone does not install it. Loaded here so a missing one fails with the install command.
const fc = loadOptionalPeer<typeof import('fast-check')>(
  'fast-check',
  '@bgsnap/rate-limiter/conformance',
  '^4.0.0',
);

export {
  type LatencyModelOptions,
  type LatencyModelResult,
  runLatencyModel,
  type StallProfile,
} from './latency-model.js';

/** Makes a fresh, un-started policy; called many times per check. */
export type LimiterPolicyFactory = () => LimiterPolicy;

/** The rules {@link checkPolicyConformance} applies. */
export type ConformanceRule = 'name' | 'legal' | 'progress' | 'deterministic' | 'restart';

/** Every {@link ConformanceRule}, in the order they run. */
export const CONFORMANCE_RULES: readonly ConformanceRule[] = [
  'name',
  'legal',
  'progress',
  'deterministic',
  'restart',
];

/** Options of {@link checkPolicyConformance}. */
export interface ConformanceOptions {
  /** Longest acceptable `waitNs`. Default {@link MAX_WAIT_NS} (1 s). */
  maxWaitNs?: number;
  /**
   * Progress: after any history, with no fault and no sink completion, the scan must be granted a page
   * within this much fake time, three times in a row. Default 2 s.
   */
  maxStallNs?: number;
  /** Progress: most decisions without a scan page before the rule fails. Default 100 000. */
  maxDecisionsWithoutScan?: number;
  /** Random histories per rule. Default 100. */
  runs?: number;
  /** fast-check seed, for reproducing a failure. Default: random. */
  seed?: number;
  /** Only these rules. Default: all. */
  rules?: readonly ConformanceRule[];
}

/** One rule's outcome. */
export interface ConformanceFailure {
  /** The rule that failed. */
  rule: ConformanceRule;
  /** What went wrong, with the smallest counterexample fast-check found. */
  message: string;
}

/** Result of {@link checkPolicyConformance}. */
export interface ConformanceReport {
  /** Policy name (from the first instance). */
  policy: string;
  /** True when every selected rule passed. */
  ok: boolean;
  /** Failed rules; empty when `ok`. */
  failures: ConformanceFailure[];
}

/** Thrown by {@link assertPolicyConformance}; `failures` lists every rule that failed. */
export class PolicyConformanceError extends Error {
  /** Every failed rule with its message. */
  readonly failures: readonly ConformanceFailure[];
  /**
   * @param report - The failing report.
   */
  constructor(report: ConformanceReport) {
    super(
      `policy '${report.policy}' fails conformance:\n${report.failures.map((f) => `- [${f.rule}] ${f.message}`).join('\n')}`,
    );
    this.name = 'PolicyConformanceError';
    this.failures = report.failures;
  }
}

/**
 * Checks one decision. Legal: an object whose `scanPages` and `waitNs` are finite, non-negative
 * integers, `waitNs <= maxWaitNs`, and not both zero (the scan would never progress).
 *
 * @param d - The decision.
 * @param maxWaitNs - Bound on waits. Default {@link MAX_WAIT_NS}.
 * @returns A description of the problem, or undefined when legal.
 */
export function decisionProblem(d: LimiterDecision, maxWaitNs: number = MAX_WAIT_NS): string | undefined {
  if (d === null || typeof d !== 'object') return `decision is ${String(d)}, not an object`;
  const { scanPages, waitNs } = d;
  if (!Number.isInteger(scanPages) || scanPages < 0)
    return `scanPages ${scanPages} is not a non-negative integer`;
  if (!Number.isInteger(waitNs) || waitNs < 0) return `waitNs ${waitNs} is not a non-negative integer`;
  if (waitNs > maxWaitNs) return `waitNs ${waitNs} exceeds the bound ${maxWaitNs}`;
  if (scanPages === 0 && waitNs === 0) return '{ scanPages: 0, waitNs: 0 } never lets the scan progress';
  return undefined;
}

/** One event of a random history. */
type Op =
  | { k: 'advance'; ns: number }
  | { k: 'fault'; fetch: number; queued: number; known: boolean; unqueued: number }
  | { k: 'sink'; bytes: number; blocked: number }
  | { k: 'backlog'; bytes: number }
  | { k: 'step'; pending: number; waitShare: number; batch: number; perPage: number };

const contextArb: Arbitrary<LimiterContext> = fc.record({
  startedAt: fc.integer({ min: 0, max: 1e12 }),
  pageSize: fc.constantFrom(4096, 16384, 65536, 2 ** 21),
  totalPages: fc.integer({ min: 1, max: 2 ** 30 }),
  knowsFaultTime: fc.boolean(),
});

const latencyArb = fc.oneof(
  fc.integer({ min: 0, max: 100_000 }),
  fc.integer({ min: 0, max: 20e6 }),
  fc.integer({ min: 0, max: 2e9 }),
);

const opArb: Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('advance' as const), ns: latencyArb }),
  fc.record({
    k: fc.constant('fault' as const),
    fetch: latencyArb,
    queued: latencyArb,
    known: fc.boolean(),
    unqueued: fc.integer({ min: 0, max: 1_000_000 }),
  }),
  fc.record({
    k: fc.constant('sink' as const),
    bytes: fc.integer({ min: 1, max: 64 * 2 ** 20 }),
    blocked: latencyArb,
  }),
  fc.record({ k: fc.constant('backlog' as const), bytes: fc.integer({ min: 0, max: 64 * 2 ** 20 }) }),
  fc.record({
    k: fc.constant('step' as const),
    pending: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 1000 })),
    waitShare: fc.double({ min: 0, max: 1, noNaN: true }),
    batch: fc.integer({ min: 1, max: 1024 }),
    perPage: fc.integer({ min: 0, max: 50_000 }),
  }),
);

const historyArb = fc.tuple(contextArb, fc.array(opArb, { maxLength: 150 }));

/** Plays `ops` on `p`, following its decisions like a save loop; returns every decision made. */
function play(
  p: LimiterPolicy,
  ctx: LimiterContext,
  ops: readonly Op[],
  check: (d: LimiterDecision, at: number) => void,
): { now: number; decisions: LimiterDecision[] } {
  let now = ctx.startedAt;
  const decisions: LimiterDecision[] = [];
  p.start(ctx);
  for (const op of ops) {
    switch (op.k) {
      case 'advance':
        now += op.ns;
        break;
      case 'fault': {
        // The three measures are ordered: sinceFetch <= true <= upperBound.
        const sinceFetchNs = op.fetch;
        const trueNs = op.known ? sinceFetchNs + op.queued : undefined;
        const upperBoundNs = sinceFetchNs + op.queued + op.unqueued;
        p.onFault({ now, sinceFetchNs, upperBoundNs, trueNs });
        break;
      }
      case 'sink':
        p.onSinkWrite(now, op.bytes, op.blocked);
        break;
      case 'backlog':
        p.onBacklog?.(now, op.bytes);
        break;
      case 'step': {
        const d = p.decide(now, op.pending);
        decisions.push({ scanPages: d.scanPages, waitNs: d.waitNs });
        check(d, decisions.length - 1);
        // A wait may end early (a fault arrived); then the loop scans what it was allowed.
        now += Math.floor(d.waitNs * op.waitShare);
        const n = Math.min(d.scanPages, op.batch);
        if (n > 0) {
          now += n * op.perPage;
          p.onScan(now, n, n * ctx.pageSize);
        }
        break;
      }
    }
  }
  return { now, decisions };
}

function fcFailure<Ts>(details: RunDetails<Ts>): string | undefined {
  if (!details.failed) return undefined;
  const err =
    details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  const ce = details.counterexample ? JSON.stringify(details.counterexample).slice(0, 1500) : '';
  return `${err} (seed ${details.seed}, path "${details.counterexamplePath}"; counterexample: ${ce})`;
}

/**
 * Runs the conformance rules against policies made by `factory`, driven by a fake clock and random
 * observation sequences (fast-check). Rules:
 * - `name`: a non-empty string;
 * - `legal`: every decision, after any history, is legal (see {@link decisionProblem}), waits bounded;
 * - `progress`: after any history, with no further fault or sink completion, following the decisions
 *   grants a scan page within `maxStallNs` of fake time, three times in a row;
 * - `deterministic`: two instances fed the same history decide the same;
 * - `restart`: `start()` resets: a used instance restarted decides like a fresh one.
 *
 * @param factory - Makes a fresh policy.
 * @param options - See {@link ConformanceOptions}.
 * @returns The report; never throws for a failing policy.
 */
export function checkPolicyConformance(
  factory: LimiterPolicyFactory,
  options: ConformanceOptions = {},
): ConformanceReport {
  const maxWaitNs = options.maxWaitNs ?? MAX_WAIT_NS;
  const maxStallNs = options.maxStallNs ?? 2e9;
  const maxDecisions = options.maxDecisionsWithoutScan ?? 100_000;
  const params = {
    numRuns: options.runs ?? 100,
    ...(options.seed === undefined ? {} : { seed: options.seed }),
  };
  const rules = options.rules ?? CONFORMANCE_RULES;
  const failures: ConformanceFailure[] = [];
  const first = factory();
  const policy = typeof first?.name === 'string' ? first.name : String(first?.name);
  const legalOrThrow = (d: LimiterDecision, at: number): void => {
    const problem = decisionProblem(d, maxWaitNs);
    if (problem) throw new Error(`decision #${at}: ${problem}`);
  };

  for (const rule of rules) {
    let message: string | undefined;
    if (rule === 'name') {
      if (typeof first.name !== 'string' || first.name.length === 0) {
        failures.push({
          rule,
          message: `name must be a non-empty string, got ${JSON.stringify(first.name)}`,
        });
      }
      continue;
    }
    if (rule === 'legal') {
      message = fcFailure(
        fc.check(
          fc.property(historyArb, ([ctx, ops]) => {
            play(factory(), ctx, ops, legalOrThrow);
          }),
          params,
        ),
      );
    } else if (rule === 'progress') {
      message = fcFailure(
        fc.check(
          fc.property(historyArb, ([ctx, ops]) => {
            const p = factory();
            let { now } = play(p, ctx, ops, () => {});
            for (let round = 0; round < 3; round++) {
              const from = now;
              let decisions = 0;
              for (;;) {
                const d = p.decide(now, 0);
                legalOrThrow(d, decisions);
                now += d.waitNs;
                if (d.scanPages > 0) {
                  const n = Math.min(d.scanPages, 64);
                  now += n * 1000;
                  p.onScan(now, n, n * ctx.pageSize);
                  break;
                }
                if (++decisions > maxDecisions) throw new Error(`no scan page in ${maxDecisions} decisions`);
                if (now - from > maxStallNs)
                  throw new Error(`no scan page in ${now - from} ns of quiet time`);
              }
              if (now - from > maxStallNs)
                throw new Error(`scan page only after ${now - from} ns of quiet time`);
            }
          }),
          params,
        ),
      );
    } else if (rule === 'deterministic') {
      message = fcFailure(
        fc.check(
          fc.property(historyArb, ([ctx, ops]) => {
            const a = play(factory(), ctx, ops, () => {}).decisions;
            const b = play(factory(), ctx, ops, () => {}).decisions;
            const i = a.findIndex((d, j) => d.scanPages !== b[j]?.scanPages || d.waitNs !== b[j]?.waitNs);
            if (i >= 0)
              throw new Error(`decision #${i} differs: ${JSON.stringify(a[i])} vs ${JSON.stringify(b[i])}`);
          }),
          params,
        ),
      );
    } else if (rule === 'restart') {
      message = fcFailure(
        fc.check(
          fc.property(historyArb, historyArb, ([ctx1, ops1], [ctx2, ops2]) => {
            const used = factory();
            play(used, ctx1, ops1, () => {});
            const a = play(used, ctx2, ops2, () => {}).decisions;
            const b = play(factory(), ctx2, ops2, () => {}).decisions;
            const i = a.findIndex((d, j) => d.scanPages !== b[j]?.scanPages || d.waitNs !== b[j]?.waitNs);
            if (i >= 0) {
              throw new Error(
                `after restart, decision #${i} is ${JSON.stringify(a[i])}, fresh: ${JSON.stringify(b[i])}`,
              );
            }
          }),
          params,
        ),
      );
    }
    if (message) failures.push({ rule, message });
  }
  return { policy, ok: failures.length === 0, failures };
}

/**
 * Like {@link checkPolicyConformance}, but throws {@link PolicyConformanceError} listing every failed
 * rule. Works under any test runner.
 *
 * @param factory - Makes a fresh policy.
 * @param options - See {@link ConformanceOptions}.
 * @throws {@link PolicyConformanceError} when a rule fails.
 */
export function assertPolicyConformance(factory: LimiterPolicyFactory, options?: ConformanceOptions): void {
  const report = checkPolicyConformance(factory, options);
  if (!report.ok) throw new PolicyConformanceError(report);
}
