import { checkOther, PageBitmap } from './page-bitmap.js';
import type { ReadonlyPageBitmap, Run } from './types.js';
import {
  checkInteger,
  checkRange,
  checkSameSize,
  checkSize,
  indexError,
  integerError,
  MAX_PAGE_COUNT,
} from './validate.js';
import {
  countInWords,
  ctz32,
  maskFrom,
  maskTo,
  nextClearInWords,
  nextSetInWords,
  popcount32,
  type RunCallback,
  runsInWords,
  wordRuns,
} from './word-ops.js';

/** Mask of `n` bits (1..32) starting at bit `bit` (`bit + n <= 32`). */
function runMask(bit: number, n: number): number {
  return n === 32 ? -1 : (((1 << n) - 1) << bit) | 0;
}

function checkCallback(name: string, cb: unknown): void {
  if (typeof cb !== 'function') {
    throw new TypeError(`${name} must be a function (start, length) => void, got ${typeof cb}`);
  }
}

/**
 * A dense bitmap in a SharedArrayBuffer, for page states shared between worker threads.
 *
 * Every bit operation is an `Atomics` operation on the 32-bit word holding it, so `set`, `clear`,
 * `test`, `testAndSet`, `testAndClear`, the range operations and the claims are linearizable per
 * word: when several threads claim overlapping ranges, each bit is claimed by exactly one of them.
 * A range operation is atomic word by word, not as a whole. Scans (`nextSet`, `nextClear`, `count`,
 * `countRange`, `forEachRun`, `runs`, `equals`) read each 32-bit word once with a plain typed-array
 * read: in the JavaScript memory model an aligned integer element never tears, so every word seen
 * is a value some thread stored, and a scan sees a mix of before and after states of concurrent
 * writers — exact when no one writes concurrently. (Plain reads, because `Atomics.load` measured
 * about 8× slower per word in Node 20, and a scan is not a snapshot with either.) A claim never
 * trusts a scan: it re-reads and commits the word with `compareExchange` or `Atomics.or`.
 *
 * Memory: one bit per page, allocated up front, `4 × ceil(size / 32)` bytes: 32 KiB for 262,144
 * pages (1 GiB of 4 KiB pages), 512 KiB for 4,194,304 pages, 512 MiB at the 2^32-page maximum.
 * There is no sparse layout here because a sparse structure cannot be grown lock-free with Atomics
 * alone; use {@link PageBitmap} for huge single-threaded bitmaps.
 *
 * To use it from a worker, pass {@link AtomicPageBitmap.buffer} (and `size`) in `workerData` or a
 * message, and rebuild it there with {@link AtomicPageBitmap.fromShared}.
 */
export class AtomicPageBitmap implements ReadonlyPageBitmap {
  /** Number of bits (pages); indices are `0 .. size - 1`. */
  readonly size: number;
  /** The shared memory holding the bits (little-endian bit order within 32-bit words). */
  readonly buffer: SharedArrayBuffer;
  /** Offset of the first word in {@link AtomicPageBitmap.buffer}. */
  readonly byteOffset: number;
  private readonly words: Int32Array;
  /** The same memory, for the scans' plain reads (see the class notes). */
  private readonly view: Uint32Array;

  /**
   * Creates an all-clear bitmap in a new SharedArrayBuffer, or a view of an existing one.
   * @param size - number of pages, an integer in [1, 2^32]
   * @param buffer - existing shared memory to use instead of allocating (see {@link AtomicPageBitmap.fromShared})
   * @param byteOffset - where the words start in `buffer`: a multiple of 4
   */
  constructor(size: number, buffer?: SharedArrayBuffer, byteOffset = 0) {
    checkSize(size, MAX_PAGE_COUNT);
    const byteLength = AtomicPageBitmap.byteLengthFor(size);
    if (buffer === undefined) {
      buffer = new SharedArrayBuffer(byteLength);
    } else {
      if (!(buffer instanceof SharedArrayBuffer)) {
        throw new TypeError(
          `buffer must be a SharedArrayBuffer, got ${buffer === null ? 'null' : typeof buffer}`,
        );
      }
      const maxOffset = buffer.byteLength - byteLength;
      if (maxOffset < 0) {
        throw new RangeError(
          `buffer: size ${size} needs ${byteLength} bytes, but the buffer has only ${buffer.byteLength}`,
        );
      }
      if (
        typeof byteOffset !== 'number' ||
        !Number.isInteger(byteOffset) ||
        byteOffset < 0 ||
        byteOffset > maxOffset ||
        byteOffset % 4 !== 0
      ) {
        throw integerError('byteOffset (a multiple of 4)', byteOffset, 0, maxOffset);
      }
    }
    this.size = size;
    this.buffer = buffer;
    this.byteOffset = byteOffset;
    this.words = new Int32Array(buffer, byteOffset, byteLength / 4);
    this.view = new Uint32Array(buffer, byteOffset, byteLength / 4);
  }

  /** Largest supported size: 2^32 pages, a 512 MiB SharedArrayBuffer. */
  static readonly MAX_SIZE = MAX_PAGE_COUNT;

  /** Bytes of shared memory a bitmap of `size` pages needs: `4 × ceil(size / 32)`. */
  static byteLengthFor(size: number): number {
    checkSize(size, MAX_PAGE_COUNT);
    return Math.ceil(size / 32) * 4;
  }

  /**
   * Views a bitmap that lives in `buffer` (typically received by a worker from the thread that
   * created it). Both sides then operate on the same bits.
   * @param buffer - the `buffer` of the original bitmap, or any SharedArrayBuffer large enough
   * @param size - number of pages: must match the creator's size
   * @param byteOffset - where the words start in `buffer`: a multiple of 4
   */
  static fromShared(buffer: SharedArrayBuffer, size: number, byteOffset = 0): AtomicPageBitmap {
    if (!(buffer instanceof SharedArrayBuffer)) {
      throw new TypeError(
        `buffer must be a SharedArrayBuffer, got ${buffer === null ? 'null' : typeof buffer}`,
      );
    }
    return new AtomicPageBitmap(size, buffer, byteOffset);
  }

  /** A new shared bitmap with the same bits as `bitmap` (for example a decoded {@link PageBitmap}). */
  static fromBitmap(bitmap: ReadonlyPageBitmap): AtomicPageBitmap {
    checkOther('fromBitmap', bitmap);
    const out = new AtomicPageBitmap(bitmap.size);
    bitmap.forEachRun((s, l) => {
      out.setRange(s, s + l);
    });
    return out;
  }

  private index(i: number): void {
    if (typeof i !== 'number' || !(i >= 0 && i < this.size) || i >>> 0 !== i)
      throw indexError('index', i, this.size);
  }

  /** Whether bit `index` is set. */
  test(index: number): boolean {
    this.index(index);
    return ((Atomics.load(this.words, index >>> 5) >>> (index & 31)) & 1) !== 0;
  }

  /**
   * Atomically sets bit `index`.
   * @returns true if this call changed it (it was clear)
   */
  set(index: number): boolean {
    this.index(index);
    const m = 1 << (index & 31);
    return (Atomics.or(this.words, index >>> 5, m) & m) === 0;
  }

  /**
   * Atomically clears bit `index`.
   * @returns true if this call changed it (it was set)
   */
  clear(index: number): boolean {
    this.index(index);
    const m = 1 << (index & 31);
    return (Atomics.and(this.words, index >>> 5, ~m) & m) !== 0;
  }

  /**
   * Atomically sets bit `index` and returns its previous value. Of several threads racing on the
   * same clear bit, exactly one sees `false`: that one has claimed it.
   */
  testAndSet(index: number): boolean {
    return !this.set(index);
  }

  /**
   * Atomically clears bit `index` and returns its previous value. Of several threads racing on the
   * same set bit, exactly one sees `true`.
   */
  testAndClear(index: number): boolean {
    return this.clear(index);
  }

  /**
   * Sets bits `[start, end)`, each word atomically.
   * @returns how many bits this call changed from clear to set
   */
  setRange(start: number, end: number): number {
    return this.claimRange(start, end);
  }

  /**
   * Clears bits `[start, end)`, each word atomically.
   * @returns how many bits this call changed from set to clear
   */
  clearRange(start: number, end: number): number {
    checkRange(start, end, this.size);
    if (start === end) return 0;
    const last = end - 1;
    const k0 = start >>> 5;
    const kl = last >>> 5;
    let n = 0;
    for (let k = k0; k <= kl; k++) {
      let m = -1;
      if (k === k0) m = maskFrom(start & 31);
      if (k === kl) m &= maskTo(last & 31);
      n += popcount32(Atomics.and(this.words, k, ~m) & m);
    }
    return n;
  }

  /**
   * Claims every clear bit in `[start, end)`: sets them, each word atomically, and reports the bits
   * that this call changed — the ones no other thread had set first. Concurrent claims of overlapping
   * ranges therefore partition the clear bits between the callers.
   * @param onRun - optional; called with each maximal run `(start, length)` of bits this call claimed, in
   *   order (its return value is ignored: the claim always completes)
   * @returns how many bits this call claimed
   */
  claimRange(start: number, end: number, onRun?: RunCallback): number {
    checkRange(start, end, this.size);
    if (onRun !== undefined) checkCallback('onRun', onRun);
    if (start === end) return 0;
    const last = end - 1;
    const k0 = start >>> 5;
    const kl = last >>> 5;
    // A claim must finish even if the callback would ask to stop, so its return value is ignored.
    const report: RunCallback | undefined =
      onRun === undefined
        ? undefined
        : (s, l) => {
            onRun(s, l);
          };
    let n = 0;
    let open = -1;
    for (let k = k0; k <= kl; k++) {
      let m = -1;
      if (k === k0) m = maskFrom(start & 31);
      if (k === kl) m &= maskTo(last & 31);
      const got = ~Atomics.or(this.words, k, m) & m;
      n += popcount32(got);
      if (report !== undefined) open = wordRuns(got, m, k * 32, open, report);
    }
    if (report !== undefined && open >= 0) report(open, end - open);
    return n;
  }

  /**
   * Claims up to `maxLength` consecutive clear bits: finds the first clear bit at or after `from`
   * (and before `end`), then atomically sets it and the clear bits directly after it, stopping at
   * `maxLength` bits, at `end`, or at the first bit that is already set. Bits lost to a racing
   * thread are skipped, never returned twice.
   * @param from - where to start looking, an integer in [0, size]
   * @param maxLength - most bits to claim, an integer in [1, 2^32]
   * @param end - exclusive end of the search, an integer in [from, size]; default size
   * @returns the claimed run as `[start, length]`, or null if no clear bit remains in `[from, end)`
   */
  claimRun(from: number, maxLength: number, end: number = this.size): Run | null {
    checkRange(from, end, this.size, 'from', 'end');
    checkInteger('maxLength', maxLength, 1, MAX_PAGE_COUNT);
    if (from === end) return null;
    const words = this.words;
    const last = end - 1;
    let pos = from;
    for (;;) {
      const s = nextClearInWords(this.view, pos, last);
      if (s < 0) return null;
      const limit = Math.min(maxLength, last - s + 1);
      let k = s >>> 5;
      const bit = s & 31;
      let got = 0;
      for (;;) {
        const old = Atomics.load(words, k);
        if (((old >>> bit) & 1) !== 0) break;
        const above = old & maskFrom(bit);
        const n = Math.min((above === 0 ? 32 : ctz32(above)) - bit, limit);
        if (Atomics.compareExchange(words, k, old, old | runMask(bit, n)) === old) {
          got = n;
          break;
        }
      }
      if (got === 0) {
        // Another thread set bit s between the scan and the claim: look again from there.
        pos = s;
        continue;
      }
      let more = bit + got === 32;
      while (more && got < limit) {
        k++;
        const want = Math.min(32, limit - got);
        for (;;) {
          const old = Atomics.load(words, k);
          const n = Math.min(old === 0 ? 32 : ctz32(old), want);
          if (n === 0) {
            more = false;
            break;
          }
          if (Atomics.compareExchange(words, k, old, old | runMask(0, n)) === old) {
            got += n;
            more = n === 32;
            break;
          }
        }
      }
      return [s, got];
    }
  }

  /** Sets (`value` true) or clears every bit, each word atomically. */
  fill(value: boolean): this {
    if (typeof value !== 'boolean') throw new TypeError(`value must be a boolean, got ${typeof value}`);
    const words = this.words;
    const n = words.length;
    const v = value ? -1 : 0;
    for (let k = 0; k < n; k++) Atomics.store(words, k, v);
    // Bits past `size` stay clear so that word-level scans and counts need no tail case.
    if (value && (this.size & 31) !== 0) Atomics.store(words, n - 1, maskTo((this.size & 31) - 1));
    return this;
  }

  /** Number of set bits (a scan; see the class notes on concurrency). */
  count(): number {
    return countInWords(this.view, 0, this.size - 1);
  }

  /** Number of set bits in `[start, end)`. */
  countRange(start: number, end: number): number {
    checkRange(start, end, this.size);
    return start === end ? 0 : countInWords(this.view, start, end - 1);
  }

  private checkFrom(from: number): void {
    if (typeof from !== 'number' || !(from >= 0 && from <= this.size) || Math.floor(from) !== from) {
      throw integerError('from', from, 0, this.size);
    }
  }

  /**
   * First set bit at or after `from`, or -1.
   * @param from - an integer in [0, size]
   * @param wrap - when nothing is found, continue from 0 up to `from - 1`
   */
  nextSet(from: number, wrap = false): number {
    this.checkFrom(from);
    if (from < this.size) {
      const r = nextSetInWords(this.view, from, this.size - 1);
      if (r >= 0 || !wrap) return r;
    } else if (!wrap) return -1;
    return from > 0 ? nextSetInWords(this.view, 0, from - 1) : -1;
  }

  /**
   * First clear bit at or after `from`, or -1.
   * @param from - an integer in [0, size]
   * @param wrap - when nothing is found, continue from 0 up to `from - 1`
   */
  nextClear(from: number, wrap = false): number {
    this.checkFrom(from);
    if (from < this.size) {
      const r = nextClearInWords(this.view, from, this.size - 1);
      if (r >= 0 || !wrap) return r;
    } else if (!wrap) return -1;
    return from > 0 ? nextClearInWords(this.view, 0, from - 1) : -1;
  }

  /** First set bit in `[start, end)`, or -1: a bounded {@link AtomicPageBitmap.nextSet}. */
  findSet(start: number, end: number): number {
    checkRange(start, end, this.size);
    return start === end ? -1 : nextSetInWords(this.view, start, end - 1);
  }

  /** First clear bit in `[start, end)`, or -1: a bounded {@link AtomicPageBitmap.nextClear}. */
  findClear(start: number, end: number): number {
    checkRange(start, end, this.size);
    return start === end ? -1 : nextClearInWords(this.view, start, end - 1);
  }

  /**
   * Calls `cb(start, length)` for every maximal run of set bits within `[start, end)`, in order,
   * clipped to the range; returning `false` stops early. Allocation-free.
   */
  forEachRun(cb: RunCallback, start = 0, end: number = this.size): void {
    checkCallback('cb', cb);
    checkRange(start, end, this.size);
    if (start === end) return;
    const open = runsInWords(this.view, start, end - 1, 0, -1, cb);
    // STOPPED (-2) means the callback asked to stop: no final run.
    if (open >= 0) cb(open, end - open);
  }

  /** Iterates the runs of set bits within `[start, end)` as `[start, length]` tuples. */
  *runs(start = 0, end: number = this.size): IterableIterator<Run> {
    checkRange(start, end, this.size);
    let p = start;
    while (p < end) {
      const s = nextSetInWords(this.view, p, end - 1);
      if (s < 0) return;
      const e = nextClearInWords(this.view, s, end - 1);
      const stop = e < 0 ? end : e;
      yield [s, stop - s];
      p = stop;
    }
  }

  /**
   * Whether `other` has the same bits set (either variant). Throws RangeError when the sizes differ.
   */
  equals(other: ReadonlyPageBitmap): boolean {
    checkOther('equals', other);
    checkSameSize('equals', this.size, other.size);
    if (other === this) return true;
    if (other instanceof AtomicPageBitmap) {
      const a = this.view;
      const b = other.view;
      const kl = a.length - 1;
      for (let k = 0; k < kl; k++) if (a[k] !== b[k]) return false;
      const tail = maskTo((this.size - 1) & 31);
      return (a[kl]! & tail) === (b[kl]! & tail);
    }
    return other.equals(this);
  }

  /** A new, independent shared bitmap with the same bits. */
  clone(): AtomicPageBitmap {
    const copy = new AtomicPageBitmap(this.size);
    copy.view.set(this.view);
    const tail = (this.size & 31) !== 0 ? maskTo((this.size - 1) & 31) : -1;
    // Stray bits past `size` in a foreign buffer are not part of the bitmap: do not copy them.
    copy.view[copy.view.length - 1]! &= tail;
    return copy;
  }

  /** A sparse, single-threaded copy (for example to serialise with {@link PageBitmap.toBytes}). */
  toPageBitmap(): PageBitmap {
    const out = new PageBitmap(this.size);
    this.forEachRun((s, l) => {
      out.setRange(s, s + l);
    });
    return out;
  }
}
