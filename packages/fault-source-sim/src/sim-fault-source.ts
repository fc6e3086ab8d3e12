import {
  assertMax,
  assertPageRange,
  assertTimeout,
  type FaultSource,
  type FaultSourceCapabilities,
  type FaultSourceState,
  FaultSourceStateError,
  type MonotonicClock,
  type RegionInfo,
  type WriteFault,
} from '@bgsnap/fault-source';
import { type ResolvedConfig, resolveConfig, type SimConfig } from './config.js';
import { FaultLog, type FaultRecords } from './fault-log.js';
import { initialVersion, PAGE_HEADER_BYTES, writePageHeader } from './page-contents.js';
import { mix32, Prng, subSeed } from './prng.js';
import type { TraceEntry } from './trace.js';
import { PageSampler } from './workload.js';

const RUNNING = 0;
const BLOCKED = 1;
const RESUMING = 2;

/**
 * Page state is two bits per page, interleaved in one Uint32Array (16 pages per word), so that the hot
 * path — a CPU write — touches a single word: bit 2k = protected, bit 2k+1 = written since `start()`.
 * Keeping per-page state this small matters: random access into a 4 MiB array costs ~60 ns here, into
 * a 64 MiB one ~370 ns.
 */
const PROTECTED_MASK = 0x55555555;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const MAGIC = 0xb65a0000;
const DIRTY_MASK = 0xaaaaaaaa;
/**
 * A summary above the page bits, two bits per group of 64 pages: bit 2k = every page of the group is
 * released, bit 2k+1 = written since the group was fully released. Once the scan has passed a part of
 * memory, writes there only touch this array (1/256 of the page bits: 512 KiB for 1 TiB, cache
 * resident), which halves the cost of simulated writes on large guests.
 */
const GROUP_SHIFT = 6;

/** What a poll that finds nothing returns: shared, frozen. */
const NO_FAULTS: readonly WriteFault[] = Object.freeze([]);

/** Read buffers rotate through this many, so a view stays valid across the next few read() calls. */
const READ_POOL = 4;

/** A writer: a virtual CPU, or a one-shot injected write (tests, conformance harness). */
class Writer {
  state = RUNNING;
  nextAt = Number.POSITIVE_INFINITY;
  page = -1;
  raisedAt = 0;
  faultId = -1;
  traceIndex = 0;

  constructor(
    readonly id: number,
    readonly rng: Prng | null,
    readonly sampler: PageSampler | null,
    readonly meanGapNs: number,
    readonly trace: TraceEntry[] | null,
    readonly done: (() => void) | null,
  ) {}
}

/** A raised fault on its way to the save loop. */
interface Pending {
  readonly fault: number;
  readonly page: number;
  readonly raisedAt: number;
  readonly writer: number;
  /** When the save loop can see it (plain) or the handler can take it (copy-on-fault). */
  visibleAt: number;
  releasedAt: number;
}

/** A sink (or anything else) waiting for virtual time to reach `at`. */
interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly fire: () => void;
}

/** Aggregate statistics of a simulation, for reports. Times in virtual ns. */
export interface SimStats {
  /** Current virtual time. */
  readonly now: number;
  /** Virtual time at which `start()` protected memory (NaN before). */
  readonly startedAt: number;
  /** Write attempts by all writers (including ones that faulted). */
  readonly writes: number;
  /** Faults raised. */
  readonly faults: number;
  /** Faults whose writer has resumed. */
  readonly faultsResolved: number;
  /** Fault events the save loop has taken. */
  readonly faultsFetched: number;
  /** Sum over resolved faults of raised → resumed: the time CPUs spent stalled on write protection. */
  readonly cpuStallNs: number;
  /** Longest raised → resumed latency so far. */
  readonly maxFaultLatencyNs: number;
  /** Writers currently blocked. */
  readonly blockedWriters: number;
  /** Pages returned by `read()` and the time charged for copying them. */
  readonly pagesRead: number;
  /** `read()` calls. */
  readonly readCalls: number;
  /** `claim()` calls. */
  readonly claimCalls: number;
  /** Pages `claim()` refused because the copy-on-fault path owned them. */
  readonly claimRefusals: number;
  /** `release()` calls (one simulated ioctl each). */
  readonly releaseCalls: number;
  /** Non-blocking polls: `takeFaults()` and `waitForFaults()` that did not sleep. */
  readonly pollCalls: number;
  /** Copy-on-fault: pages the handler copied, and how long it waited for a free buffer slot. */
  readonly handlerCopies: number;
  /** Copy-on-fault: total time the handler waited for buffer space. */
  readonly handlerBufferFullNs: number;
}

/** Ground-truth outcome of one fault, passed to {@link SimFaultSourceOptions.onFaultResolved}. */
export interface ResolvedFault {
  /** Region index. */
  readonly region: number;
  /** Page index within the region. */
  readonly page: number;
  /** The CPU index, or `cpus.length + k` for the k-th injected write. */
  readonly writer: number;
  /** When the writer hit the protected page (virtual ns). */
  readonly raisedAt: number;
  /** When the writer ran again (virtual ns). */
  readonly resumedAt: number;
  /** `resumedAt - raisedAt`: what the writer suffered. */
  readonly latencyNs: number;
}

/** Hooks that are not part of the (data-only, comparable) configuration. */
export interface SimFaultSourceOptions {
  /** Called when a blocked writer resumes, in virtual-time order. Must not call back into the source. */
  onFaultResolved?: (fault: ResolvedFault) => void;
}

/**
 * A {@link FaultSource} over simulated guest memory in virtual time. See the package README for the
 * model. Create it with {@link createSimFaultSource}.
 *
 * Virtual time advances only when the save loop waits or spends time: `waitForFaults()` (to the next
 * visible fault or the timeout), `read()` (copy cost per page), `release()` and polls (per-call
 * costs), and awaiting a simulated sink's write (when the save loop is otherwise idle, time jumps to
 * the sink's completion). CPUs run in between, in time order.
 */
export class SimFaultSource implements FaultSource {
  /** The simulated regions, in configuration order. */
  readonly regions: readonly RegionInfo[];
  /** Knows fault times and thread ids (CPU indices), protects unpopulated pages; copies on fault in that mode. */
  readonly capabilities: FaultSourceCapabilities;
  /** The virtual clock, in ns from the simulation's origin. */
  readonly clock: MonotonicClock;
  /** The validated configuration with defaults applied. */
  readonly config: ResolvedConfig;

  private _state: FaultSourceState = 'ready';
  private now = 0;
  private startedAt = Number.NaN;
  private readonly base: number[];
  private readonly totalPages: number;
  private readonly seedHash: number;
  private readonly cof: boolean;
  private readonly onFaultResolved: ((f: ResolvedFault) => void) | undefined;

  private readonly pageBits: Uint32Array;
  private readonly groupBits: Uint32Array;
  private readonly claimedBits: Uint32Array | null;
  private readonly ownedBits: Uint32Array | null;
  /** Writes that landed before `start()` (only possible if virtual time advanced before it). */
  private readonly preStartWrites = new Map<number, number>();

  private readonly cpus: Writer[];
  private blocked: Writer[] = [];
  private injected = 0;

  private pending: Pending[] = [];
  private pendingHead = 0;
  private handlerQueue: Pending[] = [];
  private handlerHead = 0;
  private handlerNextAt = Number.POSITIVE_INFINITY;
  private handlerCopying: Pending | null = null;
  private handlerWaitingSince = Number.NaN;
  private bufferUsed = 0;

  private timers: Timer[] = [];
  private timerSeq = 0;
  private activity = 0;
  private idleScheduled = false;
  private idleSeen = -1;

  private contentsRing: Uint8Array | null = null;
  private contentsSlot = 0;
  private readonly contentsSlots: number;
  private readonly contentsStride: number;
  /**
   * Reused read buffers, per region so that page boundaries always line up (a page's body must stay
   * zero); `headers[i]` says whether page slot i holds a non-zero header.
   */
  private readonly readPools: {
    bytes: Uint8Array;
    view: DataView;
    words: Uint32Array;
    headers: Uint8Array;
    /** The last view handed out, reused while the length repeats (scan runs mostly do). */
    last: Uint8Array;
    /** The view of the first page alone. */
    one: Uint8Array;
  }[][];
  private readonly readPoolNext: number[];
  /** Scratch for `read()`'s start versions: `versionsCount` pages from global page `versionsFrom`. */
  private versions = new Int32Array(64);
  private versionsFrom = -1;
  private versionsCount = 0;

  private readonly log: FaultLog;
  private s = {
    writes: 0,
    faults: 0,
    faultsResolved: 0,
    faultsFetched: 0,
    cpuStallNs: 0,
    maxFaultLatencyNs: 0,
    pagesRead: 0,
    readCalls: 0,
    claimCalls: 0,
    claimRefusals: 0,
    releaseCalls: 0,
    pollCalls: 0,
    handlerCopies: 0,
    handlerBufferFullNs: 0,
  };

  /** @throws SimConfigError listing every problem in `config`. */
  constructor(config: SimConfig, options: SimFaultSourceOptions = {}) {
    const cfg = resolveConfig(config);
    this.config = cfg;
    this.regions = cfg.regions.map((r) =>
      Object.freeze({ name: r.name, pageSize: r.pageSize, pageCount: r.pageCount }),
    );
    this.cof = cfg.mode === 'copy-on-fault';
    this.capabilities = Object.freeze({
      knowsFaultTime: true,
      knowsThreadId: true,
      copiesOnFault: this.cof,
      protectsUnpopulated: true,
    });
    this.clock = { now: () => this.now };
    this.onFaultResolved = options.onFaultResolved;
    this.base = [];
    let b = 0;
    for (const r of cfg.regions) {
      this.base.push(b);
      b += r.pageCount;
    }
    this.totalPages = b;
    this.seedHash = mix32(cfg.seed >>> 0, Math.floor(cfg.seed / 4294967296) >>> 0);
    const words = Math.ceil(b / 32);
    this.pageBits = new Uint32Array(Math.ceil(b / 16));
    this.groupBits = new Uint32Array(Math.ceil(b / 64 / 16));
    this.claimedBits = this.cof ? new Uint32Array(words) : null;
    this.ownedBits = this.cof ? new Uint32Array(words) : null;
    this.log = new FaultLog(cfg.recordFaults);
    this.readPools = cfg.regions.map(() => []);
    this.readPoolNext = cfg.regions.map(() => 0);
    this.contentsSlots = Math.max(1024, 4 * cfg.cof.bufferPages);
    this.contentsStride = Math.max(...cfg.regions.map((r) => r.pageSize));

    const traces = new Map<number, TraceEntry[]>();
    for (const e of cfg.trace) {
      const list = traces.get(e.cpu);
      if (list) list.push(e);
      else traces.set(e.cpu, [e]);
    }
    this.cpus = cfg.cpus.map((c, i) => {
      const rng = new Prng(subSeed(cfg.seed, i));
      const kind = c.workload.kind;
      const trace = kind === 'trace' ? (traces.get(i) ?? []) : null;
      const active = kind !== 'idle' && kind !== 'trace' && c.rate > 0;
      const w = new Writer(
        i,
        rng,
        active ? new PageSampler(c.workload, b) : null,
        active ? 1e9 / c.rate : 0,
        trace,
        null,
      );
      if (trace) w.nextAt = trace.length > 0 ? (trace[0] as TraceEntry).timeNs : Number.POSITIVE_INFINITY;
      else if (active) w.nextAt = rng.exponential(w.meanGapNs);
      return w;
    });
  }

  /** Current lifecycle state. */
  get state(): FaultSourceState {
    return this._state;
  }

  // ---------------------------------------------------------------- FaultSource

  /** Protects every page at the current virtual time (instantly: the simulation has no protect cost). */
  start(): Promise<void> {
    if (this._state !== 'ready') return Promise.reject(new FaultSourceStateError('start', this._state));
    this.activity++;
    this.pageBits.fill(PROTECTED_MASK);
    this.groupBits.fill(0);
    this.startedAt = this.now;
    this._state = 'tracking';
    return Promise.resolve();
  }

  /** {@inheritDoc @bgsnap/fault-source#FaultSource.takeFaults} Costs `pollNs` of virtual time. */
  takeFaults(max?: number): readonly WriteFault[] {
    this.guard('takeFaults');
    assertMax(max);
    this.activity++;
    this.s.pollCalls++;
    this.advanceTo(this.now + this.config.costs.pollNs, false);
    return this.collect(max);
  }

  /**
   * {@inheritDoc @bgsnap/fault-source#FaultSource.waitForFaults} Advances virtual time to the moment the
   * first fault becomes visible, or by `timeoutNs`; a poll (`0`, or faults already visible) costs `pollNs`.
   */
  waitForFaults(timeoutNs: number, max?: number): Promise<readonly WriteFault[]> {
    try {
      this.guard('waitForFaults');
      assertTimeout(timeoutNs);
      assertMax(max);
    } catch (e) {
      return Promise.reject(e);
    }
    this.activity++;
    // Deferred by one microtask so that writes injected right after the call are seen, as a real
    // backend would see a write raised while it waits.
    return Promise.resolve().then(() => {
      if (this._state !== 'tracking') return [];
      this.activity++;
      if (timeoutNs === 0 || this.visibleCount() > 0) {
        this.s.pollCalls++;
        this.advanceTo(this.now + this.config.costs.pollNs, false);
      } else {
        // Sleep until the first fault is visible (or the timeout), then pay the wake-up latency,
        // during which the CPUs keep running and more faults may arrive.
        const deadline = this.now + timeoutNs;
        this.advanceTo(deadline, true);
        if (this.now < deadline)
          this.advanceTo(Math.min(deadline, this.now + this.config.costs.pollWakeNs), false);
      }
      return this.collect(max);
    });
  }

  /** {@inheritDoc @bgsnap/fault-source#FaultSource.claim} */
  claim(region: number, first: number, count: number): number {
    this.guard('claim');
    assertPageRange(this.regions, region, first, count);
    this.activity++;
    this.s.claimCalls++;
    if (!this.cof) return count;
    const owned = this.ownedBits as Uint32Array;
    const claimed = this.claimedBits as Uint32Array;
    const g0 = (this.base[region] as number) + first;
    let n = 0;
    while (n < count) {
      const g = g0 + n;
      const w = g >>> 5;
      const bit = 1 << (g & 31);
      if ((owned[w] as number) & bit) break;
      claimed[w] = (claimed[w] as number) | bit;
      n++;
    }
    if (n === 0) this.s.claimRefusals++;
    return n;
  }

  /**
   * {@inheritDoc @bgsnap/fault-source#FaultSource.read} Costs `count × copyPageNs`. The view is one of
   * four rotating buffers per region: valid across the next three `read()` calls of that region.
   */
  read(region: number, first: number, count: number): Uint8Array {
    this.guard('read');
    assertPageRange(this.regions, region, first, count);
    this.activity++;
    const size = (this.regions[region] as RegionInfo).pageSize;
    const bytes = count * size;
    const pool = this.readPools[region] as SimFaultSource['readPools'][number];
    const next = this.readPoolNext[region] as number;
    let slot = pool[next];
    if (!slot || slot.bytes.length < bytes) {
      const buf = new Uint8Array(Math.max(bytes, slot ? slot.bytes.length * 2 : 0));
      slot = {
        bytes: buf,
        view: new DataView(buf.buffer),
        words: new Uint32Array(buf.buffer),
        headers: new Uint8Array(Math.ceil(buf.length / size)),
        last: buf.subarray(0, 0),
        one: buf.subarray(0, size),
      };
      pool[next] = slot;
    }
    this.readPoolNext[region] = (next + 1) % READ_POOL;
    const g0 = (this.base[region] as number) + first;
    if (LITTLE_ENDIAN) {
      // Same bytes as writePageHeader, without DataView calls: this loop runs for every scanned page.
      // Zero pages whose slot already holds zeros are skipped: touching the buffer costs a cache miss
      // per page (headers are a page apart), the small `headers` array does not.
      const words = slot.words;
      const headers = slot.headers;
      const stride = size >>> 2;
      const tag = (MAGIC | (region & 0xffff)) >>> 0;
      const versions = this.versionScratch(count);
      this.startVersionsInto(region, first, count, versions);
      this.versionsFrom = g0;
      this.versionsCount = count;
      for (let i = 0, o = 0; i < count; i++, o += stride) {
        const v = (versions[i] as number) + this.dirtyBit(g0 + i); // read() runs only while tracking
        if (v === 0) {
          if (headers[i] === 1) {
            words[o] = 0;
            words[o + 1] = 0;
            words[o + 2] = 0;
            words[o + 3] = 0;
            headers[i] = 0;
          }
        } else {
          headers[i] = 1;
          const page = first + i;
          words[o] = page >>> 0;
          words[o + 1] = Math.floor(page / 4294967296);
          words[o + 2] = v;
          words[o + 3] = tag;
        }
      }
    } else {
      for (let i = 0; i < count; i++)
        writePageHeader(slot.view, i * size, region, first + i, this.versionOf(g0 + i));
    }
    this.s.pagesRead += count;
    this.s.readCalls++;
    this.advanceTo(this.now + count * this.config.costs.copyPageNs, false);
    // A view per call was a third of the simulation's garbage at 64-page scan steps.
    if (bytes === size) return slot.one; // a fault's page
    if (slot.last.length !== bytes) slot.last = slot.bytes.subarray(0, bytes);
    return slot.last;
  }

  /** {@inheritDoc @bgsnap/fault-source#FaultSource.release} Costs `releaseCallNs`; woken CPUs run `wakeNs` later. */
  release(region: number, first: number, count: number): void {
    this.guard('release');
    assertPageRange(this.regions, region, first, count);
    this.activity++;
    this.s.releaseCalls++;
    const g0 = (this.base[region] as number) + first;
    this.unprotect(g0, count);
    if (this.blocked.length > 0) this.wakeRange(g0, g0 + count, this.now);
    this.advanceTo(this.now + this.config.costs.releaseCallNs, false);
  }

  /** {@inheritDoc @bgsnap/fault-source#FaultSource.stop} Writers resume `wakeNs` later; CPUs keep running. */
  stop(): Promise<void> {
    if (this._state === 'stopped') return Promise.resolve();
    this.activity++;
    const wasTracking = this._state === 'tracking';
    this._state = 'stopped';
    if (wasTracking) {
      const bits = this.pageBits;
      for (let i = 0; i < bits.length; i++) bits[i] = (bits[i] as number) & DIRTY_MASK;
      const groups = this.groupBits;
      for (let i = 0; i < groups.length; i++) groups[i] = (groups[i] as number) | PROTECTED_MASK;
      this.wakeRange(0, this.totalPages, this.now);
      this.pending = [];
      this.pendingHead = 0;
      this.handlerQueue = [];
      this.handlerHead = 0;
      this.handlerCopying = null;
      this.handlerNextAt = Number.POSITIVE_INFINITY;
    }
    return Promise.resolve();
  }

  // ---------------------------------------------------------------- simulation API

  /**
   * Makes a one-shot writer write `page` of `region` now (for tests and conformance harnesses). Resolves
   * when the write landed: at once for an unprotected page, else when the page is released (the
   * writer's wake-up cost is not charged, so the promise needs no further virtual time).
   */
  injectWrite(region: number, page: number): Promise<void> {
    assertPageRange(this.regions, region, page, 1);
    this.activity++;
    return new Promise((resolve) => {
      const w = new Writer(this.cpus.length + this.injected++, null, null, 0, null, resolve);
      w.page = (this.base[region] as number) + page;
      this.attempt(w, this.now);
    });
  }

  /**
   * Version of a page when `start()` protected it: what a correct snapshot contains. Before `start()`,
   * the version it would have if started now.
   */
  startVersion(region: number, page: number): number {
    assertPageRange(this.regions, region, page, 1);
    return this.startVersionOf((this.base[region] as number) + page);
  }

  /** {@link SimFaultSource.startVersion} for a page the caller has range-checked (the oracle's hot path). @internal */
  startVersionUnchecked(region: number, page: number): number {
    return this.startVersionOf((this.base[region] as number) + page);
  }

  /**
   * {@link SimFaultSource.startVersion} of `count` pages from `first` into `out` (the oracle's and
   * `read()`'s hot path: one tight loop per run instead of a call and a map check per page). The
   * caller range-checks. @internal
   */
  startVersionsInto(region: number, first: number, count: number, out: Int32Array): void {
    const g0 = (this.base[region] as number) + first;
    if (out !== this.versions && g0 === this.versionsFrom && count <= this.versionsCount) {
      // The oracle checks what read() just returned: its start versions are already computed.
      out.set(this.versions.subarray(0, count));
      return;
    }
    const seedHash = this.seedHash;
    const threshold = this.config.initialFill * 4294967296;
    const extra = this.preStartWrites.size === 0 ? null : this.preStartWrites;
    for (let i = 0; i < count; i++) {
      const g = g0 + i;
      // initialVersion(seedHash, fill, g), inlined: this runs twice for every page of a snapshot.
      const h = mix32((g >>> 0) ^ seedHash, Math.floor(g / 4294967296));
      let v = h >= threshold ? 0 : 1 + (mix32(h, 0x7e57) & 0xff);
      if (extra) v += extra.get(g) ?? 0;
      out[i] = v;
    }
  }

  /**
   * Version of a page now. Writes after `start()` are not counted, only flagged: a page written since
   * its release reads as its start version + 1 whatever the number of writes. Once all 64 pages of its
   * group are released, the flag is kept per group (any write to the group marks all of them). Either
   * way a page read after its release differs from its start version whenever writers touched it,
   * which is what exposes a save loop that reads after releasing.
   */
  currentVersion(region: number, page: number): number {
    assertPageRange(this.regions, region, page, 1);
    return this.versionOf((this.base[region] as number) + page);
  }

  /** Aggregate statistics (a fresh object each call). */
  get stats(): SimStats {
    return {
      ...this.s,
      now: this.now,
      startedAt: this.startedAt,
      blockedWriters: this.blocked.length,
    };
  }

  /** Copies of the per-fault records (raised, fetched, resumed, page, writer), when `recordFaults`. */
  faultLog(): FaultRecords {
    return this.log.snapshot();
  }

  /**
   * True write-fault latencies (raised → writer resumed) of every resolved fault, in raise order.
   * Requires `recordFaults` (the default).
   */
  faultLatencies(): Float64Array {
    const r = this.log.snapshot();
    const out = new Float64Array(r.count);
    let n = 0;
    for (let i = 0; i < r.count; i++) {
      const d = (r.resumedAt[i] as number) - (r.raisedAt[i] as number);
      if (!Number.isNaN(d)) out[n++] = d;
    }
    return out.slice(0, n);
  }

  /**
   * Runs `fire` when virtual time reaches `at`. Used by simulated sinks; when nothing else drives the
   * simulation, an idle check on the event loop advances time to the earliest timer.
   * @internal
   */
  schedule(at: number, fire: () => void): void {
    const t: Timer = { at: Math.max(at, this.now), seq: this.timerSeq++, fire };
    let i = this.timers.length;
    while (i > 0 && (this.timers[i - 1] as Timer).at > t.at) i--;
    this.timers.splice(i, 0, t);
    this.armIdle();
  }

  /** Marks save-loop activity, so the idle check does not jump time while the loop is busy. @internal */
  touch(): void {
    this.activity++;
  }

  // ---------------------------------------------------------------- engine

  private guard(method: string): void {
    if (this._state !== 'tracking') throw new FaultSourceStateError(method, this._state);
  }

  private startVersionOf(g: number): number {
    const v = initialVersion(this.seedHash, this.config.initialFill, g);
    return this.preStartWrites.size === 0 ? v : v + (this.preStartWrites.get(g) ?? 0);
  }

  /** Whether page `g` was written since its release (tracking only): what `versionOf` adds. */
  private dirtyBit(g: number): number {
    const q = g >>> GROUP_SHIFT;
    const group = ((this.groupBits[q >>> 4] as number) >>> ((q & 15) << 1)) & 3;
    return group === 3 ? 1 : ((this.pageBits[g >>> 4] as number) >>> (((g & 15) << 1) + 1)) & 1;
  }

  /** A reused array for `count` versions. */
  private versionScratch(count: number): Int32Array {
    if (this.versions.length < count)
      this.versions = new Int32Array(Math.max(count, 2 * this.versions.length));
    return this.versions;
  }

  private versionOf(g: number): number {
    if (this._state === 'ready') return this.startVersionOf(g);
    return this.startVersionOf(g) + this.dirtyBit(g);
  }

  /** A write lands on an unprotected page. */
  private land(g: number): void {
    if (this._state === 'ready') {
      this.preStartWrites.set(g, (this.preStartWrites.get(g) ?? 0) + 1);
      return;
    }
    const q = g >>> GROUP_SHIFT;
    const gw = q >>> 4;
    const shift = (q & 15) << 1;
    const group = this.groupBits[gw] as number;
    if ((group >>> shift) & 1) {
      this.groupBits[gw] = group | (2 << shift);
      return;
    }
    const w = g >>> 4;
    this.pageBits[w] = (this.pageBits[w] as number) | (2 << ((g & 15) << 1));
  }

  private isProtected(g: number): boolean {
    const q = g >>> GROUP_SHIFT;
    if (((this.groupBits[q >>> 4] as number) >>> ((q & 15) << 1)) & 1) return false;
    return (((this.pageBits[g >>> 4] as number) >>> ((g & 15) << 1)) & 1) !== 0;
  }

  /** Marks the groups overlapping [g0, g1) whose pages are all released. */
  private updateGroups(g0: number, g1: number): void {
    const bits = this.pageBits;
    const groups = this.groupBits;
    const last = Math.min(Math.ceil(g1 / 64), Math.ceil(this.totalPages / 64));
    for (let q = g0 >>> GROUP_SHIFT; q < last; q++) {
      const w = q << 2; // 64 pages = 4 words of page bits
      let prot = 0;
      for (let i = w; i < w + 4 && i < bits.length; i++) prot |= (bits[i] as number) & PROTECTED_MASK;
      if (prot === 0) groups[q >>> 4] = (groups[q >>> 4] as number) | (1 << ((q & 15) << 1));
    }
  }

  /** Clears the protected bit of `count` pages from `g0`, whole words at a time in the middle. */
  private unprotect(g0: number, count: number): void {
    const bits = this.pageBits;
    let g = g0;
    const end = g0 + count;
    while (g < end && (g & 15) !== 0) {
      bits[g >>> 4] = (bits[g >>> 4] as number) & ~(1 << ((g & 15) << 1));
      g++;
    }
    while (g + 16 <= end) {
      bits[g >>> 4] = (bits[g >>> 4] as number) & DIRTY_MASK;
      g += 16;
    }
    while (g < end) {
      bits[g >>> 4] = (bits[g >>> 4] as number) & ~(1 << ((g & 15) << 1));
      g++;
    }
    this.updateGroups(g0, end);
  }

  /** A write attempt by `w` at time `t` to `w.page` (already chosen). */
  private attempt(w: Writer, t: number): void {
    this.s.writes++;
    const g = w.page;
    if (this._state === 'tracking' && this.isProtected(g)) {
      w.state = BLOCKED;
      w.nextAt = Number.POSITIVE_INFINITY;
      w.raisedAt = t;
      this.s.faults++;
      w.faultId = this.log.add(t, g, w.id);
      this.blocked.push(w);
      const p: Pending = {
        fault: w.faultId,
        page: g,
        raisedAt: t,
        writer: w.id,
        visibleAt: t + this.config.costs.faultDeliveryNs,
        releasedAt: Number.NaN,
      };
      if (this.cof) {
        this.handlerQueue.push(p);
        if (!this.handlerCopying && this.handlerNextAt === Number.POSITIVE_INFINITY)
          this.scheduleHandler(true);
      } else {
        this.pending.push(p);
      }
      return;
    }
    this.land(g);
    if (w.done) w.done();
    else this.scheduleNext(w, t);
  }

  private scheduleNext(w: Writer, t: number): void {
    w.state = RUNNING;
    if (w.trace) {
      const next = w.trace[w.traceIndex];
      w.nextAt = next ? Math.max(t, next.timeNs) : Number.POSITIVE_INFINITY;
    } else if (w.sampler) {
      w.nextAt = t + (w.rng as Prng).exponential(w.meanGapNs);
    } else {
      w.nextAt = Number.POSITIVE_INFINITY;
    }
  }

  /** A CPU event at time `t`: finish a resumed write, or attempt the next one. */
  private cpuStep(w: Writer, t: number): void {
    if (w.state === RESUMING) {
      this.land(w.page);
      this.scheduleNext(w, t);
      return;
    }
    if (w.trace) {
      const e = w.trace[w.traceIndex++] as TraceEntry;
      w.page = e.page;
    } else {
      w.page = (w.sampler as PageSampler).next(w.rng as Prng);
    }
    this.attempt(w, t);
  }

  /** Resumes every blocked writer whose page is in [g0, g1), at `now` (+ wake cost for CPUs). */
  private wakeRange(g0: number, g1: number, now: number): void {
    const keep: Writer[] = [];
    for (const w of this.blocked) {
      if (w.page < g0 || w.page >= g1) {
        keep.push(w);
        continue;
      }
      const resumeAt = w.done ? now : now + this.config.costs.wakeNs;
      const latency = resumeAt - w.raisedAt;
      this.s.faultsResolved++;
      this.s.cpuStallNs += latency;
      if (latency > this.s.maxFaultLatencyNs) this.s.maxFaultLatencyNs = latency;
      this.log.resumed(w.faultId, resumeAt);
      if (this.onFaultResolved) {
        const r = this.regionOf(w.page);
        this.onFaultResolved({
          region: r,
          page: w.page - (this.base[r] as number),
          writer: w.id,
          raisedAt: w.raisedAt,
          resumedAt: resumeAt,
          latencyNs: latency,
        });
      }
      if (w.done) {
        this.land(w.page);
        w.state = RUNNING;
        w.done();
      } else {
        w.state = RESUMING;
        w.nextAt = resumeAt;
      }
    }
    this.blocked = keep;
  }

  private regionOf(g: number): number {
    let r = this.base.length - 1;
    while (r > 0 && (this.base[r] as number) > g) r--;
    return r;
  }

  /** Plans the handler's next start; `sleeping` adds its wake-up latency. */
  private scheduleHandler(sleeping: boolean): void {
    if (this.handlerCopying || this._state !== 'tracking') return;
    const head = this.handlerQueue[this.handlerHead];
    if (!head) {
      this.handlerNextAt = Number.POSITIVE_INFINITY;
      return;
    }
    if (this.bufferUsed >= this.config.cof.bufferPages) {
      if (Number.isNaN(this.handlerWaitingSince)) this.handlerWaitingSince = this.now;
      this.handlerNextAt = Number.POSITIVE_INFINITY;
      return;
    }
    this.handlerNextAt = Math.max(this.now, head.visibleAt) + (sleeping ? this.config.costs.pollWakeNs : 0);
  }

  /** The copy-on-fault handler thread: start a copy, or finish one. */
  private handlerStep(t: number): void {
    const copying = this.handlerCopying;
    if (copying) {
      // Copy done: the page belongs to the fault path and is released; its writers resume.
      this.handlerCopying = null;
      this.unprotect(copying.page, 1);
      copying.releasedAt = t;
      copying.visibleAt = t;
      this.pending.push(copying);
      this.s.handlerCopies++;
      this.wakeRange(copying.page, copying.page + 1, t);
      this.scheduleHandler(false);
      return;
    }
    while (this.handlerHead < this.handlerQueue.length) {
      const p = this.handlerQueue[this.handlerHead] as Pending;
      if (p.visibleAt > t) {
        this.handlerNextAt = p.visibleAt + this.config.costs.pollWakeNs;
        return;
      }
      const g = p.page;
      const w = g >>> 5;
      const bit = 1 << (g & 31);
      // Stale (already released) or claimed by the scan: the writer waits for the scan's release.
      if (!this.isProtected(g) || ((this.claimedBits as Uint32Array)[w] as number) & bit) {
        this.handlerHead++;
        continue;
      }
      this.handlerHead++;
      (this.ownedBits as Uint32Array)[w] = ((this.ownedBits as Uint32Array)[w] as number) | bit;
      this.bufferUsed++;
      this.handlerCopying = p;
      this.handlerNextAt = t + this.config.cof.copyNs;
      this.compactHandlerQueue();
      return;
    }
    this.compactHandlerQueue();
    this.handlerNextAt = Number.POSITIVE_INFINITY;
  }

  private compactHandlerQueue(): void {
    if (this.handlerHead > 1024 && this.handlerHead * 2 > this.handlerQueue.length) {
      this.handlerQueue = this.handlerQueue.slice(this.handlerHead);
      this.handlerHead = 0;
    }
  }

  /**
   * Runs every CPU and handler event up to virtual time `target`, in time order (ties: CPUs by index,
   * then the handler), then fires due timers. With `untilFault`, stops early at the moment the first
   * pending fault becomes visible to the save loop.
   */
  private advanceTo(target: number, untilFault: boolean): void {
    const cpus = this.cpus;
    const n = cpus.length;
    let limit = target;
    for (;;) {
      if (untilFault && this.pendingHead < this.pending.length) {
        const v = (this.pending[this.pendingHead] as Pending).visibleAt;
        if (v < limit) limit = Math.max(v, this.now);
      }
      let t = this.handlerNextAt;
      let who: Writer | null = null;
      for (let i = 0; i < n; i++) {
        const w = cpus[i] as Writer;
        if (w.nextAt < t || (who === null && w.nextAt === t)) {
          t = w.nextAt;
          who = w;
        }
      }
      if (t > limit) break;
      this.now = t;
      if (who) this.cpuStep(who, t);
      else this.handlerStep(t);
    }
    if (limit > this.now) this.now = limit;
    if (this.timers.length > 0) this.fireTimers();
  }

  private fireTimers(): void {
    while (this.timers.length > 0 && (this.timers[0] as Timer).at <= this.now) {
      (this.timers.shift() as Timer).fire();
    }
  }

  private armIdle(): void {
    if (this.idleScheduled) return;
    this.idleScheduled = true;
    this.idleSeen = this.activity;
    setImmediate(() => this.idleCheck());
  }

  private idleCheck(): void {
    this.idleScheduled = false;
    if (this.timers.length === 0) return;
    if (this.activity === this.idleSeen) {
      // Nobody called into the simulation since the last check: the save loop is waiting for a timer
      // (a sink write), so virtual time jumps to it while the CPUs keep running.
      this.advanceTo((this.timers[0] as Timer).at, false);
    }
    if (this.timers.length > 0) this.armIdle();
  }

  private visibleCount(): number {
    let n = 0;
    for (let i = this.pendingHead; i < this.pending.length; i++) {
      if ((this.pending[i] as Pending).visibleAt > this.now) break;
      n++;
    }
    return n;
  }

  /**
   * A slot of the ring copy-on-fault contents are cut from. Allocating typed arrays per fault cost
   * 5–10 µs per 4 KiB here (external-memory GC pressure), far more than everything else a fault does,
   * so contents are views into one preallocated ring, as a native backend's bounded buffer would be.
   */
  private nextContentsSlot(size: number): Uint8Array {
    if (!this.contentsRing) this.contentsRing = new Uint8Array(this.contentsSlots * this.contentsStride);
    const at = this.contentsSlot * this.contentsStride;
    this.contentsSlot = (this.contentsSlot + 1) % this.contentsSlots;
    const view = this.contentsRing.subarray(at, at + size);
    view.fill(0, PAGE_HEADER_BYTES); // the previous owner may have written into its copy
    return view;
  }

  private collect(max: number | undefined): readonly WriteFault[] {
    const limit = max ?? Number.POSITIVE_INFINITY;
    const now = this.now;
    let end = this.pendingHead;
    while (end - this.pendingHead < limit && end < this.pending.length) {
      if ((this.pending[end] as Pending).visibleAt > now) break;
      end++;
    }
    if (end === this.pendingHead) return NO_FAULTS; // the common poll: no array to collect
    const out: WriteFault[] = [];
    for (; this.pendingHead < end; this.pendingHead++) {
      const p = this.pending[this.pendingHead] as Pending;
      const r = this.regionOf(p.page);
      const page = p.page - (this.base[r] as number);
      this.log.fetched(p.fault, now);
      this.s.faultsFetched++;
      if (this.cof) {
        const contents = this.nextContentsSlot((this.regions[r] as RegionInfo).pageSize);
        writePageHeader(
          new DataView(contents.buffer, contents.byteOffset, contents.byteLength),
          0,
          r,
          page,
          this.startVersionOf(p.page),
        );
        out.push({
          region: r,
          page,
          fetchedAt: now,
          raisedAt: p.raisedAt,
          threadId: p.writer,
          releasedAt: p.releasedAt,
          contents,
        });
      } else {
        out.push({ region: r, page, fetchedAt: now, raisedAt: p.raisedAt, threadId: p.writer });
      }
    }
    if (this.pendingHead > 1024 && this.pendingHead * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.pendingHead);
      this.pendingHead = 0;
    }
    if (this.cof && out.length > 0) {
      this.bufferUsed -= out.length;
      if (!Number.isNaN(this.handlerWaitingSince)) {
        this.s.handlerBufferFullNs += now - this.handlerWaitingSince;
        this.handlerWaitingSince = Number.NaN;
      }
      if (!this.handlerCopying && this.handlerNextAt === Number.POSITIVE_INFINITY) this.scheduleHandler(true);
    }
    return out;
  }
}

/**
 * Creates a simulated fault source.
 * @throws SimConfigError listing every problem in `config`.
 */
export function createSimFaultSource(config: SimConfig, options?: SimFaultSourceOptions): SimFaultSource {
  return new SimFaultSource(config, options);
}
