import type { LimiterDecision, LimiterPolicy } from '@bgsnap/rate-limiter';

/** Test policy: scan as fast as allowed, never wait. */
export function unlimitedPolicy(): LimiterPolicy & { faults: number; scans: number; sinkWrites: number } {
  return {
    name: 'test-unlimited',
    faults: 0,
    scans: 0,
    sinkWrites: 0,
    start() {},
    onFault() {
      this.faults++;
    },
    onScan() {
      this.scans++;
    },
    onSinkWrite() {
      this.sinkWrites++;
    },
    decide: () => ({ scanPages: 1 << 20, waitNs: 0 }),
  };
}

/** Test policy: replays `decisions` in a loop. */
export function scriptedPolicy(decisions: LimiterDecision[]): LimiterPolicy {
  let i = 0;
  return {
    name: 'test-scripted',
    start() {
      i = 0;
    },
    onFault() {},
    onScan() {},
    onSinkWrite() {},
    decide: () => decisions[i++ % decisions.length]!,
  };
}
