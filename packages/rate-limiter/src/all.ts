import { LimiterConfigError } from './errors.js';
import type { FaultObservation, LimiterContext, LimiterDecision, LimiterPolicy } from './types.js';

/**
 * Applies several policies at once; the most restrictive decision wins.
 *
 * Semantics:
 * - Every observation (`start`, `onFault`, `onScan`, `onSinkWrite`, and `onBacklog` to members that
 *   define it) reaches every member, in order.
 * - `decide` asks every member (each sees every call, so time-driven state such as a token bucket's
 *   refill stays current) and answers `scanPages = min` and `waitNs = max` of their answers. The
 *   result is at least as restrictive as each member's: whoever asked to wait gets at least its wait,
 *   whoever capped the scan gets at most its cap. It can be stricter than any single member (one
 *   member's wait plus another's cap).
 * - If every member is legal the result is legal: some member waits (so `waitNs > 0`) or none does (so
 *   every `scanPages >= 1`, hence the minimum too).
 * - A member told "wait, then scan 1" that gets a longer wait or no scan simply asks again; built-in
 *   members advance their state on observations, not on the assumption that their decision was
 *   followed literally.
 *
 * @param policies - One or more policies (a combinator of combinators is fine).
 * @returns A policy named `all(a,b,…)`.
 * @throws {@link LimiterConfigError} (option `policies`) when given no policy or a non-policy.
 *
 * @example
 * const policy = all(threshold(), tokenBucket({ bytesPerSecond: 256 * 2 ** 20, burstBytes: 2 ** 22 }));
 */
export function all(...policies: LimiterPolicy[]): LimiterPolicy {
  if (policies.length === 0) throw new LimiterConfigError('all', 'policies', 'at least one policy', 0);
  policies.forEach((p, i) => {
    if (!p || typeof p.decide !== 'function' || typeof p.onFault !== 'function') {
      throw new LimiterConfigError(
        'all',
        'policies',
        `LimiterPolicy objects (argument ${i} is not)`,
        typeof p,
      );
    }
  });
  const members = policies.slice();
  const n = members.length;
  return {
    name: `all(${members.map((p) => p.name).join(',')})`,
    start(context: LimiterContext) {
      for (let i = 0; i < n; i++) members[i]!.start(context);
    },
    onFault(o: FaultObservation) {
      for (let i = 0; i < n; i++) members[i]!.onFault(o);
    },
    onScan(now: number, pages: number, bytes: number) {
      for (let i = 0; i < n; i++) members[i]!.onScan(now, pages, bytes);
    },
    onSinkWrite(now: number, bytes: number, blockedNs: number) {
      for (let i = 0; i < n; i++) members[i]!.onSinkWrite(now, bytes, blockedNs);
    },
    onBacklog(now: number, bufferedBytes: number) {
      for (let i = 0; i < n; i++) members[i]!.onBacklog?.(now, bufferedBytes);
    },
    decide(now: number, pendingFaults: number): LimiterDecision {
      let scanPages = Number.POSITIVE_INFINITY;
      let waitNs = 0;
      for (let i = 0; i < n; i++) {
        const d = members[i]!.decide(now, pendingFaults);
        // Math.min/max keep a member's NaN visible to the save loop's check instead of dropping it.
        scanPages = Math.min(scanPages, d.scanPages);
        waitNs = Math.max(waitNs, d.waitNs);
      }
      return { scanPages, waitNs };
    },
  };
}

/** Alias of {@link all}. */
export const mostRestrictive: typeof all = all;
