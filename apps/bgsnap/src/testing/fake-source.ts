import type { FaultSource, FaultSourceState, RegionInfo, WriteFault } from '@bgsnap/fault-source';
import type { PageWriter } from '../save-loop/types.js';

/** A scheduled write by a pretend writer: at clock time `at`, set the first byte of a page. */
export interface FakeWrite {
  at: number;
  region: number;
  page: number;
  value: number;
}

/**
 * A tiny deterministic FaultSource for unit tests of the save loop: real bytes, a manual clock, and
 * writes that fault when they hit protected pages. Plain or copy-on-fault. Time advances by
 * `readCostNs` per page read and by waits.
 */
export class FakeSource implements FaultSource {
  readonly regions: RegionInfo[];
  readonly capabilities;
  readonly memory: Uint8Array[];
  readonly initial: Uint8Array[];
  state: FaultSourceState = 'ready';
  private t = 0;
  readonly clock = { now: (): number => this.t };
  private readonly protectedPages: Uint8Array[];
  private readonly fetchedByFaultPath: Uint8Array[];
  private queue: WriteFault[] = [];
  private blocked: FakeWrite[] = [];
  private writes: FakeWrite[];
  /** Ranges passed to release(), for assertions. */
  readonly releases: Array<[number, number, number]> = [];
  /** Order in which pages were released (region, page), fault and scan alike. */
  readonly releaseLog: string[] = [];
  readonly writerWaits: number[] = [];
  /** Every fault raised and every protected page released, in order, with the clock time. */
  readonly events: Array<{ kind: 'fault' | 'release'; key: string; at: number }> = [];
  /** Writers blocked on a protected page right now. */
  get blockedWriters(): number {
    return this.blocked.length;
  }
  /** Pages still write-protected right now. */
  get protectedCount(): number {
    let n = 0;
    for (const p of this.protectedPages) for (const b of p) n += b;
    return n;
  }
  /** Deliver every fault event twice (a late duplicate), to test that the loop skips it. */
  duplicateEvents = false;
  /** Events become visible to takeFaults() only this long after they were raised. */
  eventDelayNs = 0;
  private visibleAt: number[] = [];

  constructor(
    pageCounts: number[],
    writes: FakeWrite[],
    readonly copiesOnFault = false,
    readonly readCostNs = 1000,
    readonly pageSize = 64,
  ) {
    this.regions = pageCounts.map((pageCount, i) => ({ name: `r${i}`, pageSize, pageCount }));
    this.capabilities = {
      knowsFaultTime: true,
      knowsThreadId: false,
      copiesOnFault,
      protectsUnpopulated: true,
    };
    this.memory = pageCounts.map((n, r) => {
      const m = new Uint8Array(n * pageSize);
      for (let i = 0; i < m.length; i++) m[i] = (i * 31 + r * 7 + 1) & 0xff;
      return m;
    });
    this.initial = this.memory.map((m) => m.slice());
    this.protectedPages = pageCounts.map((n) => new Uint8Array(n));
    this.fetchedByFaultPath = pageCounts.map((n) => new Uint8Array(n));
    this.writes = [...writes].sort((a, b) => a.at - b.at);
  }

  private assertTracking(method: string): void {
    if (this.state !== 'tracking') throw new Error(`${method} in state ${this.state}`);
  }

  /** Advance the clock to `to`, performing the writes due by then. */
  advance(to: number): void {
    while (this.writes.length > 0 && this.writes[0]!.at <= to && this.blocked.length === 0) {
      const w = this.writes.shift()!;
      this.t = Math.max(this.t, w.at);
      // A write delayed behind a blocked writer happens (and faults) now, not when it was scheduled.
      this.apply({ ...w, at: this.t });
    }
    this.t = Math.max(this.t, to);
    this.checkStarted();
  }

  private apply(w: FakeWrite): void {
    const prot = this.protectedPages[w.region]!;
    if (this.state === 'tracking' && prot[w.page] === 1) {
      if (this.copiesOnFault) {
        const off = w.page * this.pageSize;
        const contents = this.memory[w.region]!.slice(off, off + this.pageSize);
        prot[w.page] = 0;
        this.fetchedByFaultPath[w.region]![w.page] = 1;
        const event = {
          region: w.region,
          page: w.page,
          fetchedAt: this.t,
          raisedAt: w.at,
          contents,
          releasedAt: this.t,
        };
        this.enqueue(event);
        this.memory[w.region]![off] = w.value;
        this.releaseLog.push(`${w.region}:${w.page}`);
        this.events.push({ kind: 'fault', key: `${w.region}:${w.page}`, at: this.t });
        return;
      }
      // The writer blocks (all writers, for simplicity: one writer) until released.
      this.blocked.push(w);
      const event = { region: w.region, page: w.page, fetchedAt: this.t, raisedAt: w.at };
      this.enqueue(event);
      this.events.push({ kind: 'fault', key: `${w.region}:${w.page}`, at: this.t });
      return;
    }
    this.memory[w.region]![w.page * this.pageSize] = w.value;
  }

  private enqueue(event: WriteFault): void {
    const n = this.duplicateEvents ? 2 : 1;
    for (let i = 0; i < n; i++) {
      this.queue.push(event);
      this.visibleAt.push(this.t + this.eventDelayNs);
    }
  }

  /** start() resolves only once the clock reaches this (a protect pass that takes time). */
  startDelayNs = 0;
  private startResolve: (() => void) | undefined;
  private startAt = 0;
  /** Clock time start() resolved. */
  startedAt = Number.NaN;

  start(): Promise<void> {
    if (this.state !== 'ready') throw new Error('start twice');
    this.state = 'tracking';
    for (const p of this.protectedPages) p.fill(1);
    if (this.startDelayNs <= 0) {
      this.startedAt = this.t;
      return Promise.resolve();
    }
    this.startAt = this.t + this.startDelayNs;
    return new Promise((resolve) => {
      this.startResolve = resolve;
    });
  }

  private checkStarted(): void {
    if (this.startResolve && this.t >= this.startAt) {
      this.startedAt = this.t;
      this.startResolve();
      this.startResolve = undefined;
    }
  }

  takeFaults(max = Number.POSITIVE_INFINITY): readonly WriteFault[] {
    this.assertTracking('takeFaults');
    this.advance(this.t);
    let visible = 0;
    while (visible < this.queue.length && visible < max && this.visibleAt[visible]! <= this.t) visible++;
    this.visibleAt.splice(0, visible);
    const out = this.queue.splice(0, visible);
    return out.map((f) => ({ ...f, fetchedAt: this.t }));
  }

  async waitForFaults(timeoutNs: number, max?: number): Promise<readonly WriteFault[]> {
    this.assertTracking('waitForFaults');
    if (this.queue.length === 0 || this.visibleAt[0]! > this.t) {
      const next = this.writes[0];
      let until = this.t + timeoutNs;
      if (this.visibleAt.length > 0) until = Math.min(until, this.visibleAt[0]!);
      this.advance(next && next.at <= until && this.blocked.length === 0 ? next.at : until);
    }
    return this.takeFaults(max);
  }

  claim(region: number, first: number, count: number): number {
    this.assertTracking('claim');
    if (!this.copiesOnFault) return count;
    let n = 0;
    while (n < count && this.fetchedByFaultPath[region]![first + n] === 0) n++;
    return n;
  }

  read(region: number, first: number, count: number): Uint8Array {
    this.assertTracking('read');
    const m = this.memory[region]!;
    this.t += this.readCostNs * count;
    return m.subarray(first * this.pageSize, (first + count) * this.pageSize);
  }

  release(region: number, first: number, count: number): void {
    this.assertTracking('release');
    this.releases.push([region, first, count]);
    const prot = this.protectedPages[region]!;
    for (let p = first; p < first + count; p++) {
      if (prot[p] === 1) {
        this.releaseLog.push(`${region}:${p}`);
        this.events.push({ kind: 'release', key: `${region}:${p}`, at: this.t });
      }
      prot[p] = 0;
    }
    const still: FakeWrite[] = [];
    for (const w of this.blocked) {
      if (w.region === region && w.page >= first && w.page < first + count) {
        this.writerWaits.push(this.t - w.at);
        this.memory[w.region]![w.page * this.pageSize] = w.value;
      } else still.push(w);
    }
    this.blocked = still;
    this.advance(this.t);
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    for (const p of this.protectedPages) p.fill(0);
    for (const w of this.blocked) this.memory[w.region]![w.page * this.pageSize] = w.value;
    this.blocked = [];
    this.state = 'stopped';
  }
}

/** A PageWriter that assembles the image in memory and checks every page is written exactly once. */
export class ImageWriter implements PageWriter {
  readonly images: Uint8Array[];
  readonly written: Uint8Array[];
  readonly order: string[] = [];
  needsDrain = false;
  drains = 0;
  /** Pages written since the last completed drain, and the most it ever reached (the buffer's peak). */
  sinceDrain = 0;
  maxSinceDrain = 0;

  constructor(
    readonly regions: readonly RegionInfo[],
    private readonly drainEvery = 0,
    private readonly drainImpl: () => Promise<void> = async () => {},
  ) {
    this.images = regions.map((r) => new Uint8Array(r.pageCount * r.pageSize));
    this.written = regions.map((r) => new Uint8Array(r.pageCount));
  }

  writePages(region: number, first: number, data: Uint8Array): void {
    const ps = this.regions[region]!.pageSize;
    const count = data.length / ps;
    if (!Number.isInteger(count) || count < 1) throw new Error(`bad length ${data.length}`);
    for (let p = first; p < first + count; p++) {
      if (this.written[region]![p] === 1) throw new Error(`page ${region}:${p} written twice`);
      this.written[region]![p] = 1;
      this.order.push(`${region}:${p}`);
    }
    this.images[region]!.set(data, first * ps);
    this.sinceDrain += count;
    this.maxSinceDrain = Math.max(this.maxSinceDrain, this.sinceDrain);
    // Like a stream writer's high-water mark: over it once drainEvery pages are buffered.
    if (this.drainEvery > 0 && this.sinceDrain >= this.drainEvery) this.needsDrain = true;
  }

  async drain(): Promise<void> {
    this.drains++;
    await this.drainImpl();
    this.sinceDrain = 0;
    this.needsDrain = false;
  }
}
