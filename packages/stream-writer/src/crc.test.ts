import { randomFillSync } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkedCrc32, crc32, crc32Implementation } from './crc.js';

describe('crc32', () => {
  it('equals zlib CRC-32 for any bytes and seed, whichever implementation loaded', () => {
    expect(['simd', 'zlib']).toContain(crc32Implementation);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), fc.nat({ max: 0xffffffff }), (bytes, seed) => {
        expect(crc32(bytes, seed)).toBe(zlibCrc32(bytes, seed));
      }),
      { numRuns: 500 },
    );
  });

  it('chains: the CRC of a concatenation equals the CRC of the second part seeded with the first', () => {
    const a = randomFillSync(new Uint8Array(70_000));
    const b = randomFillSync(new Uint8Array(12_345));
    const whole = new Uint8Array(a.length + b.length);
    whole.set(a);
    whole.set(b, a.length);
    expect(crc32(b, crc32(a, 0))).toBe(crc32(whole, 0));
  });
});

describe('checkedCrc32', () => {
  it("accepts a function that computes zlib's CRC-32 and gives the seed back for empty input", () => {
    const calls: number[] = [];
    const checked = checkedCrc32((data, seed) => {
      calls.push(data.length);
      return zlibCrc32(data, seed);
    });
    expect(checked).toBeDefined();
    const data = randomFillSync(new Uint8Array(300));
    calls.length = 0;
    expect(checked!(data, 5)).toBe(zlibCrc32(data, 5));
    expect(calls).toEqual([300]);
    expect(checked!(new Uint8Array(0), 1234)).toBe(1234);
  });

  it('refuses functions that get any probe wrong, or throw', () => {
    expect(checkedCrc32(() => 0)).toBeUndefined();
    // Right unseeded, wrong seeded.
    expect(checkedCrc32((data) => zlibCrc32(data, 0))).toBeUndefined();
    // Right on short inputs only, as a broken vector loop would be.
    expect(checkedCrc32((data, seed) => (data.length > 256 ? 1 : zlibCrc32(data, seed)))).toBeUndefined();
    expect(
      checkedCrc32(() => {
        throw new Error('no');
      }),
    ).toBeUndefined();
  });
});
