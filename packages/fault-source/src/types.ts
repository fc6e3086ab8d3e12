/**
 * One tracked region of memory: a name, its page size and its page count.
 *
 * Regions are addressed by their index in {@link FaultSource.regions}; page indices are relative to
 * the region. A backend never names a page outside `[0, pageCount)`.
 */
export interface RegionInfo {
  /** Human-readable name, unique within one fault source (it is written into snapshot headers). */
  readonly name: string;
  /** Page size in bytes: a power of two, usually 4096. */
  readonly pageSize: number;
  /** Number of pages in the region, at least 1. */
  readonly pageCount: number;
}

/**
 * The monotonic clock a save loop must use for every timestamp and every duration.
 *
 * Real backends return wall-clock monotonic time; the simulator returns virtual time. A save loop that
 * reads time only through this clock behaves identically under both.
 */
export interface MonotonicClock {
  /** Current time in nanoseconds. Never decreases. The origin is arbitrary. */
  now(): number;
}

/**
 * What a backend can and cannot tell or do. A save loop and a limiter policy branch on these, never on
 * the backend's class.
 */
export interface FaultSourceCapabilities {
  /** {@link WriteFault.raisedAt} is set: the backend knows when the writer actually faulted. */
  readonly knowsFaultTime: boolean;
  /** {@link WriteFault.threadId} is set. */
  readonly knowsThreadId: boolean;
  /**
   * Copy-on-fault: the backend copies a faulting page itself and releases it at once, independent of
   * the save loop. Fault events then carry {@link WriteFault.contents}, and the linear scan must
   * {@link FaultSource.claim} pages before reading them.
   */
  readonly copiesOnFault: boolean;
  /** Pages never touched before {@link FaultSource.start} are protected without being pre-faulted. */
  readonly protectsUnpopulated: boolean;
}

/**
 * A write to a protected page that has not been saved yet. The writer is blocked until the page is
 * released (unless {@link WriteFault.contents} is set, in which case it was already released).
 */
export interface WriteFault {
  /** Index of the region in {@link FaultSource.regions}. */
  readonly region: number;
  /** Page index within the region. */
  readonly page: number;
  /** {@link MonotonicClock} time at which the save loop received the event (the QEMU patch's measure). */
  readonly fetchedAt: number;
  /** Time the writer faulted, where {@link FaultSourceCapabilities.knowsFaultTime}. */
  readonly raisedAt?: number;
  /** Writer's thread id, where {@link FaultSourceCapabilities.knowsThreadId}. */
  readonly threadId?: number;
  /**
   * Copy-on-fault only: the page's contents as they were at snapshot start. The page has already been
   * released and belongs to the save loop; it must be saved from these bytes and never read again.
   * The bytes may live in a buffer the backend reuses: they are valid only until the next
   * `takeFaults()` or `waitForFaults()` call, so the caller copies them (or writes them out) first.
   */
  readonly contents?: Uint8Array;
  /** Copy-on-fault only: time the backend released the page, so the writer's wait is `releasedAt - raisedAt`. */
  readonly releasedAt?: number;
}

/** Lifecycle of a {@link FaultSource}: `ready` → `tracking` → `stopped`. `stopped` is final. */
export type FaultSourceState = 'ready' | 'tracking' | 'stopped';

/**
 * A source of write faults on protected memory: the one thing a background-snapshot save loop needs
 * from the memory it saves.
 *
 * Lifecycle: construct (state `ready`) → {@link FaultSource.start} (state `tracking`: every page of
 * every region is write-protected) → any number of take/wait/claim/read/release calls →
 * {@link FaultSource.stop} (state `stopped`: every page released, every blocked writer resumed).
 *
 * Rules every implementation keeps (the conformance suite in `@bgsnap/fault-source/testing` checks them):
 * - A page is protected from `start()` until it is released; after release it never faults again.
 * - Only writes fault. Reading protected pages is always allowed and never blocks.
 * - A fault event only ever names a page inside the tracked regions.
 * - An event may name a page that was released after the fault was raised (or twice, when two
 *   writers hit it): the save loop must skip pages it has already saved.
 * - `stop()` is idempotent, releases every page and wakes every blocked writer, also when called while
 *   a `waitForFaults()` is pending (which then resolves with no faults).
 * - Every other method called before `start()` or after `stop()` throws a
 *   {@link FaultSourceStateError}; arguments out of range throw a `RangeError` naming the argument.
 */
export interface FaultSource {
  /** The tracked regions, fixed for the life of the source. */
  readonly regions: readonly RegionInfo[];
  /** What this backend knows and does. */
  readonly capabilities: FaultSourceCapabilities;
  /** The clock the save loop must use. */
  readonly clock: MonotonicClock;
  /** Current lifecycle state. */
  readonly state: FaultSourceState;

  /**
   * Write-protect every page of every region and start delivering faults. Backends may protect in
   * chunks and deliver faults while they do; the promise resolves when every page is protected.
   * @throws FaultSourceStateError when not `ready`.
   */
  start(): Promise<void>;

  /**
   * Non-blocking: take up to `max` pending fault events (oldest first). Returns an empty array when
   * none is pending.
   */
  takeFaults(max?: number): readonly WriteFault[];

  /**
   * Wait until at least one fault is pending or `timeoutNs` has passed on {@link FaultSource.clock},
   * then take up to `max` pending faults (possibly none). `timeoutNs` of 0 is a non-blocking poll.
   * @throws RangeError when `timeoutNs` is negative or not finite.
   */
  waitForFaults(timeoutNs: number, max?: number): Promise<readonly WriteFault[]>;

  /**
   * For the linear scan: claim unsaved pages `[first, first + count)` of `region` for reading, in
   * order, and return how many consecutive pages from `first` were claimed (0 to `count`).
   *
   * Backends without copy-on-fault always claim all `count` pages (the save loop's own bitmap decides
   * what is unsaved). Copy-on-fault backends stop at the first page the fault path has already
   * taken; a return of 0 means page `first` belongs to the fault path and arrives, or has arrived, as
   * a fault event with contents. A claimed page is never delivered with contents.
   */
  claim(region: number, first: number, count: number): number;

  /**
   * The contents of claimed, still-protected pages `[first, first + count)`. The returned bytes may be a
   * view of the live memory or of a buffer the backend reuses: they are valid only until those pages
   * are released or the next `read()`, whichever comes first, so the caller copies what it needs first.
   */
  read(region: number, first: number, count: number): Uint8Array;

  /**
   * Remove protection from pages `[first, first + count)` and wake the writers blocked on them. Releasing
   * an already released page is allowed and does nothing.
   */
  release(region: number, first: number, count: number): void;

  /**
   * Release every page, wake every blocked writer, stop delivering faults and free backend resources.
   * Allowed in every state (from `ready` it just moves to `stopped`). Idempotent: the second and later
   * calls resolve at once. A pending {@link FaultSource.waitForFaults} resolves with no faults.
   */
  stop(): Promise<void>;
}

/** Thrown when a {@link FaultSource} method is called in a state that does not allow it. */
export class FaultSourceStateError extends Error {
  /** The state the source was in. */
  readonly state: FaultSourceState;
  /** The method that was called. */
  readonly method: string;

  constructor(method: string, state: FaultSourceState) {
    super(`FaultSource.${method}() is not allowed in state '${state}'`);
    this.name = 'FaultSourceStateError';
    this.state = state;
    this.method = method;
  }
}
