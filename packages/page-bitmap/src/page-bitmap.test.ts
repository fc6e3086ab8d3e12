import { describe, expect, it } from 'vitest';
import { AtomicPageBitmap } from './atomic-page-bitmap.js';
import { PageBitmap } from './page-bitmap.js';
import { collectRuns } from './test-support/model.js';

const MAX = 2 ** 32;

describe('PageBitmap basics', () => {
  it.each([1, 31, 32, 33, 63, 64, 65, 65_535, 65_536, 65_537, 1_000_003])(
    'size %i: every operation reaches exactly the last bit and no further',
    (size) => {
      const bm = new PageBitmap(size);
      const last = size - 1;
      expect(bm.nextSet(0)).toBe(-1);
      expect(bm.nextClear(0)).toBe(0);
      expect(bm.set(last)).toBe(true);
      expect(bm.set(last)).toBe(false);
      expect(bm.test(last)).toBe(true);
      expect(bm.nextSet(0)).toBe(last);
      expect(bm.count()).toBe(1);
      expect(collectRuns(bm)).toEqual([[last, 1]]);
      expect(bm.setRange(0, size)).toBe(size - 1);
      expect(bm.count()).toBe(size);
      expect(bm.nextClear(0)).toBe(-1);
      expect(bm.nextClear(0, true)).toBe(-1);
      expect(collectRuns(bm)).toEqual([[0, size]]);
      expect(bm.clear(last)).toBe(true);
      expect(bm.nextClear(0)).toBe(last);
      expect(bm.countRange(0, size)).toBe(size - 1);
      expect(() => bm.test(size)).toThrow(RangeError);
    },
  );

  it('nextSet/nextClear accept from = size and wrap around', () => {
    const bm = PageBitmap.of(100, [10, 90]);
    expect(bm.nextSet(100)).toBe(-1);
    expect(bm.nextSet(100, true)).toBe(10);
    expect(bm.nextSet(91)).toBe(-1);
    expect(bm.nextSet(91, true)).toBe(10);
    expect(bm.nextSet(11, true)).toBe(90);
    expect(bm.nextSet(0, true)).toBe(10);
    const full = new PageBitmap(100).fill(true);
    full.clear(5);
    expect(full.nextClear(6)).toBe(-1);
    expect(full.nextClear(6, true)).toBe(5);
  });

  it('forEachRun stops when the callback returns false, and clips runs to the range', () => {
    const bm = new PageBitmap(1000);
    bm.setRange(10, 20);
    bm.setRange(30, 40);
    bm.setRange(50, 60);
    const seen: number[] = [];
    bm.forEachRun((s) => {
      seen.push(s);
      return seen.length < 2;
    });
    expect(seen).toEqual([10, 30]);
    expect(collectRuns(bm, 15, 55)).toEqual([
      [15, 5],
      [30, 10],
      [50, 5],
    ]);
    expect([...bm.runs(35, 36)]).toEqual([[35, 1]]);
  });

  it('runs span block boundaries as one run', () => {
    const bm = new PageBitmap(300_000);
    bm.setRange(65_530, 131_080);
    bm.set(131_081);
    expect(collectRuns(bm)).toEqual([
      [65_530, 131_080 - 65_530],
      [131_081, 1],
    ]);
    expect([...bm.runs()]).toEqual(collectRuns(bm));
  });
});

describe('PageBitmap at 2^32 pages', () => {
  it('costs under 1 MiB when empty and when full, and stays cheap when sparsely written', () => {
    const bm = new PageBitmap(MAX);
    expect(bm.memoryBytes()).toBeLessThan(1 << 20);
    bm.fill(true);
    expect(bm.count()).toBe(MAX);
    expect(bm.memoryBytes()).toBeLessThan(1 << 20);
    bm.fill(false);
    for (let i = 0; i < 100; i++) bm.set(i * 40_000_000);
    // 100 touched blocks of 8 KiB each, not 512 MiB.
    expect(bm.memoryBytes()).toBeLessThan((1 << 20) + 100 * 8192);
    expect(bm.count()).toBe(100);
  });

  it('handles indices and bounds near 2^32 without wrapping', () => {
    const bm = new PageBitmap(MAX);
    const last = MAX - 1;
    bm.set(last);
    bm.set(2 ** 31);
    expect(bm.test(last)).toBe(true);
    expect(bm.test(0)).toBe(false);
    expect(bm.test(2 ** 31 - 1)).toBe(false);
    expect(bm.nextSet(0)).toBe(2 ** 31);
    expect(bm.nextSet(2 ** 31 + 1)).toBe(last);
    expect(bm.nextSet(MAX)).toBe(-1);
    expect(bm.nextSet(MAX, true)).toBe(2 ** 31);
    expect(bm.countRange(MAX - 10, MAX)).toBe(1);
    expect(bm.setRange(MAX - 100, MAX)).toBe(99);
    expect(bm.nextClear(MAX - 100)).toBe(-1);
    expect(bm.nextClear(MAX - 100, true)).toBe(0);
    expect(collectRuns(bm, 2 ** 31 - 5)).toEqual([
      [2 ** 31, 1],
      [MAX - 100, 100],
    ]);
    expect(bm.clearRange(0, MAX)).toBe(101);
    expect(bm.count()).toBe(0);
    expect(() => bm.set(MAX)).toThrow(/index must be an integer in \[0, 4294967295\], got 4294967296/);
  });

  it('skips an all-clear 2^32 bitmap quickly via the block summary', () => {
    const bm = new PageBitmap(MAX);
    bm.set(MAX - 1);
    // Not a timing assertion: a dense scan of 2^27 words would also be correct; this checks the result.
    expect(bm.nextSet(1)).toBe(MAX - 1);
    bm.fill(true);
    bm.clear(MAX - 1);
    expect(bm.nextClear(0)).toBe(MAX - 1);
  });
});

describe('PageBitmap argument checking', () => {
  const bm = new PageBitmap(100);
  it.each([
    ['negative', -1, RangeError],
    ['too large', 100, RangeError],
    ['fractional', 1.5, RangeError],
    ['NaN', Number.NaN, RangeError],
    ['Infinity', Number.POSITIVE_INFINITY, RangeError],
    ['string', '1', TypeError],
    ['bigint', 1n, TypeError],
    ['undefined', undefined, TypeError],
  ])('rejects a %s index in test/set/clear with a message naming it', (_what, value, type) => {
    for (const op of ['test', 'set', 'clear'] as const) {
      expect(() => bm[op](value as number)).toThrow(type);
      expect(() => bm[op](value as number)).toThrow(/index must be an integer in \[0, 99\]/);
    }
  });

  it('rejects bad ranges, naming start or end and the allowed interval', () => {
    expect(() => bm.setRange(-1, 5)).toThrow(/start must be an integer in \[0, 100\], got -1/);
    expect(() => bm.setRange(5, 4)).toThrow(/end must be an integer in \[5, 100\], got 4/);
    expect(() => bm.clearRange(0, 101)).toThrow(RangeError);
    expect(() => bm.countRange(0, 2.5)).toThrow(RangeError);
    expect(() => bm.forEachRun(() => {}, 0, 101)).toThrow(RangeError);
    expect(() => bm.forEachRun(null as never)).toThrow(TypeError);
    expect(() => bm.nextSet(101)).toThrow(/from must be an integer in \[0, 100\]/);
    expect(() => bm.nextClear(-1)).toThrow(RangeError);
    expect(() => bm.findSet(5, 101)).toThrow(/end must be an integer in \[5, 100\], got 101/);
    expect(() => bm.findClear(-1, 5)).toThrow(/start must be an integer/);
    expect(() => [...bm.runs(0, 200)]).toThrow(RangeError);
    expect(() => bm.fill(1 as never)).toThrow(TypeError);
  });

  it.each([0, -1, 2 ** 32 + 1, 1.5, Number.NaN])('rejects size %s', (size) => {
    expect(() => new PageBitmap(size)).toThrow(/size must be an integer in \[1, 4294967296\]/);
  });

  it('rejects bitmaps of another size in equals/or/and/andNot', () => {
    const other = new PageBitmap(101);
    for (const op of ['equals', 'or', 'and', 'andNot'] as const) {
      expect(() => bm[op](other)).toThrow(/other bitmap has size 101, expected the same size 100/);
      expect(() => bm[op](new AtomicPageBitmap(99))).toThrow(RangeError);
      expect(() => bm[op]({} as never)).toThrow(TypeError);
    }
  });
});

describe('PageBitmap storage', () => {
  it('frees blocks that a range operation makes uniform', () => {
    const bm = new PageBitmap(4 * 65_536);
    const empty = bm.memoryBytes();
    bm.set(70_000);
    expect(bm.memoryBytes()).toBe(empty + 8192);
    bm.setRange(65_536, 131_072);
    expect(bm.memoryBytes()).toBe(empty);
    bm.clear(70_000);
    expect(bm.memoryBytes()).toBe(empty + 8192);
    expect(bm.test(70_000)).toBe(false);
    expect(bm.count()).toBe(65_535);
    bm.clearRange(65_536, 131_072);
    expect(bm.memoryBytes()).toBe(empty);
    expect(bm.count()).toBe(0);
  });

  it('clone does not share block storage', () => {
    const a = new PageBitmap(200_000);
    a.set(5);
    const b = a.clone();
    b.set(6);
    a.clear(5);
    expect(a.test(6)).toBe(false);
    expect(b.test(5)).toBe(true);
  });
});
