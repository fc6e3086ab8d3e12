import { crc32 as zlibCrc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadNative } from './native.js';
import { nativeCrc32 } from './native-crc32.js';

const native = nativeCrc32();
const crc32 = native?.crc32;
/** zlib's CRC, except that zlib returns 0 for empty input (a null buffer) where the CRC of nothing continued from a seed is the seed. */
const reference = (data: Uint8Array, seed: number): number =>
  data.length === 0 ? seed : zlibCrc32(data, seed);

describe.skipIf(!crc32)('nativeCrc32', () => {
  it("equals zlib's CRC-32 for any bytes, offset, length and seed", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 5000 }),
        fc.nat(63),
        fc.integer({ min: 0, max: 0xffffffff }),
        (bytes, offset, seed) => {
          // An offset into a larger buffer: the folding loop reads unaligned.
          const backing = new Uint8Array(offset + bytes.length);
          backing.set(bytes, offset);
          const data = backing.subarray(offset);
          expect(crc32!(data, seed)).toBe(reference(data, seed));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('equals zlib on every length around the folding steps (256, 64 and 16 bytes), and on 1 MiB', () => {
    const data = new Uint8Array(1 << 20);
    for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
    for (let n = 0; n <= 1100; n++)
      expect(crc32!(data.subarray(0, n), 7)).toBe(zlibCrc32(data.subarray(0, n), 7));
    expect(crc32!(data, 0)).toBe(zlibCrc32(data, 0));
  });

  it('continues a CRC: crc(a ‖ b) = crc(b, crc(a))', () => {
    const a = new Uint8Array(3000).fill(1);
    const b = new Uint8Array(700).fill(2);
    const both = new Uint8Array(3700);
    both.set(a);
    both.set(b, 3000);
    expect(crc32!(b, crc32!(a, 0))).toBe(crc32!(both, 0));
  });

  it('copies while it checksums: dst gets src, the rest of dst is untouched, the CRC is the same', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000 }),
        fc.nat(40),
        fc.nat(63),
        fc.nat({ max: 0xffffffff }),
        (src, extra, at, seed) => {
          const dst = new Uint8Array(at + src.length + extra).fill(0xa5);
          const before = dst.slice();
          const got = native!.copyCrc32(src, dst.subarray(at), seed);
          expect(got).toBe(reference(src, seed));
          expect(Buffer.compare(dst.subarray(at, at + src.length), src)).toBe(0);
          expect(Buffer.compare(dst.subarray(0, at), before.subarray(0, at))).toBe(0);
          expect(Buffer.compare(dst.subarray(at + src.length), before.subarray(at + src.length))).toBe(0);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('refuses a dst shorter than src, or overlapping it, and copies nothing then', () => {
    const buf = new Uint8Array(1000).fill(3);
    expect(() => native!.copyCrc32(buf.subarray(0, 500), new Uint8Array(499), 0)).toThrow(RangeError);
    expect(() => native!.copyCrc32(buf.subarray(0, 500), buf.subarray(400), 0)).toThrow(/overlap/);
    expect(() => native!.copyCrc32(buf.subarray(400), buf.subarray(0, 700), 0)).toThrow(/overlap/);
  });

  it('rejects a seed outside [0, 2^32) and data that is not a Uint8Array', () => {
    const binding = loadNative();
    expect(() => binding.crc32(new Uint8Array(4), -1)).toThrow(RangeError);
    expect(() => binding.crc32(new Uint8Array(4), 2 ** 32)).toThrow(RangeError);
    expect(() => binding.crc32(new Uint8Array(4), 1.5)).toThrow(RangeError);
    expect(() => binding.crc32(new Uint16Array(4) as unknown as Uint8Array, 0)).toThrow(TypeError);
  });
});
