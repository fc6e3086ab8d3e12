import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ctz32, maskFrom, maskTo, popcount32 } from './word-ops.js';

function naivePopcount(v: number): number {
  let n = 0;
  for (let i = 0; i < 32; i++) n += (v >>> i) & 1;
  return n;
}

describe('word-ops', () => {
  it('popcount32 counts bits of any 32-bit value', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }), (v) => {
        expect(popcount32(v)).toBe(naivePopcount(v));
      }),
    );
    expect(popcount32(-1)).toBe(32);
    expect(popcount32(0)).toBe(0);
  });

  it('ctz32 finds the lowest set bit', () => {
    for (let i = 0; i < 32; i++) {
      expect(ctz32(1 << i)).toBe(i);
      expect(ctz32(-1 << i)).toBe(i);
    }
  });

  it('maskFrom/maskTo cover exactly the requested bits', () => {
    for (let i = 0; i < 32; i++) {
      for (let b = 0; b < 32; b++) {
        expect(((maskFrom(i) >>> b) & 1) === 1, `maskFrom(${i}) bit ${b}`).toBe(b >= i);
        expect(((maskTo(i) >>> b) & 1) === 1, `maskTo(${i}) bit ${b}`).toBe(b <= i);
      }
    }
  });
});
