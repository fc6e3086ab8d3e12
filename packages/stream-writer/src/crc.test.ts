import { randomFillSync } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32, crc32Implementation } from './crc.js';

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
