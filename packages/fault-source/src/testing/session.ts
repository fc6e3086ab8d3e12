import type { FaultSource, WriteFault } from '../types.js';
import { ConformanceError, check, firstDifference, within } from './assert.js';
import type { ConformanceSubject, ResolvedHarness } from './harness.js';

/** A write in flight, with a flag that turns true when it completed. */
export interface TrackedWrite {
  readonly region: number;
  readonly page: number;
  promise: Promise<void>;
  done: boolean;
}

/** Everything one check needs: the subject, the harness settings and helpers that never hang. */
export class Session {
  readonly source: FaultSource;
  /** Clock time before the first action of the check: every timestamp must be after it. */
  readonly t0: number;
  private readonly seen: WriteFault[] = [];
  private readonly matched = new Set<WriteFault>();
  // Contents as delivered: a backend may reuse the buffer at the next take, and expectFault() can hand
  // out an event taken several takes ago.
  private readonly keptContents = new Map<WriteFault, Uint8Array>();

  constructor(
    readonly subject: ConformanceSubject,
    readonly h: ResolvedHarness,
  ) {
    this.source = subject.source;
    this.t0 = this.source.clock.now();
  }

  get copiesOnFault(): boolean {
    return this.source.capabilities.copiesOnFault;
  }

  /** Every event taken through this session so far. */
  get events(): readonly WriteFault[] {
    return this.seen;
  }

  async start(): Promise<void> {
    await this.guard(this.source.start(), 'start()');
    check(
      this.source.state === 'tracking',
      `state after start() is '${this.source.state}', expected 'tracking'`,
    );
  }

  /** Awaits `p` under the real-time guard. */
  guard<T>(p: Promise<T>, what: string): Promise<T> {
    return within(p, this.h.realTimeLimitMs, what);
  }

  write(region: number, page: number): TrackedWrite {
    const w: TrackedWrite = { region, page, done: false, promise: Promise.resolve() };
    w.promise = this.subject.write(region, page).then(() => {
      w.done = true;
    });
    // An unobserved rejection would crash the runner; the check awaits the promise where it matters.
    w.promise.catch(() => {});
    return w;
  }

  async completes(w: TrackedWrite, why: string): Promise<void> {
    await this.guard(w.promise, `write to region ${w.region} page ${w.page} (${why})`);
  }

  /** Validates one event against the contract and records it. */
  validate(e: WriteFault): void {
    const { regions, capabilities, clock } = this.source;
    const slack = this.h.timingSlackNs;
    const where = `fault event ${JSON.stringify({ region: e.region, page: e.page })}`;
    check(
      Number.isInteger(e.region) && e.region >= 0 && e.region < regions.length,
      `${where}: region out of range`,
    );
    const pageCount = regions[e.region]!.pageCount;
    check(
      Number.isInteger(e.page) && e.page >= 0 && e.page < pageCount,
      `${where}: page outside [0, ${pageCount})`,
    );
    const now = clock.now();
    check(Number.isFinite(e.fetchedAt), `${where}: fetchedAt is not a finite number`);
    check(
      e.fetchedAt >= this.t0 - slack && e.fetchedAt <= now + slack,
      `${where}: fetchedAt ${e.fetchedAt} is not between the check's start ${this.t0} and now ${now} on the source's clock`,
    );
    if (capabilities.knowsFaultTime) {
      check(typeof e.raisedAt === 'number' && Number.isFinite(e.raisedAt), `${where}: raisedAt missing`);
      check(
        e.raisedAt >= this.t0 - slack && e.raisedAt <= e.fetchedAt + slack,
        `${where}: raisedAt ${e.raisedAt} is not between the check's start ${this.t0} and fetchedAt ${e.fetchedAt}`,
      );
    }
    if (capabilities.knowsThreadId) {
      check(typeof e.threadId === 'number', `${where}: threadId missing although knowsThreadId`);
    }
    if (e.contents !== undefined) {
      check(capabilities.copiesOnFault, `${where}: carries contents although copiesOnFault is false`);
      const size = regions[e.region]!.pageSize;
      check(
        e.contents.length === size,
        `${where}: contents has ${e.contents.length} bytes, expected ${size}`,
      );
      if (e.releasedAt !== undefined) {
        check(
          Number.isFinite(e.releasedAt) && e.releasedAt <= now + slack,
          `${where}: releasedAt is in the future`,
        );
        if (e.raisedAt !== undefined) {
          check(
            e.releasedAt >= e.raisedAt - slack,
            `${where}: releasedAt ${e.releasedAt} before raisedAt ${e.raisedAt}`,
          );
        }
      }
    }
    if (e.contents !== undefined) this.keptContents.set(e, e.contents.slice());
    this.seen.push(e);
  }

  /** takeFaults() with validation. */
  take(max?: number): readonly WriteFault[] {
    const got = this.source.takeFaults(max);
    check(Array.isArray(got), 'takeFaults() must return an array synchronously');
    for (const e of got) this.validate(e);
    return got;
  }

  /** waitForFaults() with validation, under the real-time guard. */
  async wait(timeoutNs: number, max?: number): Promise<readonly WriteFault[]> {
    const got = await this.guard(this.source.waitForFaults(timeoutNs, max), `waitForFaults(${timeoutNs})`);
    check(Array.isArray(got), 'waitForFaults() must resolve with an array');
    for (const e of got) this.validate(e);
    return got;
  }

  /**
   * Waits until an event naming `region`/`page` arrives, failing after `eventTimeoutNs` without one.
   * Events taken earlier but not yet matched count too, with their contents as they were delivered;
   * other events taken meanwhile are recorded in {@link Session.events}.
   */
  async expectFault(region: number, page: number): Promise<WriteFault> {
    const earlier = this.seen.find((e) => e.region === region && e.page === page && !this.matched.has(e));
    if (earlier) {
      this.matched.add(earlier);
      const kept = this.keptContents.get(earlier);
      return kept ? { ...earlier, contents: kept } : earlier;
    }
    const deadline = this.source.clock.now() + this.h.eventTimeoutNs;
    for (;;) {
      const left = deadline - this.source.clock.now();
      if (left <= 0) break;
      const got = await this.wait(left);
      const hit = got.find((e) => e.region === region && e.page === page);
      if (hit) {
        this.matched.add(hit);
        return hit;
      }
      if (got.length === 0) break;
    }
    throw new ConformanceError(
      `no fault event named region ${region} page ${page} within ${this.h.eventTimeoutNs} ns after a write to it`,
    );
  }

  /** Takes events for `quietNs` and returns those naming `region`/`page`. */
  async eventsFor(region: number, page: number): Promise<WriteFault[]> {
    const deadline = this.source.clock.now() + this.h.quietNs;
    const hits: WriteFault[] = [];
    for (;;) {
      const left = deadline - this.source.clock.now();
      if (left <= 0) break;
      const got = await this.wait(left);
      for (const e of got) if (e.region === region && e.page === page) hits.push(e);
      if (got.length === 0) break;
    }
    return hits;
  }

  /** Compares bytes with the subject's initial contents, when the subject provides them. */
  checkContents(region: number, page: number, bytes: Uint8Array, what: string): void {
    const init = this.subject.initialContents?.(region, page);
    if (!init) return;
    const at = firstDifference(bytes, init);
    check(
      at < 0,
      `${what} of region ${region} page ${page} differs from its contents at start() at byte ${at} (length ${bytes.length} vs ${init.length})`,
    );
  }

  /** Writes the middle page of `region` and awaits the fault event naming it. */
  async faultMid(region: number): Promise<{ page: number; w: TrackedWrite; e: WriteFault }> {
    const page = this.mid(region);
    const w = this.write(region, page);
    const e = await this.expectFault(region, page);
    return { page, w, e };
  }

  /** A page index of `region` chosen away from the edges, so ranges around it fit. */
  mid(region: number, offset = 0): number {
    const n = this.source.regions[region]!.pageCount;
    return (Math.floor(n / 2) + offset) % n;
  }

  async close(): Promise<void> {
    try {
      await within(this.source.stop(), this.h.realTimeLimitMs, 'stop() during cleanup');
    } finally {
      await this.subject.dispose?.();
    }
  }
}

/** Creates a subject, runs `body` with a session and always stops and disposes it. */
export async function withSession(
  h: ResolvedHarness,
  body: (s: Session) => Promise<void>,
  appliesTo?: 'plain' | 'copy-on-fault',
): Promise<'skipped' | undefined> {
  const subject = await within(h.create(), h.realTimeLimitMs, 'harness.create()');
  const s = new Session(subject, h);
  // A rule about one mode is not applicable to a backend in the other: the subject is closed unused.
  if (appliesTo !== undefined && s.copiesOnFault !== (appliesTo === 'copy-on-fault')) {
    await s.close();
    return 'skipped';
  }
  let failure: unknown;
  try {
    check(s.source.state === 'ready', `a fresh source must be in state 'ready', got '${s.source.state}'`);
    for (const [i, r] of s.source.regions.entries()) {
      check(r.pageCount >= 8, `harness: region ${i} has ${r.pageCount} pages; the suite needs at least 8`);
    }
    await body(s);
  } catch (e) {
    failure = e;
  }
  try {
    await s.close();
  } catch (e) {
    failure ??= e;
  }
  if (failure !== undefined) throw failure;
  return undefined;
}
