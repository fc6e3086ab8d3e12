// The custom policy shown in README.md, verbatim, checked by the conformance suite.
import type { LimiterPolicy } from './index.js';
import { SCAN_UNLIMITED } from './index.js';
import { describeLimiterPolicyConformance } from './testing.js';

/** Holds the linear scan for `holdNs` after any sink write that was blocked longer than `stallNs`. */
export function stallHold(stallNs = 10e6, holdNs = 20e6): LimiterPolicy {
  let holdUntil = 0;
  return {
    name: `stall-hold(${stallNs / 1e6}ms,${holdNs / 1e6}ms)`,
    start(context) {
      holdUntil = context.startedAt;
    },
    onFault() {},
    onScan() {},
    onSinkWrite(now, _bytes, blockedNs) {
      if (blockedNs > stallNs) holdUntil = now + holdNs;
    },
    decide(now) {
      if (now >= holdUntil) return { scanPages: SCAN_UNLIMITED, waitNs: 0 };
      // Serve faults while holding; integer ns, at most 1 s.
      return { scanPages: 0, waitNs: Math.min(Math.ceil(holdUntil - now), 1e9) };
    },
  };
}

describeLimiterPolicyConformance('README stallHold', () => stallHold());
