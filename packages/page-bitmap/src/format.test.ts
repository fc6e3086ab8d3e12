import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PageBitmapFormatError } from './errors.js';
import { PageBitmap } from './page-bitmap.js';

/** Rewrites the CRC trailer, so a test can craft structurally bad input that passes the checksum. */
function resealed(bytes: Uint8Array, edit: (view: DataView) => void): Uint8Array {
  const copy = bytes.slice();
  const view = new DataView(copy.buffer);
  edit(view);
  view.setUint32(copy.length - 4, crc32(copy.subarray(0, copy.length - 4)), true);
  return copy;
}

function decodeError(bytes: Uint8Array): PageBitmapFormatError {
  try {
    PageBitmap.fromBytes(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(PageBitmapFormatError);
    expect(e).toBeInstanceOf(RangeError);
    return e as PageBitmapFormatError;
  }
  throw new Error('fromBytes accepted corrupt input');
}

describe('BGPB v1 format', () => {
  it('crc32 matches the standard check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  it('lays out header, records and trailer as documented', () => {
    // 70,000 pages = 2 blocks; block 0 holds bit 3 (positions record), block 1 is all set (span record).
    const bm = new PageBitmap(70_000);
    bm.set(3);
    bm.setRange(65_536, 70_000);
    const bytes = bm.toBytes();
    const v = new DataView(bytes.buffer);
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe('BGPB');
    expect([v.getUint8(4), v.getUint8(5), v.getUint16(6, true)]).toEqual([1, 16, 0]);
    expect([v.getUint32(8, true), v.getUint32(12, true)]).toEqual([70_000, 0]);
    expect([v.getUint32(16, true), v.getUint32(20, true)]).toEqual([1 + 4464, 0]);
    expect(v.getUint32(24, true)).toBe(2);
    // record 0: block 0, kind 3 (positions), n = 1, one u16 offset padded to 4 bytes
    expect([v.getUint32(28, true), v.getUint8(32), v.getUint32(36, true), v.getUint16(40, true)]).toEqual([
      0, 3, 1, 3,
    ]);
    // record 1: block 1, kind 1 (all set), span 1 block
    expect([v.getUint32(44, true), v.getUint8(48), v.getUint32(52, true)]).toEqual([1, 1, 1]);
    expect(bytes.length).toBe(56 + 4);
    expect(v.getUint32(56, true)).toBe(crc32(bytes.subarray(0, 56)));
  });

  it('serialises huge uniform bitmaps in a few bytes', () => {
    const bm = new PageBitmap(2 ** 32);
    expect(bm.toBytes().length).toBe(32);
    bm.fill(true);
    expect(bm.toBytes().length).toBe(44);
    const back = PageBitmap.fromBytes(bm.toBytes());
    expect(back.count()).toBe(2 ** 32);
    expect(back.nextClear(0)).toBe(-1);
  });

  it('uses raw words for half-full blocks, set positions for sparse ones, holes for nearly full ones', () => {
    const dense = new PageBitmap(65_536);
    for (let i = 0; i < 65_536; i += 2) dense.set(i);
    expect(dense.toBytes().length).toBe(28 + 12 + 8192 + 4);
    expect(PageBitmap.fromBytes(dense.toBytes()).equals(dense)).toBe(true);
    // 70,001 pages: block 1 has 4,465 pages; leave 3 of them clear (kind 4, 3 offsets padded to 8 bytes).
    const nearlyFull = new PageBitmap(70_001).fill(true);
    for (const i of [65_536, 66_000, 70_000]) nearlyFull.clear(i);
    const bytes = nearlyFull.toBytes();
    const v = new DataView(bytes.buffer);
    expect([v.getUint8(28 + 12 + 4), v.getUint32(28 + 12 + 8, true)]).toEqual([4, 3]);
    expect(Array.from({ length: 3 }, (_, i) => v.getUint16(28 + 24 + i * 2, true))).toEqual([0, 464, 4464]);
    expect(bytes.length).toBe(28 + 12 + 12 + 8 + 4);
    const back = PageBitmap.fromBytes(bytes);
    expect(back.equals(nearlyFull)).toBe(true);
    expect(back.count()).toBe(70_001 - 3);
  });

  it('rejects non-Uint8Array input with a TypeError', () => {
    expect(() => PageBitmap.fromBytes('BGPB' as never)).toThrow(TypeError);
    expect(() => PageBitmap.fromBytes(null as never)).toThrow(TypeError);
  });

  it('rejects every truncation and every single-byte corruption', () => {
    // One record of each kind: positions (block 0), all set (block 1), holes (block 2), raw words (block 3).
    const bm = new PageBitmap(4 * 65_536 - 5);
    for (let i = 0; i < 40; i++) bm.set(i * 7);
    bm.setRange(65_536, 3 * 65_536);
    bm.clear(2 * 65_536 + 3);
    for (let i = 3 * 65_536; i < 3 * 65_536 + 40_000; i += 2) bm.set(i);
    const bytes = bm.toBytes();
    const kindAt = [28 + 4, 28 + 12 + 80 + 4, 28 + 12 + 80 + 12 + 4, 28 + 12 + 80 + 12 + 12 + 4 + 4];
    expect(kindAt.map((o) => bytes[o])).toEqual([3, 1, 4, 2]);
    expect(PageBitmap.fromBytes(bytes).equals(bm)).toBe(true);
    for (let n = 0; n < 200; n++) decodeError(bytes.subarray(0, n));
    for (let n = 200; n < bytes.length; n += 97) decodeError(bytes.subarray(0, n));
    decodeError(bytes.subarray(0, bytes.length - 1));
    fc.assert(
      fc.property(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const bad = bytes.slice();
        bad[at]! ^= x;
        decodeError(bad);
      }),
    );
    const longer = new Uint8Array(bytes.length + 4);
    longer.set(bytes);
    decodeError(longer);
  });

  it('names the bad field when the checksum is valid but the structure is not', () => {
    const bm = new PageBitmap(140_000);
    bm.set(5);
    bm.setRange(65_536, 131_072);
    bm.set(139_999);
    const good = bm.toBytes();
    expect(PageBitmap.fromBytes(good).equals(bm)).toBe(true);
    const cases: [string, (v: DataView) => void, RegExp][] = [
      ['magic', (v) => v.setUint8(0, 0x41), /magic/],
      ['version', (v) => v.setUint8(4, 2), /version must be 1, got 2/],
      ['block shift', (v) => v.setUint8(5, 12), /blockShift must be 16/],
      ['reserved', (v) => v.setUint16(6, 1, true), /reserved/],
      ['zero size', (v) => v.setUint32(8, 0, true), /size must be in \[1, 4294967296\], got 0/],
      ['size above 2^32', (v) => v.setUint32(12, 1, true), /size must be in \[1, 4294967296\]/],
      [
        'set count above size',
        (v) => v.setUint32(16, 140_001, true),
        /set-bit count must be in \[0, 140000\]/,
      ],
      ['set count mismatch', (v) => v.setUint32(16, 7, true), /header says 7 set bits/],
      ['record count', (v) => v.setUint32(24, 4, true), /record count must be in \[0, 3\], got 4/],
      ['block index order', (v) => v.setUint32(28 + 16, 0, true), /block index must be in \[1, 2\], got 0/],
      ['record kind', (v) => v.setUint8(28 + 4, 9), /kind must be 1, 2, 3 or 4, got 9/],
      [
        'span past the end',
        (v) => v.setUint32(28 + 16 + 8, 3, true),
        /block span must be in \[1, 2\], got 3/,
      ],
    ];
    for (const [what, edit, message] of cases) {
      const err = decodeError(resealed(good, edit));
      expect(err.message, what).toMatch(message);
    }
  });

  it('rejects raw words with bits set past the bitmap size', () => {
    const bm = new PageBitmap(100);
    for (let i = 0; i < 100; i += 2) bm.set(i);
    const good = bm.toBytes();
    // Single block of 4 words (100 bits): the last word may only use its low 4 bits.
    const bad = resealed(good, (v) => {
      v.setUint32(28 + 12 + 12, v.getUint32(28 + 12 + 12, true) | (1 << 10), true);
      v.setUint32(16, 51, true);
    });
    expect(decodeError(bad).message).toMatch(/bits set past the bitmap size 100/);
  });

  it('rejects unordered positions', () => {
    const bm = PageBitmap.of(1000, [5, 9]);
    const bad = resealed(bm.toBytes(), (v) => v.setUint16(28 + 12 + 2, 5, true));
    expect(decodeError(bad).message).toMatch(/position 1 must be in \[6, 999\], got 5/);
  });
});
