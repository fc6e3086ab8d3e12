import { native, TrackedMemoryReleasedError } from './errors.js';
import { loadNative, type NativeToken } from './native.js';

/** Largest block or view, in bytes: 1 GiB keeps every view well inside V8's typed-array limit on Node 20. */
export const MAX_VIEW_BYTES = 1 << 30;

/** Largest region {@link TrackedMemory.allocate} accepts: 64 TiB (MAP_NORESERVE address space, not memory). */
export const MAX_TRACKED_BYTES = 2 ** 46;

/**
 * A structured-cloneable reference to a {@link TrackedMemory}, for `postMessage` to a worker_thread,
 * which then calls {@link TrackedMemory.attach} to map its own views of the same memory.
 */
export interface TrackedMemoryHandle {
  /** Marks the object as a handle. */
  readonly kind: 'bgsnap.tracked-memory';
  /** Process-wide id of the mapping. */
  readonly id: number;
  /** Size of the mapping in bytes. */
  readonly byteLength: number;
  /** Page size in bytes. */
  readonly pageSize: number;
}

/** Options of {@link TrackedMemory.allocate}. */
export interface TrackedMemoryOptions {
  /**
   * `madvise(MADV_HUGEPAGE)` the region (default `true`). With transparent huge pages, write-protecting
   * populated memory marks whole 2 MiB PMDs and is about 100× cheaper than marking 4 KiB PTEs, which keeps
   * the writer pause around `start()` sub-millisecond. Has no effect when THP is `never`.
   */
  readonly hugePages?: boolean;
}

const tokens = new WeakMap<TrackedMemory, NativeToken>();

/** @internal The native token of a live TrackedMemory (for the fault source). */
export function tokenOf(memory: TrackedMemory): NativeToken {
  const t = tokens.get(memory);
  if (!t) throw new TrackedMemoryReleasedError();
  return t;
}

function checkByteLength(byteLength: number, pageSize: number): void {
  if (
    !Number.isSafeInteger(byteLength) ||
    byteLength < pageSize ||
    byteLength > MAX_TRACKED_BYTES ||
    byteLength % pageSize !== 0
  ) {
    throw new RangeError(
      `byteLength must be a multiple of the page size (${pageSize}) from ${pageSize} to ${MAX_TRACKED_BYTES}; got ${byteLength}`,
    );
  }
}

/**
 * Anonymous memory (`mmap` MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE) that a {@link UffdFaultSource} can
 * write-protect, with typed-array views in this thread and in worker_threads.
 *
 * Addressing: a region may be far larger than one typed array. It is split into blocks of
 * {@link MAX_VIEW_BYTES} (1 GiB): `block(i)` is the `Uint8Array` over bytes
 * `[i * blockSize, min((i + 1) * blockSize, byteLength))`, cached per instance; `view(offset, length)`
 * maps any other window of up to 1 GiB. Byte `x` of the region is `block(Math.floor(x / blockSize))[x % blockSize]`.
 *
 * Lifetime: the mapping is shared by every thread that attached it and is unmapped when the last
 * reference goes: each TrackedMemory instance (until `release()` or garbage collection), each view
 * (until `release()` of the instance that made it, or garbage collection), and each running fault source.
 * `release()` detaches this instance's views (their `byteLength` becomes 0, so later use reads nothing
 * and typed-array methods throw a `TypeError`), never leaving a view onto unmapped memory; views and
 * instances in other threads keep working.
 */
export class TrackedMemory {
  /** Size in bytes. */
  readonly byteLength: number;
  /** Page size in bytes (the system page size, 4096 on x86-64). */
  readonly pageSize: number;
  /** Number of pages: `byteLength / pageSize`. */
  readonly pageCount: number;
  /** Size of every block but possibly the last: `min(byteLength, 1 GiB)`. */
  readonly blockSize: number;
  /** Number of blocks: `ceil(byteLength / blockSize)`. */
  readonly blockCount: number;
  /** Whether `madvise(MADV_HUGEPAGE)` was applied (and accepted by the kernel). */
  readonly hugePages: boolean;
  readonly #id: number;
  readonly #blocks: (Uint8Array | undefined)[];
  readonly #views: WeakRef<ArrayBuffer>[] = [];

  private constructor(token: NativeToken) {
    const binding = loadNative();
    const info = binding.tokenInfo(token);
    tokens.set(this, token);
    this.#id = info.id;
    this.byteLength = info.byteLength;
    this.pageSize = binding.pageSize();
    this.pageCount = this.byteLength / this.pageSize;
    this.blockSize = Math.min(this.byteLength, MAX_VIEW_BYTES);
    this.blockCount = Math.ceil(this.byteLength / this.blockSize);
    this.hugePages = info.hugePages;
    this.#blocks = new Array(this.blockCount);
  }

  /**
   * Maps `byteLength` bytes of zeroed anonymous memory. Pages use no RAM until written.
   * @throws RangeError when `byteLength` is not a page multiple in `[pageSize, 64 TiB]`.
   * @throws UffdUnavailableError when the addon is not built for this platform.
   */
  static allocate(byteLength: number, options: TrackedMemoryOptions = {}): TrackedMemory {
    const binding = loadNative();
    checkByteLength(byteLength, binding.pageSize());
    const huge = options.hugePages ?? true;
    if (typeof huge !== 'boolean')
      throw new TypeError(`options.hugePages must be a boolean; got ${typeof huge}`);
    return new TrackedMemory(native(() => binding.alloc(byteLength, huge)));
  }

  /**
   * Makes this thread's own reference to the memory behind `handle` (from {@link TrackedMemory.handle},
   * typically received through `postMessage`).
   * @throws TrackedMemoryReleasedError when every thread has already released that memory.
   * @throws TypeError when `handle` is not a handle.
   */
  static attach(handle: TrackedMemoryHandle): TrackedMemory {
    if (
      typeof handle !== 'object' ||
      handle === null ||
      handle.kind !== 'bgsnap.tracked-memory' ||
      !Number.isSafeInteger(handle.id) ||
      !Number.isSafeInteger(handle.byteLength)
    ) {
      throw new TypeError('handle must be a TrackedMemoryHandle (TrackedMemory.handle)');
    }
    const binding = loadNative();
    const memory = new TrackedMemory(native(() => binding.attach(handle.id)));
    if (memory.byteLength !== handle.byteLength) {
      memory.release();
      throw new TrackedMemoryReleasedError(`tracked memory #${handle.id} was released and its id reused`);
    }
    return memory;
  }

  /** A structured-cloneable handle for {@link TrackedMemory.attach} in another thread. */
  get handle(): TrackedMemoryHandle {
    this.#token();
    return {
      kind: 'bgsnap.tracked-memory',
      id: this.#id,
      byteLength: this.byteLength,
      pageSize: this.pageSize,
    };
  }

  /** Whether {@link TrackedMemory.release} was called on this instance. */
  get released(): boolean {
    return !tokens.has(this);
  }

  /**
   * Block `index` as a `Uint8Array` (cached: the same object on every call).
   * @throws RangeError when `index` is not an integer in `[0, blockCount)`.
   * @throws TrackedMemoryReleasedError after {@link TrackedMemory.release}.
   */
  block(index: number): Uint8Array {
    const token = this.#token();
    if (!Number.isInteger(index) || index < 0 || index >= this.blockCount) {
      throw new RangeError(`index must be an integer in [0, ${this.blockCount}); got ${index}`);
    }
    let b = this.#blocks[index];
    if (!b) {
      const offset = index * this.blockSize;
      b = this.#map(token, offset, Math.min(this.blockSize, this.byteLength - offset));
      this.#blocks[index] = b;
    }
    return b;
  }

  /**
   * A new `Uint8Array` over bytes `[offset, offset + length)`, which may cross block boundaries.
   * Prefer {@link TrackedMemory.block} (cached) for hot paths: each view is a new external ArrayBuffer.
   * @throws RangeError when the window is outside the memory or longer than 1 GiB.
   * @throws TrackedMemoryReleasedError after {@link TrackedMemory.release}.
   */
  view(offset: number, length: number): Uint8Array {
    const token = this.#token();
    if (!Number.isSafeInteger(offset) || offset < 0 || offset >= this.byteLength) {
      throw new RangeError(`offset must be an integer in [0, ${this.byteLength}); got ${offset}`);
    }
    if (
      !Number.isSafeInteger(length) ||
      length < 1 ||
      length > MAX_VIEW_BYTES ||
      offset + length > this.byteLength
    ) {
      throw new RangeError(
        `length must be an integer in [1, ${Math.min(MAX_VIEW_BYTES, this.byteLength - offset)}]; got ${length}`,
      );
    }
    return this.#map(token, offset, length);
  }

  /**
   * Drops this instance's reference and detaches the views it made. The memory is unmapped once no
   * thread holds a reference. Idempotent.
   */
  release(): void {
    const token = tokens.get(this);
    if (!token) return;
    tokens.delete(this);
    const binding = loadNative();
    for (const ref of this.#views) {
      const ab = ref.deref();
      if (ab) binding.detach(ab);
    }
    this.#views.length = 0;
    this.#blocks.fill(undefined);
    binding.releaseToken(token);
  }

  #token(): NativeToken {
    const t = tokens.get(this);
    if (!t) throw new TrackedMemoryReleasedError();
    return t;
  }

  #map(token: NativeToken, offset: number, length: number): Uint8Array {
    const binding = loadNative();
    const ab = native(() => binding.view(token, offset, length));
    if (this.#views.length > 64) this.#compactViews();
    this.#views.push(new WeakRef(ab));
    return new Uint8Array(ab);
  }

  #compactViews(): void {
    let j = 0;
    for (const ref of this.#views) if (ref.deref()) this.#views[j++] = ref;
    this.#views.length = j;
  }
}
