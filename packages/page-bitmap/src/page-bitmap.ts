import { decodeBitmap, type EncodedBlock, encodeBitmap } from './format.js';
import { BLOCK_BITS, BLOCK_MASK, BLOCK_SHIFT, BLOCK_WORDS, blockCountFor, blockLengthOf } from './layout.js';
import type { ReadonlyPageBitmap, Run } from './types.js';
import {
  checkRange,
  checkSameSize,
  checkSize,
  indexError,
  integerError,
  MAX_PAGE_COUNT,
} from './validate.js';
import {
  clearInWords,
  countInWords,
  nextClearInWords,
  nextSetInWords,
  type RunCallback,
  runsInWords,
  STOPPED,
  setInWords,
} from './word-ops.js';

function summaryWords(nBlocks: number): Uint32Array {
  return new Uint32Array(Math.ceil(nBlocks / 32));
}

function fillSummary(summary: Uint32Array, nBlocks: number): void {
  summary.fill(0xffffffff);
  const tail = nBlocks & 31;
  if (tail !== 0) summary[summary.length - 1] = (1 << tail) - 1;
}

function checkCallback(cb: unknown): void {
  if (typeof cb !== 'function')
    throw new TypeError(`cb must be a function (start, length) => void, got ${typeof cb}`);
}

/**
 * A fixed-size bitmap of page states, for 1 to 2^32 pages, stored sparsely.
 *
 * Bits live in blocks of 2^16 bits (2,048 32-bit words). A block's words are allocated on the first
 * write that makes it neither all-clear nor all-set; an all-clear or all-set block costs only its
 * count. Per-block counts plus two summary bitmaps (non-empty blocks, full blocks) let `nextSet`
 * and `nextClear` skip uniform blocks 32 at a time and make `count()` O(1). A 2^32-page bitmap
 * therefore costs about 0.8 MiB until written, against 512 MiB dense.
 *
 * Not safe for concurrent mutation from several threads: use {@link AtomicPageBitmap} for that.
 * All indices must be integers; bad arguments throw `TypeError`/`RangeError` naming the argument
 * and the allowed range.
 */
export class PageBitmap implements ReadonlyPageBitmap {
  /** Number of bits (pages); indices are `0 .. size - 1`. */
  readonly size: number;
  private readonly nBlocks: number;
  private readonly lastLen: number;
  /** Block words, or null when the block is uniform (all clear if its count is 0, else all set). */
  private readonly blocks: (Uint32Array | null)[];
  private readonly counts: Uint32Array;
  private readonly nonEmpty: Uint32Array;
  private readonly full: Uint32Array;
  private total = 0;

  /**
   * Creates an all-clear bitmap.
   * @param size - number of pages, an integer in [1, 2^32]
   */
  constructor(size: number) {
    checkSize(size, MAX_PAGE_COUNT);
    this.size = size;
    this.nBlocks = blockCountFor(size);
    this.lastLen = blockLengthOf(size, this.nBlocks - 1);
    this.blocks = new Array<Uint32Array | null>(this.nBlocks).fill(null);
    this.counts = new Uint32Array(this.nBlocks);
    this.nonEmpty = summaryWords(this.nBlocks);
    this.full = summaryWords(this.nBlocks);
  }

  /** Largest supported size: 2^32 pages (16 TiB of 4 KiB pages). */
  static readonly MAX_SIZE = MAX_PAGE_COUNT;

  private blockLen(b: number): number {
    return b === this.nBlocks - 1 ? this.lastLen : BLOCK_BITS;
  }

  /** Allocates the words of uniform block `b`, filled to match its count. */
  private materialize(b: number): Uint32Array {
    const len = this.blockLen(b);
    const words = new Uint32Array(len === BLOCK_BITS ? BLOCK_WORDS : Math.ceil(len / 32));
    if (this.counts[b] !== 0) {
      words.fill(0xffffffff);
      // Bits past `size` stay clear so that word-level counts and scans need no tail special case.
      if ((len & 31) !== 0) words[words.length - 1] = (1 << (len & 31)) - 1;
    }
    this.blocks[b] = words;
    return words;
  }

  /** Records a new count for block `b` and keeps the total and both summaries in step. */
  private setCount(b: number, before: number, after: number): void {
    if (before === after) return;
    this.counts[b] = after;
    this.total += after - before;
    const bit = 1 << (b & 31);
    const k = b >>> 5;
    if (before === 0) this.nonEmpty[k]! |= bit;
    else if (after === 0) this.nonEmpty[k]! &= ~bit;
    const len = this.blockLen(b);
    if (after === len) this.full[k]! |= bit;
    else if (before === len) this.full[k]! &= ~bit;
  }

  /** Whether bit `index` is set. */
  test(index: number): boolean {
    if (typeof index !== 'number' || !(index >= 0 && index < this.size) || index >>> 0 !== index) {
      throw indexError('index', index, this.size);
    }
    const b = index >>> BLOCK_SHIFT;
    const blk = this.blocks[b] as Uint32Array | null;
    if (blk === null) return this.counts[b] !== 0;
    return ((blk[(index & BLOCK_MASK) >>> 5]! >>> (index & 31)) & 1) !== 0;
  }

  /**
   * Sets bit `index`.
   * @returns true if the bit was clear (the call changed it)
   */
  set(index: number): boolean {
    if (typeof index !== 'number' || !(index >= 0 && index < this.size) || index >>> 0 !== index) {
      throw indexError('index', index, this.size);
    }
    const b = index >>> BLOCK_SHIFT;
    let blk = this.blocks[b] as Uint32Array | null;
    if (blk === null) {
      if (this.counts[b] !== 0) return false;
      blk = this.materialize(b);
    }
    const k = (index & BLOCK_MASK) >>> 5;
    const m = 1 << (index & 31);
    const w = blk[k]!;
    if ((w & m) !== 0) return false;
    blk[k] = w | m;
    const c = this.counts[b]!;
    this.setCount(b, c, c + 1);
    return true;
  }

  /**
   * Clears bit `index`.
   * @returns true if the bit was set (the call changed it)
   */
  clear(index: number): boolean {
    if (typeof index !== 'number' || !(index >= 0 && index < this.size) || index >>> 0 !== index) {
      throw indexError('index', index, this.size);
    }
    const b = index >>> BLOCK_SHIFT;
    let blk = this.blocks[b] as Uint32Array | null;
    if (blk === null) {
      if (this.counts[b] === 0) return false;
      blk = this.materialize(b);
    }
    const k = (index & BLOCK_MASK) >>> 5;
    const m = 1 << (index & 31);
    const w = blk[k]!;
    if ((w & m) === 0) return false;
    blk[k] = w & ~m;
    const c = this.counts[b]!;
    this.setCount(b, c, c - 1);
    return true;
  }

  /**
   * Sets bits `[start, end)`. Blocks the range covers entirely become uniform and free their words.
   * @returns the number of bits that were clear
   */
  setRange(start: number, end: number): number {
    checkRange(start, end, this.size);
    if (start === end) return 0;
    const last = end - 1;
    const b0 = start >>> BLOCK_SHIFT;
    const lb = last >>> BLOCK_SHIFT;
    let changed = 0;
    for (let b = b0; b <= lb; b++) {
      const len = this.blockLen(b);
      const before = this.counts[b]!;
      if (before === len) continue;
      const lo = b === b0 ? start & BLOCK_MASK : 0;
      const hi = b === lb ? last & BLOCK_MASK : len - 1;
      let after = len;
      if (lo === 0 && hi === len - 1) {
        this.blocks[b] = null;
      } else {
        const blk = this.blocks[b] ?? this.materialize(b);
        after = before + setInWords(blk, lo, hi);
        if (after === len) this.blocks[b] = null;
      }
      changed += after - before;
      this.setCount(b, before, after);
    }
    return changed;
  }

  /**
   * Clears bits `[start, end)`. Blocks that end up all clear free their words.
   * @returns the number of bits that were set
   */
  clearRange(start: number, end: number): number {
    checkRange(start, end, this.size);
    if (start === end) return 0;
    const last = end - 1;
    const b0 = start >>> BLOCK_SHIFT;
    const lb = last >>> BLOCK_SHIFT;
    let changed = 0;
    for (let b = b0; b <= lb; b++) {
      const before = this.counts[b]!;
      if (before === 0) {
        this.blocks[b] = null;
        continue;
      }
      const len = this.blockLen(b);
      const lo = b === b0 ? start & BLOCK_MASK : 0;
      const hi = b === lb ? last & BLOCK_MASK : len - 1;
      let after = 0;
      if (lo === 0 && hi === len - 1) {
        this.blocks[b] = null;
      } else {
        const blk = this.blocks[b] ?? this.materialize(b);
        after = before - clearInWords(blk, lo, hi);
        if (after === 0) this.blocks[b] = null;
      }
      changed += before - after;
      this.setCount(b, before, after);
    }
    return changed;
  }

  /** Sets (`value` true) or clears every bit, releasing all block storage. */
  fill(value: boolean): this {
    if (typeof value !== 'boolean') throw new TypeError(`value must be a boolean, got ${typeof value}`);
    this.blocks.fill(null);
    if (value) {
      this.counts.fill(BLOCK_BITS);
      this.counts[this.nBlocks - 1] = this.lastLen;
      fillSummary(this.nonEmpty, this.nBlocks);
      fillSummary(this.full, this.nBlocks);
      this.total = this.size;
    } else {
      this.counts.fill(0);
      this.nonEmpty.fill(0);
      this.full.fill(0);
      this.total = 0;
    }
    return this;
  }

  /** Number of set bits, in O(1). */
  count(): number {
    return this.total;
  }

  /** Number of set bits in `[start, end)`. */
  countRange(start: number, end: number): number {
    checkRange(start, end, this.size);
    if (start === 0 && end === this.size) return this.total;
    if (start === end) return 0;
    const last = end - 1;
    const b0 = start >>> BLOCK_SHIFT;
    const lb = last >>> BLOCK_SHIFT;
    let n = 0;
    for (let b = b0; b <= lb; b++) {
      const c = this.counts[b]!;
      if (c === 0) continue;
      const len = this.blockLen(b);
      const lo = b === b0 ? start & BLOCK_MASK : 0;
      const hi = b === lb ? last & BLOCK_MASK : len - 1;
      if (lo === 0 && hi === len - 1) n += c;
      else {
        const blk = this.blocks[b] as Uint32Array | null;
        n += blk === null ? hi - lo + 1 : countInWords(blk, lo, hi);
      }
    }
    return n;
  }

  private checkFrom(from: number): void {
    if (typeof from !== 'number' || !(from >= 0 && from <= this.size) || Math.floor(from) !== from) {
      throw integerError('from', from, 0, this.size);
    }
  }

  /**
   * First set bit at or after `from`, or -1 if there is none.
   * @param from - an integer in [0, size]; `size` is accepted so that `nextSet(i + 1)` loops need no guard
   * @param wrap - when nothing is found, continue from 0 up to `from - 1`
   */
  nextSet(from: number, wrap = false): number {
    this.checkFrom(from);
    if (this.total === 0) return -1;
    if (from < this.size) {
      const r = this.nextSetIn(from, this.size - 1);
      if (r >= 0 || !wrap) return r;
    } else if (!wrap) return -1;
    return from > 0 ? this.nextSetIn(0, from - 1) : -1;
  }

  /**
   * First clear bit at or after `from`, or -1 if there is none.
   * @param from - an integer in [0, size]
   * @param wrap - when nothing is found, continue from 0 up to `from - 1`
   */
  nextClear(from: number, wrap = false): number {
    this.checkFrom(from);
    if (this.total === this.size) return -1;
    if (from < this.size) {
      const r = this.nextClearIn(from, this.size - 1);
      if (r >= 0 || !wrap) return r;
    } else if (!wrap) return -1;
    return from > 0 ? this.nextClearIn(0, from - 1) : -1;
  }

  /**
   * First set bit in `[start, end)`, or -1: a bounded {@link PageBitmap.nextSet} that never scans
   * past `end` (for example "how long is the run at `p`, up to 64 pages").
   */
  findSet(start: number, end: number): number {
    checkRange(start, end, this.size);
    return start === end || this.total === 0 ? -1 : this.nextSetIn(start, end - 1);
  }

  /** First clear bit in `[start, end)`, or -1: a bounded {@link PageBitmap.nextClear}. */
  findClear(start: number, end: number): number {
    checkRange(start, end, this.size);
    return start === end || this.total === this.size ? -1 : this.nextClearIn(start, end - 1);
  }

  /** First set bit in `[from, last]` (validated by the caller), or -1. */
  private nextSetIn(from: number, last: number): number {
    let b = from >>> BLOCK_SHIFT;
    const lb = last >>> BLOCK_SHIFT;
    let lo = from & BLOCK_MASK;
    for (;;) {
      if (this.counts[b] !== 0) {
        const blk = this.blocks[b] as Uint32Array | null;
        // A uniform block with a non-zero count is all set.
        if (blk === null) return b * BLOCK_BITS + lo;
        const r = nextSetInWords(blk, lo, b === lb ? last & BLOCK_MASK : BLOCK_MASK);
        if (r >= 0) return b * BLOCK_BITS + r;
      }
      if (b >= lb) return -1;
      b = nextSetInWords(this.nonEmpty, b + 1, lb);
      if (b < 0) return -1;
      lo = 0;
    }
  }

  /** First clear bit in `[from, last]` (validated by the caller), or -1. */
  private nextClearIn(from: number, last: number): number {
    let b = from >>> BLOCK_SHIFT;
    const lb = last >>> BLOCK_SHIFT;
    let lo = from & BLOCK_MASK;
    for (;;) {
      if (this.counts[b] !== this.blockLen(b)) {
        const blk = this.blocks[b] as Uint32Array | null;
        // A uniform block that is not full is all clear.
        if (blk === null) return b * BLOCK_BITS + lo;
        const r = nextClearInWords(blk, lo, b === lb ? last & BLOCK_MASK : BLOCK_MASK);
        if (r >= 0) return b * BLOCK_BITS + r;
      }
      if (b >= lb) return -1;
      b = nextClearInWords(this.full, b + 1, lb);
      if (b < 0) return -1;
      lo = 0;
    }
  }

  /**
   * Calls `cb(start, length)` for every maximal run of set bits within `[start, end)`, in ascending
   * order, clipped to the range. Returning `false` from `cb` stops early. Allocation-free; the fast
   * form for hot loops. The bitmap must not be modified from inside `cb`.
   */
  forEachRun(cb: RunCallback, start = 0, end: number = this.size): void {
    checkCallback(cb);
    checkRange(start, end, this.size);
    if (start === end || this.total === 0) return;
    const last = end - 1;
    const b0 = start >>> BLOCK_SHIFT;
    const lb = last >>> BLOCK_SHIFT;
    let open = -1;
    let b = b0;
    while (b <= lb) {
      const base = b * BLOCK_BITS;
      const lo = b === b0 ? start & BLOCK_MASK : 0;
      const c = this.counts[b]!;
      if (c === 0) {
        if (open >= 0) {
          if (cb(open, base - open) === false) return;
          open = -1;
        }
        if (b >= lb) break;
        b = nextSetInWords(this.nonEmpty, b + 1, lb);
        if (b < 0) break;
        continue;
      }
      const hi = b === lb ? last & BLOCK_MASK : this.blockLen(b) - 1;
      const blk = this.blocks[b] as Uint32Array | null;
      if (blk === null) {
        if (open < 0) open = base + lo;
      } else {
        open = runsInWords(blk, lo, hi, base, open, cb);
        if (open === STOPPED) return;
      }
      b++;
    }
    if (open >= 0) cb(open, end - open);
  }

  /**
   * Iterates the runs of set bits within `[start, end)` as `[start, length]` tuples. Convenient;
   * allocates one tuple per run. Each step resumes from the live bitmap, so changes made during
   * iteration are seen from the current position on.
   */
  *runs(start = 0, end: number = this.size): IterableIterator<Run> {
    checkRange(start, end, this.size);
    let p = start;
    while (p < end) {
      const s = this.nextSetIn(p, end - 1);
      if (s < 0) return;
      const e = this.nextClearIn(s, end - 1);
      const stop = e < 0 ? end : e;
      yield [s, stop - s];
      p = stop;
    }
  }

  /** An independent copy. */
  clone(): PageBitmap {
    const copy = new PageBitmap(this.size);
    for (let b = 0; b < this.nBlocks; b++) {
      const blk = this.blocks[b] as Uint32Array | null;
      if (blk !== null) copy.blocks[b] = blk.slice();
    }
    copy.counts.set(this.counts);
    copy.nonEmpty.set(this.nonEmpty);
    copy.full.set(this.full);
    copy.total = this.total;
    return copy;
  }

  /**
   * Whether `other` has the same bits set. Throws RangeError when the sizes differ (comparing
   * bitmaps of different regions is a caller bug, not a "no").
   */
  equals(other: ReadonlyPageBitmap): boolean {
    checkOther('equals', other);
    checkSameSize('equals', this.size, other.size);
    if (other === this) return true;
    if (other instanceof PageBitmap) {
      if (other.total !== this.total) return false;
      for (let b = 0; b < this.nBlocks; b++) {
        const c = this.counts[b]!;
        if (c !== other.counts[b]) return false;
        // Equal counts of 0 or full imply equal contents, whatever the storage.
        if (c === 0 || c === this.blockLen(b)) continue;
        const x = this.blocks[b]!;
        const y = other.blocks[b]!;
        for (let k = 0; k < x.length; k++) if (x[k] !== y[k]) return false;
      }
      return true;
    }
    if (other.count() !== this.total) return false;
    let pos = 0;
    let same = true;
    this.forEachRun((s, l) => {
      const e = s + l;
      if (other.nextSet(pos) !== s || other.nextClear(s) !== (e === this.size ? -1 : e)) {
        same = false;
        return false;
      }
      pos = e;
      return true;
    });
    return same;
  }

  /** Sets every bit that is set in `other` (in-place union). Sizes must match. */
  or(other: ReadonlyPageBitmap): this {
    checkOther('or', other);
    checkSameSize('or', this.size, other.size);
    if (other === this) return this;
    other.forEachRun((s, l) => {
      this.setRange(s, s + l);
    });
    return this;
  }

  /** Clears every bit that is clear in `other` (in-place intersection). Sizes must match. */
  and(other: ReadonlyPageBitmap): this {
    checkOther('and', other);
    checkSameSize('and', this.size, other.size);
    if (other === this) return this;
    let pos = 0;
    other.forEachRun((s, l) => {
      if (s > pos) this.clearRange(pos, s);
      pos = s + l;
    });
    if (pos < this.size) this.clearRange(pos, this.size);
    return this;
  }

  /** Clears every bit that is set in `other` (in-place difference). Sizes must match. */
  andNot(other: ReadonlyPageBitmap): this {
    checkOther('andNot', other);
    checkSameSize('andNot', this.size, other.size);
    if (other === this) return this.fill(false);
    other.forEachRun((s, l) => {
      this.clearRange(s, s + l);
    });
    return this;
  }

  /** Bytes of typed-array storage currently allocated (blocks, counts, summaries). */
  memoryBytes(): number {
    let n = this.counts.byteLength + this.nonEmpty.byteLength + this.full.byteLength + this.blocks.length * 8;
    for (const blk of this.blocks) if (blk !== null) n += blk.byteLength;
    return n;
  }

  /** Serialises to the documented `BGPB` v1 format (see README): uniform blocks cost 8 bytes or nothing. */
  toBytes(): Uint8Array {
    const blocks: EncodedBlock[] = [];
    for (let b = 0; b < this.nBlocks; b++) {
      const c = this.counts[b]!;
      if (c === 0) continue;
      blocks.push({ index: b, count: c, words: c === this.blockLen(b) ? null : this.blocks[b]! });
    }
    return encodeBitmap(this.size, this.total, blocks);
  }

  /**
   * Decodes a bitmap written by {@link PageBitmap.toBytes}.
   * @throws TypeError if `bytes` is not a Uint8Array
   * @throws PageBitmapFormatError (a RangeError) if the input is truncated, corrupt or of another version
   */
  static fromBytes(bytes: Uint8Array): PageBitmap {
    const decoded = decodeBitmap(bytes);
    const bm = new PageBitmap(decoded.size);
    for (const blk of decoded.blocks) {
      const len = bm.blockLen(blk.index);
      if (blk.count === 0) continue;
      if (blk.count !== len) bm.blocks[blk.index] = blk.words;
      bm.setCount(blk.index, 0, blk.count);
    }
    return bm;
  }

  /** A bitmap of `size` pages with the given pages set. */
  static of(size: number, indices: Iterable<number>): PageBitmap {
    const bm = new PageBitmap(size);
    for (const i of indices) bm.set(i);
    return bm;
  }
}

function checkOther(what: string, other: unknown): asserts other is ReadonlyPageBitmap {
  if (
    typeof other !== 'object' ||
    other === null ||
    typeof (other as ReadonlyPageBitmap).forEachRun !== 'function' ||
    typeof (other as ReadonlyPageBitmap).size !== 'number'
  ) {
    throw new TypeError(`${what}: other must be a PageBitmap or AtomicPageBitmap`);
  }
}

export { checkOther };
