import type { FaultObservation, LimiterContext, LimiterDecision, LimiterPolicy } from './types.js';

/** Test-only: a fake clock and shorthands to drive a policy like the save loop does. */
export class FakeLoop {
  now: number;
  readonly context: LimiterContext;
  constructor(
    readonly policy: LimiterPolicy,
    context: Partial<LimiterContext> = {},
  ) {
    this.context = {
      startedAt: 1_000_000,
      pageSize: 4096,
      totalPages: 1 << 20,
      knowsFaultTime: true,
      ...context,
    };
    this.now = this.context.startedAt;
    policy.start(this.context);
  }
  advance(ns: number): this {
    this.now += ns;
    return this;
  }
  /** A fault served now with the given measures (trueNs defaults to upperBound, upperBound to sinceFetch). */
  fault(sinceFetchNs: number, upperBoundNs = sinceFetchNs, trueNs: number | undefined = upperBoundNs): this {
    const o: FaultObservation = { now: this.now, sinceFetchNs, upperBoundNs, trueNs };
    this.policy.onFault(o);
    return this;
  }
  scan(pages: number, bytes = pages * this.context.pageSize): this {
    this.policy.onScan(this.now, pages, bytes);
    return this;
  }
  sink(bytes: number, blockedNs: number): this {
    this.policy.onSinkWrite(this.now, bytes, blockedNs);
    return this;
  }
  decide(pending = 0): LimiterDecision {
    return this.policy.decide(this.now, pending);
  }
  /**
   * One save-loop step with no fault arriving: decide, wait the full wait, scan what is allowed (capped
   * at `batch`). Returns the decision.
   */
  step(batch = 64): LimiterDecision {
    const d = this.decide();
    this.now += d.waitNs;
    const n = Math.min(d.scanPages, batch);
    if (n > 0) this.scan(n);
    return d;
  }
}

/** Compact trace of decisions: `W5000000` for a wait without scan, `S1` for one page, `U` for unlimited. */
export function trace(d: LimiterDecision): string {
  if (d.scanPages === 0) return `W${d.waitNs}`;
  if (d.waitNs === 0) return d.scanPages > 1e15 ? 'U' : `S${d.scanPages}`;
  return `W${d.waitNs}S${d.scanPages}`;
}
