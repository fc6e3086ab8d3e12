import { describe, expect, it } from 'vitest';
import { AtomicPageBitmap } from './atomic-page-bitmap.js';
import { PageBitmap } from './page-bitmap.js';
import { collectRuns } from './test-support/model.js';

describe('AtomicPageBitmap', () => {
  it('shares its bits with views made by fromShared', () => {
    const a = new AtomicPageBitmap(1000);
    const b = AtomicPageBitmap.fromShared(a.buffer, 1000);
    a.set(7);
    expect(b.test(7)).toBe(true);
    expect(b.testAndSet(7)).toBe(true);
    expect(b.testAndSet(8)).toBe(false);
    expect(a.test(8)).toBe(true);
    expect(a.testAndClear(8)).toBe(true);
    expect(b.testAndClear(8)).toBe(false);
    expect(a.equals(b)).toBe(true);
  });

  it('places its words at byteOffset and leaves the rest of the buffer alone', () => {
    const sab = new SharedArrayBuffer(64);
    const raw = new Int32Array(sab);
    const bm = AtomicPageBitmap.fromShared(sab, 33, 8);
    bm.fill(true);
    expect(Array.from(raw.subarray(0, 5))).toEqual([0, 0, -1, 1, 0]);
    expect(bm.count()).toBe(33);
    expect(AtomicPageBitmap.byteLengthFor(33)).toBe(8);
    expect(AtomicPageBitmap.byteLengthFor(2 ** 32)).toBe(512 * 2 ** 20);
  });

  it('ignores stray bits past size in a foreign buffer', () => {
    const sab = new SharedArrayBuffer(8);
    new Int32Array(sab)[1] = -1;
    const bm = AtomicPageBitmap.fromShared(sab, 40);
    expect(bm.count()).toBe(8);
    expect(collectRuns(bm)).toEqual([[32, 8]]);
    expect(bm.nextClear(32)).toBe(-1);
  });

  it('rejects unusable buffers and offsets, naming the argument', () => {
    expect(() => AtomicPageBitmap.fromShared(new ArrayBuffer(8) as never, 10)).toThrow(TypeError);
    expect(() => AtomicPageBitmap.fromShared(new SharedArrayBuffer(4), 33)).toThrow(
      /needs 8 bytes, but the buffer has only 4/,
    );
    expect(() => AtomicPageBitmap.fromShared(new SharedArrayBuffer(16), 32, 2)).toThrow(/byteOffset/);
    expect(() => AtomicPageBitmap.fromShared(new SharedArrayBuffer(16), 32, 16)).toThrow(
      /byteOffset.*\[0, 12\]/,
    );
    expect(() => new AtomicPageBitmap(0)).toThrow(/size must be an integer in \[1, 4294967296\]/);
  });

  it('rejects bad indices and ranges like PageBitmap', () => {
    const bm = new AtomicPageBitmap(64);
    for (const bad of [-1, 64, 0.5, Number.NaN]) {
      expect(() => bm.testAndSet(bad)).toThrow(/index must be an integer in \[0, 63\]/);
      expect(() => bm.testAndClear(bad)).toThrow(RangeError);
    }
    expect(() => bm.test('3' as never)).toThrow(TypeError);
    expect(() => bm.claimRange(10, 5)).toThrow(/end must be an integer in \[10, 64\], got 5/);
    expect(() => bm.claimRun(65, 1)).toThrow(/from must be an integer in \[0, 64\]/);
    expect(() => bm.claimRun(0, 0)).toThrow(/maxLength must be an integer in \[1, 4294967296\]/);
    expect(() => bm.claimRange(0, 5, 5 as never)).toThrow(TypeError);
    expect(() => bm.equals(new AtomicPageBitmap(65))).toThrow(/expected the same size 64/);
  });

  it('claimRun stops at maxLength, at end and at the first set bit', () => {
    const bm = new AtomicPageBitmap(200);
    bm.set(40);
    expect(bm.claimRun(0, 100)).toEqual([0, 40]);
    expect(bm.claimRun(0, 100)).toEqual([41, 100]);
    expect(bm.claimRun(0, 5, 150)).toEqual([141, 5]);
    expect(bm.claimRun(0, 100, 150)).toEqual([146, 4]);
    expect(bm.claimRun(0, 100, 150)).toBeNull();
    expect(bm.claimRun(150, 1000)).toEqual([150, 50]);
    expect(bm.claimRun(200, 1)).toBeNull();
    expect(bm.count()).toBe(200);
  });

  it('claimRange reports runs across word boundaries and counts claimed bits', () => {
    const bm = new AtomicPageBitmap(100);
    bm.setRange(30, 34);
    const runs: [number, number][] = [];
    expect(
      bm.claimRange(0, 100, (s, l) => {
        runs.push([s, l]);
        return false; // ignored: the claim completes
      }),
    ).toBe(96);
    expect(runs).toEqual([
      [0, 30],
      [34, 66],
    ]);
    expect(bm.claimRange(0, 100)).toBe(0);
    expect(bm.clearRange(10, 70)).toBe(60);
    expect(bm.setRange(0, 100)).toBe(60);
  });

  it('forEachRun stops when the callback returns false, including on a run open at the end', () => {
    const bm = new AtomicPageBitmap(100);
    bm.setRange(10, 20);
    bm.setRange(90, 100);
    const seen: number[] = [];
    bm.forEachRun((s) => {
      seen.push(s);
      return false;
    });
    expect(seen).toEqual([10]);
    seen.length = 0;
    bm.forEachRun((s) => {
      seen.push(s);
      return false;
    }, 50);
    expect(seen).toEqual([90]);
  });

  it('converts to and from PageBitmap with the same bits', () => {
    const pb = new PageBitmap(131_073);
    pb.setRange(65_000, 70_000);
    pb.set(131_072);
    const ab = AtomicPageBitmap.fromBitmap(pb);
    expect(ab.equals(pb)).toBe(true);
    expect(pb.equals(ab)).toBe(true);
    expect(ab.toPageBitmap().equals(pb)).toBe(true);
    ab.clear(131_072);
    expect(ab.equals(pb)).toBe(false);
    expect(pb.equals(ab)).toBe(false);
    const c = ab.clone();
    expect(c.buffer).not.toBe(ab.buffer);
    expect(c.equals(ab)).toBe(true);
  });

  it('handles the top indices of a large bitmap (2^31 + 64 pages, 256 MiB)', () => {
    const size = 2 ** 31 + 64;
    const bm = new AtomicPageBitmap(size);
    bm.set(size - 1);
    bm.set(2 ** 31);
    expect(bm.nextSet(2 ** 31 - 100)).toBe(2 ** 31);
    expect(bm.nextSet(2 ** 31 + 1)).toBe(size - 1);
    expect(bm.claimRun(2 ** 31, 1000)).toEqual([2 ** 31 + 1, 62]);
    expect(bm.countRange(2 ** 31, size)).toBe(64);
    expect(collectRuns(bm, 2 ** 31 - 1)).toEqual([[2 ** 31, 64]]);
  });
});
