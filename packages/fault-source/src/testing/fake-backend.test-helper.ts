// A small in-memory FaultSource used to test the conformance suite itself. `bug` switches on one
// deliberate contract violation, so the tests can show that each check catches the violation it targets.
import { realClock } from '../clock.js';
import { assertMax, assertPageRange, assertTimeout } from '../regions.js';
import type {
  FaultSource,
  FaultSourceCapabilities,
  FaultSourceState,
  RegionInfo,
  WriteFault,
} from '../types.js';
import { FaultSourceStateError } from '../types.js';
import type { ConformanceHarness, ConformanceSubject } from './harness.js';

export type FakeBug =
  | 'none'
  | 'no-block'
  | 'write-before-block'
  | 'refault'
  | 'read-faults'
  | 'stop-keeps-writers'
  | 'stop-not-idempotent'
  | 'stop-before-start-throws'
  | 'start-twice-ok'
  | 'wait-ignores-stop'
  | 'wait-no-wake'
  | 'out-of-range'
  | 'no-state-error-before-start'
  | 'no-state-error-after-stop'
  | 'no-range-error'
  | 'range-error-unnamed'
  | 'timeout-early'
  | 'take-ignores-max'
  | 'lose-events'
  | 'cof-delivers-claimed'
  | 'cof-claim-ignores-owned'
  | 'cof-double'
  | 'cof-late-copy'
  | 'plain-claim-short';

const PAGE = 256;

class FakeSource implements FaultSource {
  readonly regions: RegionInfo[] = [
    { name: 'a', pageSize: PAGE, pageCount: 16 },
    { name: 'b', pageSize: PAGE, pageCount: 24 },
  ];
  readonly capabilities: FaultSourceCapabilities;
  readonly clock = realClock;
  state: FaultSourceState = 'ready';
  readonly memory = this.regions.map((r, i) => {
    const m = new Uint8Array(r.pageSize * r.pageCount);
    for (let j = 0; j < m.length; j++) m[j] = (j * 7 + i * 13) & 0xff;
    return m;
  });
  initial: Uint8Array[] = [];
  private protectedPages = this.regions.map((r) => new Uint8Array(r.pageCount));
  private claimed = this.regions.map((r) => new Uint8Array(r.pageCount));
  private owned = this.regions.map((r) => new Uint8Array(r.pageCount));
  private blocked: { region: number; page: number; wake: () => void }[] = [];
  private queue: WriteFault[] = [];
  private waiters = new Set<() => void>();
  private faultCount = 0;
  // What a backend that reuses one buffer for its takes' contents hands out; see `reuseContents`.
  private shared = new Uint8Array(0);

  constructor(
    readonly bug: FakeBug,
    copiesOnFault: boolean,
    readonly reuseContents = false,
  ) {
    this.capabilities = {
      knowsFaultTime: true,
      knowsThreadId: false,
      copiesOnFault,
      protectsUnpopulated: true,
    };
  }

  private guard(method: string): void {
    if (this.state === 'tracking') return;
    if (this.state === 'ready' && this.bug === 'no-state-error-before-start') return;
    if (this.state === 'stopped' && this.bug === 'no-state-error-after-stop') return;
    throw new FaultSourceStateError(method, this.state);
  }

  private range(region: number, first: number, count: number): void {
    if (this.bug === 'no-range-error') return;
    if (this.bug === 'range-error-unnamed') {
      try {
        assertPageRange(this.regions, region, first, count);
      } catch {
        throw new RangeError('bad arguments');
      }
      return;
    }
    assertPageRange(this.regions, region, first, count);
  }

  async start(): Promise<void> {
    if (this.state !== 'ready' && !(this.bug === 'start-twice-ok' && this.state === 'tracking')) {
      throw new FaultSourceStateError('start', this.state);
    }
    this.initial = this.memory.map((m) => m.slice());
    for (const p of this.protectedPages) p.fill(1);
    this.state = 'tracking';
  }

  private notify(): void {
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  private push(e: WriteFault): void {
    this.faultCount++;
    if (this.bug === 'lose-events' && this.faultCount % 3 === 0) return;
    this.queue.push(e);
    this.notify();
  }

  /** The writer side: what a writer thread would do. */
  write(region: number, page: number): Promise<void> {
    const apply = () => {
      this.memory[region]![page * PAGE] = (this.memory[region]![page * PAGE]! + 1) & 0xff;
    };
    if (this.state !== 'tracking' || !this.protectedPages[region]![page]) {
      apply();
      return Promise.resolve();
    }
    const raisedAt = this.clock.now();
    if (
      this.capabilities.copiesOnFault &&
      (!this.claimed[region]![page] || this.bug === 'cof-delivers-claimed')
    ) {
      if (this.bug === 'cof-late-copy') apply();
      const contents = this.memory[region]!.slice(page * PAGE, (page + 1) * PAGE);
      this.owned[region]![page] = 1;
      this.protectedPages[region]![page] = 0;
      const releasedAt = this.clock.now();
      this.push({ region, page, raisedAt, releasedAt, contents, fetchedAt: releasedAt });
      if (this.bug === 'cof-double')
        this.push({ region, page, raisedAt, releasedAt, contents, fetchedAt: releasedAt });
      if (this.bug !== 'cof-late-copy') apply();
      return Promise.resolve();
    }
    const out = this.regions[region]!.pageCount;
    const named = this.bug === 'out-of-range' && this.faultCount % 4 === 3 ? page + out : page;
    if (!this.capabilities.copiesOnFault) this.push({ region, page: named, raisedAt, fetchedAt: raisedAt });
    if (this.bug === 'no-block') {
      apply();
      return Promise.resolve();
    }
    if (this.bug === 'write-before-block') apply();
    return new Promise((resolve) => {
      this.blocked.push({
        region,
        page,
        wake: () => {
          if (this.bug !== 'write-before-block') apply();
          resolve();
        },
      });
    });
  }

  read(region: number, first: number, count: number): Uint8Array;
  read(region: number, first: number, count: number, asWriter?: boolean): Uint8Array {
    if (!asWriter) {
      this.guard('read');
      this.range(region, first, count);
    }
    return this.memory[region]!.subarray(first * PAGE, (first + count) * PAGE);
  }

  readerTouch(region: number, page: number): void {
    if (this.bug === 'read-faults' && this.state === 'tracking' && this.protectedPages[region]![page]) {
      const t = this.clock.now();
      this.push({ region, page, raisedAt: t, fetchedAt: t });
    }
  }

  takeFaults(max?: number): readonly WriteFault[] {
    this.guard('takeFaults');
    if (this.bug !== 'no-range-error') assertMax(max);
    const n =
      this.bug === 'take-ignores-max'
        ? this.queue.length
        : Math.min(max ?? Number.POSITIVE_INFINITY, this.queue.length);
    const now = this.clock.now();
    const taken = this.queue.splice(0, n).map((e) => ({ ...e, fetchedAt: now }));
    return this.reuseContents ? this.intoSharedBuffer(taken) : taken;
  }

  // The contract lets contents live only until the next take, as the native backend's do. Every take
  // scribbles over the whole buffer first, so a caller that keeps reading old contents sees garbage.
  private intoSharedBuffer(taken: WriteFault[]): WriteFault[] {
    if (this.shared.length < taken.length * PAGE) this.shared = new Uint8Array(taken.length * PAGE);
    this.shared.fill(0xee);
    return taken.map((e, i) => {
      if (!e.contents) return e;
      const slot = this.shared.subarray(i * PAGE, (i + 1) * PAGE);
      slot.set(e.contents);
      return { ...e, contents: slot };
    });
  }

  async waitForFaults(timeoutNs: number, max?: number): Promise<readonly WriteFault[]> {
    this.guard('waitForFaults');
    if (this.bug !== 'no-range-error') {
      assertTimeout(timeoutNs);
      assertMax(max);
    }
    if (this.queue.length === 0 && timeoutNs > 0 && this.bug !== 'timeout-early') {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, timeoutNs / 1e6);
        if (this.bug !== 'wait-no-wake') this.waiters.add(done);
      });
    }
    if (this.state !== 'tracking') return [];
    return this.takeFaults(max);
  }

  claim(region: number, first: number, count: number): number {
    this.guard('claim');
    this.range(region, first, count);
    let n = 0;
    if (this.bug === 'plain-claim-short') count = Math.max(1, count - 1);
    while (n < count) {
      if (
        this.capabilities.copiesOnFault &&
        this.owned[region]![first + n] &&
        this.bug !== 'cof-claim-ignores-owned'
      )
        break;
      this.claimed[region]![first + n] = 1;
      n++;
    }
    return n;
  }

  release(region: number, first: number, count: number): void {
    this.guard('release');
    this.range(region, first, count);
    for (let p = first; p < first + count; p++)
      if (this.bug !== 'refault') this.protectedPages[region]![p] = 0;
    this.wake((b) => b.region === region && b.page >= first && b.page < first + count);
  }

  private wake(match: (b: { region: number; page: number }) => boolean): void {
    const keep: typeof this.blocked = [];
    for (const b of this.blocked) (match(b) ? b.wake : () => keep.push(b))();
    this.blocked = keep;
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped' && this.bug === 'stop-not-idempotent') throw new Error('already stopped');
    if (this.state === 'ready' && this.bug === 'stop-before-start-throws')
      throw new FaultSourceStateError('stop', 'ready');
    this.state = 'stopped';
    for (const p of this.protectedPages) p.fill(0);
    if (this.bug !== 'stop-keeps-writers') this.wake(() => true);
    if (this.bug !== 'wait-ignores-stop') this.notify();
  }
}

/**
 * A harness over the fake, with timings short enough for unit tests. `reuseContents` makes the fake
 * hand out copy-on-fault contents in one buffer that each take overwrites, which the contract allows.
 */
export function fakeHarness(bug: FakeBug, copiesOnFault: boolean, reuseContents = false): ConformanceHarness {
  return {
    copiesOnFault,
    create(): ConformanceSubject {
      const source = new FakeSource(bug, copiesOnFault, reuseContents);
      return {
        source,
        write: (r, p) => source.write(r, p),
        read: async (r, p) => {
          source.readerTouch(r, p);
        },
        initialContents: (r, p) => source.initial[r]!.subarray(p * PAGE, (p + 1) * PAGE),
      };
    },
    eventTimeoutNs: 200e6,
    quietNs: 5e6,
    timingSlackNs: 100e6,
    realTimeLimitMs: 400,
    randomRuns: 3,
    randomWrites: 24,
  };
}
