import { isMainThread } from 'node:worker_threads';
import {
  type FaultSource,
  type FaultSourceCapabilities,
  type FaultSourceState,
  FaultSourceStateError,
  type MonotonicClock,
  type RegionInfo,
  type WriteFault,
} from '@bgsnap/fault-source';
import { native } from './errors.js';
import { loadNative, type NativeBinding, type NativeSession, type NativeStats } from './native.js';
import { MAX_TRACKED_BYTES, MAX_VIEW_BYTES, TrackedMemory, tokenOf } from './tracked-memory.js';

/**
 * How faults are served.
 * - `plain`: as in QEMU. The save loop receives the event, reads the page, saves it, releases it; the
 *   writer waits until then.
 * - `copy-on-fault`: the addon's fault thread copies the page into a bounded buffer and releases it at
 *   once; the event carries the copy. Writers never wait on the save loop or the output stream (unless
 *   the buffer is full).
 * - `in-thread`: as `copy-on-fault`, but the faulting thread itself copies and releases the page, in a
 *   SIGBUS handler (`UFFD_FEATURE_SIGBUS`): the writer does not wait to be scheduled behind a fault
 *   thread. Hazard: the kernel's own writes into tracked memory during a snapshot (`fs.readSync()` or
 *   a socket read into a tracked buffer) fail with `EFAULT` instead of waiting. See the README.
 */
export type UffdMode = 'plain' | 'copy-on-fault' | 'in-thread';

const MODES: readonly UffdMode[] = ['plain', 'copy-on-fault', 'in-thread'];

/** One region to track: a name for snapshot headers and the memory. */
export interface UffdRegionSpec {
  /** Unique, non-empty name. */
  readonly name: string;
  /** The memory; the fault source holds its own reference while it runs. */
  readonly memory: TrackedMemory;
}

/** Options of {@link createUffdFaultSource}. */
export interface UffdFaultSourceOptions {
  /** The regions, in the order of {@link FaultSource.regions}. At least one; each memory at most once. */
  readonly regions: readonly UffdRegionSpec[];
  /** Default `plain`. */
  readonly mode?: UffdMode;
  /**
   * Bytes write-protected per `UFFDIO_WRITEPROTECT` call during `start()` (a page multiple of at least one
   * page; default 128 MiB; a value ≥ the region size protects it in one call). On huge-page regions it
   * is rounded up to a multiple of 2 MiB, so that no chunk edge splits a huge page. Faults on protected
   * chunks are served while later chunks are protected, so a writer never waits for the whole pass.
   */
  readonly protectChunkBytes?: number;
  /**
   * Copy-on-fault and in-thread: pages of copies the backend may hold before JS takes them (1 to
   * 1 048 576; default 1024 = 4 MiB, about 50 ms of two writers faulting on distinct pages at 10 000
   * faults/s each: enough that a save loop taking faults between scan batches never lets it fill).
   * When it is full a faulting writer waits for the save loop (counted in `slotWaits`). In-thread mode
   * keeps 16 more pages as a reserve for the save loop's own thread, which must not wait on itself,
   * and backs the whole buffer with memory at creation (a writer's SIGBUS handler then never takes a
   * page fault on a slot); copy-on-fault reserves only address space until slots are used.
   */
  readonly copyBufferPages?: number;
  /**
   * Protect untouched pages without populating them (`UFFD_FEATURE_WP_UNPOPULATED`, Linux 6.4+), default
   * `true`. When `false` or unavailable, `start()` reads one byte of every page first, as QEMU does.
   */
  readonly protectUnpopulated?: boolean;
}

/** What the kernel gave this fault source. */
export interface UffdDetails {
  /** How the userfaultfd was opened: `/dev/userfaultfd`, `userfaultfd(2)` or `userfaultfd(2, UFFD_USER_MODE_ONLY)`. */
  readonly method: string;
  /**
   * Opened with `UFFD_USER_MODE_ONLY` (unprivileged fallback): writes made by the kernel on the
   * process's behalf (e.g. `read(2)` into tracked memory) fail with EFAULT instead of waiting.
   */
  readonly userModeOnly: boolean;
  /** Feature bits enabled on the userfaultfd. */
  readonly features: number;
  /** Feature bits the kernel offers. */
  readonly availableFeatures: number;
  /** Per region: whether huge pages were requested and accepted. */
  readonly hugePages: readonly boolean[];
}

/** Counters of a {@link UffdFaultSource}; times in ns on {@link uffdClock}. */
export interface UffdStats {
  /** Write-fault events read by the fault thread (including duplicates and stale ones). */
  readonly faults: number;
  /** Events queued for the save loop. */
  readonly delivered: number;
  /** Plain mode: pages the fault thread copied and released itself (during `start()`, or same-thread writes). */
  readonly preserved: number;
  /** Copy-on-fault: pages copied by the fault thread; in-thread: by the faulting threads. */
  readonly copied: number;
  /** Copy-on-fault and in-thread: faults on pages the scan had claimed (the scan's release woke the writer). */
  readonly claimedByScan: number;
  /**
   * Plain mode: faults raised by the thread that takes faults. In-thread: that thread's faults that
   * could not wait (no free slot, or a page its own scan held), see {@link SameThreadWriteError}.
   */
  readonly sameThread: number;
  /** Copy-on-fault: times the fault thread waited for a free buffer slot; in-thread: times a writer did. */
  readonly slotWaits: number;
  /** Copy-on-fault and in-thread: most buffer slots in use at once. */
  readonly maxSlotsInUse: number;
  /** In-thread: faults served by the faulting thread itself (copied, released, delivered). */
  readonly servedInThread: number;
  /** In-thread: faults on a page the scan had claimed; the writer waited until the scan released it. */
  readonly scanOwnedWaits: number;
  /** In-thread: faults on a page another writer was serving; the writer waited for its release. */
  readonly faultOwnedWaits: number;
  /** In-thread: pages of the save-loop thread copied into the 16-page reserve because no slot was free. */
  readonly reserveUsed: number;
  /** Pages pre-faulted by `start()` (0 with WP_UNPOPULATED). */
  readonly prefaultedPages: number;
  /**
   * Never-written pages that `read()` mapped in one `madvise(MADV_POPULATE_READ)` per run before
   * returning them, instead of taking a page fault per page on first access (0 on kernels before 5.14).
   */
  readonly populatedForRead: number;
  /** `UFFDIO_WRITEPROTECT` calls of the protect pass. */
  readonly protectChunks: number;
  /** Duration of the whole protect pass. */
  readonly protectNs: number;
  /** Longest single protect call: the longest a writer can wait for the pass. */
  readonly maxProtectChunkNs: number;
  /** {@link uffdClock} time the protect pass began (0 before `start()`). */
  readonly protectStartedAt: number;
  /** {@link uffdClock} time the protect pass ended (0 until then). */
  readonly protectedAt: number;
}

/**
 * The clock of every timestamp this package produces: CLOCK_MONOTONIC in ns, the clock the native
 * fault thread stamps events with (and the base of libuv's `uv_hrtime`).
 */
export const uffdClock: MonotonicClock = {
  now: () => loadNative().now(),
};

const DEFAULT_CHUNK = 128 << 20;
/** Most events one take moves; a burst larger than this is taken over several calls. */
const TAKE_EVENTS = 1024;
const live = new Set<UffdFaultSource>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled || isMainThread) return; // the main thread's hook is installed by loadNative()
  exitHookInstalled = true;
  // A worker that exits normally releases its own sessions' pages before its threads are joined.
  process.on('exit', () => {
    for (const s of live) s.stopSync();
  });
}

function checkInt(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}]; got ${String(value)}`);
  }
  return value;
}

/**
 * The Linux userfaultfd write-protect {@link FaultSource}.
 *
 * Rule (plain mode): the thread that calls `takeFaults`/`waitForFaults` must not write tracked memory —
 * it would wait on itself. Where the kernel reports thread ids this is detected: the page is copied
 * and released by the fault thread (the snapshot stays consistent) and the next `takeFaults` or
 * `waitForFaults` throws {@link SameThreadWriteError}.
 */
export class UffdFaultSource implements FaultSource {
  /** @inheritDoc */
  readonly regions: readonly RegionInfo[];
  /** @inheritDoc */
  readonly capabilities: FaultSourceCapabilities;
  /** @inheritDoc */
  readonly clock: MonotonicClock = uffdClock;
  /** The mode chosen at construction. */
  readonly mode: UffdMode;
  /** What the kernel gave this source. */
  readonly details: UffdDetails;

  #state: FaultSourceState = 'ready';
  readonly #binding: NativeBinding;
  readonly #session: NativeSession;
  readonly #memories: readonly TrackedMemory[];
  readonly #pageSize: number;
  readonly #waiters = new Set<() => void>();
  #startDone: (() => void) | undefined;
  #finalStats: NativeStats | undefined;
  /** Reused by every take, six numbers per event: taking faults allocates nothing the size of a page. */
  readonly #takeMeta = new Float64Array(6 * TAKE_EVENTS);
  /**
   * Copy-on-fault: where a take puts the copies, reused by the next take (the contract allows it). A
   * fresh buffer per take made the process map and unmap memory while writers were faulting.
   */
  readonly #takeContents: Uint8Array | undefined;

  /** Use {@link createUffdFaultSource}. */
  constructor(options: UffdFaultSourceOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
    const { regions } = options;
    if (!Array.isArray(regions) || regions.length === 0) {
      throw new RangeError('options.regions must be a non-empty array of { name, memory }');
    }
    const mode = options.mode ?? 'plain';
    if (!MODES.includes(mode)) {
      throw new RangeError(`options.mode must be one of ${MODES.join(', ')}; got ${String(mode)}`);
    }
    const copies = mode !== 'plain';
    this.#binding = loadNative();
    this.#pageSize = this.#binding.pageSize();
    const chunk = checkInt(
      'options.protectChunkBytes',
      options.protectChunkBytes ?? DEFAULT_CHUNK,
      this.#pageSize,
      MAX_TRACKED_BYTES,
    );
    if (chunk % this.#pageSize !== 0) {
      throw new RangeError(`options.protectChunkBytes must be a multiple of ${this.#pageSize}; got ${chunk}`);
    }
    const slots = checkInt('options.copyBufferPages', options.copyBufferPages ?? 1024, 1, 1 << 20);
    const unpopulated = options.protectUnpopulated ?? true;
    if (typeof unpopulated !== 'boolean') throw new TypeError('options.protectUnpopulated must be a boolean');
    const names = new Set<string>();
    const memories = new Set<TrackedMemory>();
    regions.forEach((r, i) => {
      if (typeof r?.name !== 'string' || r.name === '' || names.has(r.name)) {
        throw new RangeError(`options.regions[${i}].name must be a unique non-empty string`);
      }
      if (memories.has(r.memory)) throw new RangeError(`options.regions[${i}].memory is listed twice`);
      names.add(r.name);
      memories.add(r.memory);
    });
    this.mode = mode;
    this.#takeContents = copies ? new Uint8Array(Math.min(slots, TAKE_EVENTS) * this.#pageSize) : undefined;
    const tokens = regions.map((r) => tokenOf(r.memory));
    // Private references: the source's views stay valid when the caller releases its TrackedMemory.
    this.#memories = regions.map((r) => TrackedMemory.attach(r.memory.handle));
    this.#session = native(() =>
      this.#binding.sessionCreate(
        {
          mode: MODES.indexOf(mode) as 0 | 1 | 2,
          tokens,
          protectChunkBytes: chunk,
          copySlots: slots,
          wpUnpopulated: unpopulated,
        },
        (kind) => this.#onNotify(kind),
      ),
    );
    const info = this.#binding.sessionInfo(this.#session);
    this.regions = regions.map((r) => ({
      name: r.name,
      pageSize: this.#pageSize,
      pageCount: r.memory.pageCount,
    }));
    this.capabilities = {
      knowsFaultTime: true,
      knowsThreadId: info.knowsThreadId,
      copiesOnFault: copies,
      protectsUnpopulated: info.protectsUnpopulated,
    };
    this.details = {
      method: info.method,
      userModeOnly: info.userModeOnly,
      features: info.features,
      availableFeatures: info.available,
      hugePages: info.hugePages,
    };
    installExitHook();
    live.add(this);
  }

  /** @inheritDoc */
  get state(): FaultSourceState {
    return this.#state;
  }

  /**
   * Write-protects every region in chunks of `protectChunkBytes` on a native thread while the fault
   * thread already serves faults. For a strict point-in-time image, pause writers until this resolves
   * (see the README's consistency model).
   * @inheritDoc
   */
  start(): Promise<void> {
    this.#expect('start', 'ready');
    this.#state = 'tracking';
    const done = new Promise<void>((resolve, reject) => {
      this.#startDone = () => {
        this.#startDone = undefined;
        this.#binding.sessionRef(this.#session, false);
        if (this.#state !== 'tracking') return resolve();
        try {
          // A failed protect call surfaces as the session's pending error.
          native(() => this.#binding.sessionTake(this.#session, 0, this.#takeMeta, this.#takeContents));
          resolve();
        } catch (e) {
          this.stopSync();
          reject(e);
        }
      };
    });
    this.#binding.sessionRef(this.#session, true); // keep the event loop alive until the pass reports
    try {
      native(() => this.#binding.sessionStart(this.#session));
    } catch (e) {
      this.stopSync();
      return Promise.reject(e);
    }
    return done;
  }

  /** @inheritDoc */
  takeFaults(max = Number.POSITIVE_INFINITY): readonly WriteFault[] {
    this.#expect('takeFaults', 'tracking');
    return this.#take(this.#checkMax(max));
  }

  /** @inheritDoc */
  waitForFaults(timeoutNs: number, max = Number.POSITIVE_INFINITY): Promise<readonly WriteFault[]> {
    if (typeof timeoutNs !== 'number' || !Number.isFinite(timeoutNs) || timeoutNs < 0) {
      return Promise.reject(
        new RangeError(`timeoutNs must be a finite number >= 0; got ${String(timeoutNs)}`),
      );
    }
    try {
      this.#expect('waitForFaults', 'tracking');
      const limit = this.#checkMax(max);
      const now = this.#take(limit);
      if (now.length > 0 || timeoutNs === 0) return Promise.resolve(now);
      if (native(() => this.#binding.sessionArm(this.#session)) > 0)
        return Promise.resolve(this.#take(limit));
      return new Promise((resolve, reject) => {
        const finish = () => {
          clearTimeout(timer);
          this.#waiters.delete(finish);
          try {
            resolve(this.#state === 'tracking' ? this.#take(limit) : []);
          } catch (e) {
            reject(e);
          }
        };
        // Node timers hold at most 2^31 - 1 ms (a longer delay fires after 1 ms): wake by then at the
        // latest, with whatever arrived; an early empty return is within the contract.
        const timer = setTimeout(finish, Math.min(timeoutNs / 1e6, 2 ** 31 - 1));
        this.#waiters.add(finish);
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** @inheritDoc */
  claim(region: number, first: number, count: number): number {
    this.#expect('claim', 'tracking');
    this.#checkRange(region, first, count);
    if (this.mode === 'plain' || count === 0) return count;
    return this.#binding.sessionClaim(this.#session, region, first, count);
  }

  /**
   * @inheritDoc
   * @throws RangeError when the range is longer than 1 GiB.
   */
  read(region: number, first: number, count: number): Uint8Array {
    this.#expect('read', 'tracking');
    this.#checkRange(region, first, count);
    const ps = this.#pageSize;
    if (count === 0) return new Uint8Array(0);
    if (count * ps > MAX_VIEW_BYTES) {
      throw new RangeError(`count must be at most ${MAX_VIEW_BYTES / ps} pages per read; got ${count}`);
    }
    // Never-written pages fault one by one when first read (~10 µs each on a VM); mapping them up front
    // made a snapshot of never-written memory several times faster.
    native(() => this.#binding.sessionPrepareRead(this.#session, region, first, count));
    const memory = this.#memories[region]!;
    const offset = first * ps;
    const length = count * ps;
    const blockIndex = Math.floor(offset / memory.blockSize);
    const inBlock = offset - blockIndex * memory.blockSize;
    const live =
      inBlock + length <= memory.blockSize
        ? memory.block(blockIndex).subarray(inBlock, inBlock + length)
        : memory.view(offset, length);
    if (this.mode !== 'plain' || !this.#binding.sessionNeedsPatch(this.#session)) return live;
    // Some pages were copied and released by the fault thread (during start(), or a same-thread write):
    // copy live memory first, then lay the preserved pages over it. Preservation always precedes the
    // release that lets a writer change the page, so this order never yields post-snapshot bytes.
    const copy = new Uint8Array(length);
    copy.set(live);
    this.#binding.sessionPatch(this.#session, region, first, count, copy);
    return copy;
  }

  /** @inheritDoc */
  release(region: number, first: number, count: number): void {
    this.#expect('release', 'tracking');
    this.#checkRange(region, first, count);
    if (count === 0) return;
    native(() => this.#binding.sessionRelease(this.#session, region, first, count));
  }

  /** @inheritDoc */
  stop(): Promise<void> {
    this.stopSync();
    return Promise.resolve();
  }

  /**
   * {@link UffdFaultSource.stop} without the promise: releases every page (one ioctl per region),
   * unregisters, joins the native threads and closes the userfaultfd. Idempotent; safe in `exit` handlers.
   */
  stopSync(): void {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    live.delete(this);
    this.#finalStats = this.#binding.sessionStop(this.#session);
    for (const m of this.#memories) m.release();
    this.#startDone?.();
    for (const w of [...this.#waiters]) w();
  }

  /** Counters so far (final after stop). */
  stats(): UffdStats {
    const s = this.#finalStats ?? this.#binding.sessionStats(this.#session);
    const { startedAt, ...rest } = s;
    return { ...rest, protectStartedAt: startedAt };
  }

  #onNotify(kind: number): void {
    if (kind === 2) {
      this.#startDone?.();
      return;
    }
    for (const w of [...this.#waiters]) w();
  }

  #take(max: number): WriteFault[] {
    const meta = this.#takeMeta;
    const contents = this.#takeContents;
    const n = native(() =>
      this.#binding.sessionTake(this.#session, Math.min(max, 0x7fffffff), meta, contents),
    );
    if (n === 0) return [];
    const fetchedAt = this.#binding.now();
    const ps = this.#pageSize;
    const faults: WriteFault[] = [];
    // One object literal per event shape, no spreads: copy-on-fault and in-thread deliver an event per
    // faulted page, tens of thousands a second under writers, and this loop is on the save loop's path.
    for (let i = 0; i < n * 6; i += 6) {
      const tid = meta[i + 4]!;
      const ci = meta[i + 5]!;
      const region = meta[i]!;
      const page = meta[i + 1]!;
      const raisedAt = meta[i + 2]!;
      if (ci >= 0 && contents) {
        const contentsOf = contents.subarray(ci * ps, ci * ps + ps);
        const releasedAt = meta[i + 3]!;
        faults.push(
          tid > 0
            ? { region, page, fetchedAt, raisedAt, threadId: tid, contents: contentsOf, releasedAt }
            : { region, page, fetchedAt, raisedAt, contents: contentsOf, releasedAt },
        );
      } else {
        faults.push(
          tid > 0
            ? { region, page, fetchedAt, raisedAt, threadId: tid }
            : { region, page, fetchedAt, raisedAt },
        );
      }
    }
    return faults;
  }

  #expect(method: string, state: FaultSourceState): void {
    if (this.#state !== state) throw new FaultSourceStateError(method, this.#state);
  }

  #checkMax(max: number): number {
    if (max === Number.POSITIVE_INFINITY) return max;
    return checkInt('max', max, 0, Number.MAX_SAFE_INTEGER);
  }

  #checkRange(region: number, first: number, count: number): void {
    checkInt('region', region, 0, this.regions.length - 1);
    const pages = this.regions[region]!.pageCount;
    checkInt('first', first, 0, pages - 1);
    checkInt('count', count, 0, pages - first);
  }
}

/**
 * Opens a userfaultfd, registers `options.regions` for write-protect tracking and returns the fault
 * source in state `ready`.
 * @throws UffdUnavailableError, UffdPermissionError, UffdUnsupportedError, UffdSyscallError (see the README's error table).
 * @throws RangeError / TypeError for bad options, naming the option.
 */
export function createUffdFaultSource(options: UffdFaultSourceOptions): UffdFaultSource {
  return new UffdFaultSource(options);
}
