import type { RunCallback } from './word-ops.js';

export type { RunCallback };

/** A run of consecutive set bits: pages `[start, start + length)`. */
export type Run = readonly [start: number, length: number];

/**
 * The read and scan surface shared by {@link PageBitmap} and {@link AtomicPageBitmap}, so that code
 * which only inspects page state (and the cross-variant `equals`/`or`/`and`/`andNot`) accepts either.
 */
export interface ReadonlyPageBitmap {
  /** Number of bits (pages); indices are `0 .. size - 1`. */
  readonly size: number;
  /** Whether bit `index` is set. */
  test(index: number): boolean;
  /** Number of set bits. */
  count(): number;
  /** Number of set bits in `[start, end)`. */
  countRange(start: number, end: number): number;
  /**
   * First set bit at or after `from` (`0 <= from <= size`), or -1. With `wrap`, the search continues
   * from 0 up to `from - 1`.
   */
  nextSet(from: number, wrap?: boolean): number;
  /** First clear bit at or after `from` (`0 <= from <= size`), or -1; `wrap` as for {@link nextSet}. */
  nextClear(from: number, wrap?: boolean): number;
  /** First set bit in `[start, end)`, or -1; never looks past `end`. */
  findSet(start: number, end: number): number;
  /** First clear bit in `[start, end)`, or -1; never looks past `end`. */
  findClear(start: number, end: number): number;
  /**
   * Calls `cb(start, length)` for every maximal run of set bits within `[start, end)` (runs are clipped
   * to the range), in ascending order. Returning `false` from `cb` stops the iteration.
   */
  forEachRun(cb: RunCallback, start?: number, end?: number): void;
  /** Iterates the runs of set bits within `[start, end)` as `[start, length]` tuples. */
  runs(start?: number, end?: number): IterableIterator<Run>;
  /** Whether `other` has the same bits set; throws RangeError when the sizes differ. */
  equals(other: ReadonlyPageBitmap): boolean;
}
