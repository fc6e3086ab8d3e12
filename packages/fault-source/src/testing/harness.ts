import type { FaultSource } from '../types.js';

/**
 * One fresh backend under test, with a way to make writers write.
 *
 * The suite never touches memory itself: it asks the subject to write or read a page "as the
 * application would", and watches what the {@link FaultSource} reports. A native backend implements
 * `write` with a worker thread writing real memory; a simulator schedules a virtual write.
 */
export interface ConformanceSubject {
  /**
   * A source in state `ready` (not started). Its regions must hold at least 8 pages each; two
   * regions of 16–64 pages are a good choice (the suite's cost grows with the page count). Nothing but
   * the suite (through {@link ConformanceSubject.write}) may write its memory: some checks fail on
   * events for pages they did not write.
   */
  readonly source: FaultSource;

  /**
   * Make a writer write to `page` of `region` and resolve when that write has completed, that is after
   * the writer was released when the page was protected. The write must change the page's contents.
   *
   * Concurrent calls are concurrent writers: up to {@link ConformanceHarness.concurrentWriters} writes
   * may be blocked at the same time. Must never be called on the thread that handles faults when that
   * would deadlock (a native backend uses worker threads). Rejects only on a harness failure.
   */
  write(region: number, page: number): Promise<void>;

  /** Make a reader read `page` of `region` (for example its first and last byte); resolve when done. */
  read(region: number, page: number): Promise<void>;

  /**
   * Optional: the page's contents at the moment `start()` protected it (length `pageSize`). When given,
   * the suite also checks what `read()` and copy-on-fault events return. Backends should provide it:
   * without it, consistency is not checked.
   */
  initialContents?(region: number, page: number): Uint8Array;

  /** Optional cleanup after the check (the suite has already called `source.stop()`). */
  dispose?(): Promise<void> | void;
}

/**
 * How the conformance suite creates and drives a backend. Only `create` is required; the timing
 * fields default to values that suit a real backend on a slow, shared machine, and a virtual-time
 * backend may shrink or grow them freely.
 */
export interface ConformanceHarness {
  /** A fresh, unstarted subject for one check. Called once per check (and per random run). */
  create(): ConformanceSubject | Promise<ConformanceSubject>;
  /**
   * The backend's `capabilities.copiesOnFault`, when known before a subject is created. With it,
   * {@link describeFaultSourceConformance} registers only the rules that apply to the backend's mode;
   * without it, rules for the other mode are registered and skipped at run time.
   */
  readonly copiesOnFault?: boolean;
  /** How many writes may be blocked at the same time (see {@link ConformanceSubject.write}). Default 4, min 1. */
  readonly concurrentWriters?: number;
  /** Clock time (ns) to wait for a fault event that must come. Default 2 s. */
  readonly eventTimeoutNs?: number;
  /** Clock time (ns) after which the suite concludes that no event or write completion is coming. Default 20 ms. */
  readonly quietNs?: number;
  /**
   * Allowed lateness (ns on the source's clock) of `waitForFaults(timeoutNs)` beyond its timeout, and
   * of `raisedAt`/`releasedAt` relative to the clock. Default 1 s: generous, because timers on a loaded
   * 2-core machine fire hundreds of milliseconds late; a virtual-time backend can use (nearly) 0.
   */
  readonly timingSlackNs?: number;
  /** Real-time guard (ms) for every awaited promise, so that a broken backend fails instead of hanging. Default 10 000. */
  readonly realTimeLimitMs?: number;
  /** Random runs for the property checks. Default 8. */
  readonly randomRuns?: number;
  /** Writes per random run. Default 48. */
  readonly randomWrites?: number;
  /** Seed of the property checks' random generator; failures report it. Default 0x5eed. */
  readonly seed?: number;
}

/** {@link ConformanceHarness} with every default filled in. */
export interface ResolvedHarness extends Required<Omit<ConformanceHarness, 'create' | 'copiesOnFault'>> {
  create(): Promise<ConformanceSubject>;
}

/** Fills in the defaults documented on {@link ConformanceHarness}. */
export function resolveHarness(h: ConformanceHarness): ResolvedHarness {
  return {
    create: async () => h.create(),
    concurrentWriters: Math.max(1, Math.floor(h.concurrentWriters ?? 4)),
    eventTimeoutNs: h.eventTimeoutNs ?? 2e9,
    quietNs: h.quietNs ?? 20e6,
    timingSlackNs: h.timingSlackNs ?? 1e9,
    realTimeLimitMs: h.realTimeLimitMs ?? 10_000,
    randomRuns: Math.max(1, Math.floor(h.randomRuns ?? 8)),
    randomWrites: Math.max(1, Math.floor(h.randomWrites ?? 48)),
    seed: h.seed ?? 0x5eed,
  };
}
