import type { FaultSource, WriteFault } from '@bgsnap/fault-source';
import type { LimiterDecision } from '@bgsnap/rate-limiter';
import type { AbortRace } from './abort-race.js';
import { MAX_TAKE } from './fault-service.js';

/**
 * Longest single `waitForFaults` the loop asks for: 2^31 − 1 ms, the largest delay a Node timer keeps
 * (a larger one fires after 1 ms with a TimeoutOverflowWarning). Longer limiter waits are split.
 */
export const MAX_WAIT_SLICE_NS = (2 ** 31 - 1) * 1e6;

/**
 * A limiter returned a decision the loop cannot follow. The same rules as the rate-limiter conformance
 * suite's `decisionProblem`: `scanPages` and `waitNs` are non-negative integers (finite), and not both
 * 0 while the scan has pages left (that would spin forever). A fraction such as `scanPages: 0.5` is
 * refused rather than rounded, because rounding it down to 0 spins.
 */
export class IllegalDecisionError extends TypeError {
  /** The policy's name. */
  readonly policy: string;
  /** The decision as returned. */
  readonly decision: LimiterDecision;

  constructor(policy: string, decision: LimiterDecision, problem: string) {
    super(
      `limiter '${policy}' returned an illegal decision {scanPages: ${decision?.scanPages}, waitNs: ${decision?.waitNs}}: ` +
        `${problem} (both must be integers >= 0, and not both 0)`,
    );
    this.name = 'IllegalDecisionError';
    this.policy = policy;
    this.decision = decision;
  }
}

/** Why `d` is illegal, or undefined when the loop can follow it. Both 0 is legal once the scan is done. */
export function decisionProblem(d: LimiterDecision, scanDone: boolean): string | undefined {
  if (d === null || typeof d !== 'object') return 'not an object';
  if (!Number.isSafeInteger(d.scanPages) || d.scanPages < 0) return 'scanPages is not a non-negative integer';
  if (!Number.isSafeInteger(d.waitNs) || d.waitNs < 0) return 'waitNs is not a non-negative integer';
  if (!scanDone && d.scanPages === 0 && d.waitNs === 0) return 'it never lets the scan progress';
  return undefined;
}

/** @throws IllegalDecisionError when the loop cannot follow `d`. */
export function checkDecision(policy: string, d: LimiterDecision, scanDone: boolean): void {
  const problem = decisionProblem(d, scanDone);
  if (problem !== undefined) throw new IllegalDecisionError(policy, d, problem);
}

/**
 * Waits up to `waitNs` for faults, in slices no timer overflows; returns as soon as a slice brings
 * faults (or the whole wait passed without any).
 */
export async function waitForFaultsSliced(
  source: FaultSource,
  waitNs: number,
  abortable: AbortRace,
): Promise<readonly WriteFault[]> {
  let left = waitNs;
  for (;;) {
    const slice = Math.min(left, MAX_WAIT_SLICE_NS);
    const faults = await abortable(source.waitForFaults(slice, MAX_TAKE));
    left -= slice;
    if (faults.length > 0 || left <= 0) return faults;
  }
}
