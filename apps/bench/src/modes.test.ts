import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { copyBufferPagesFor, inThreadSkipReason } from './modes.js';

describe('copyBufferPagesFor', () => {
  it('holds twice the faults of one stall, as a power of two, never below the default 1024', () => {
    expect(copyBufferPagesFor(50e6, 2 * 20_000)).toBe(4096); // 2000 pages per stall, × 2 = 4000
    expect(copyBufferPagesFor(0, 40_000)).toBe(1024);
    expect(copyBufferPagesFor(10e6, 1000)).toBe(1024);
    expect(copyBufferPagesFor(100e6, 40_000)).toBe(8192);
    expect(copyBufferPagesFor(1e12, 1e7)).toBe(2 ** 20); // the backend's most
  });

  it('always covers 2 × stall × rate (up to the backend limit) with less than twice that', () =>
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 0, max: 200_000 }), (stallNs, rate) => {
        const pages = copyBufferPagesFor(stallNs, rate);
        const need = 2 * (stallNs / 1e9) * rate;
        expect(Number.isInteger(Math.log2(pages))).toBe(true);
        expect(pages).toBeGreaterThanOrEqual(Math.min(Math.ceil(need), 2 ** 20));
        if (pages > 1024) expect(pages / 2).toBeLessThan(need);
      }),
    ));
});

describe('inThreadSkipReason', () => {
  it('names the missing feature, or nothing when SIGBUS delivery is there', () => {
    expect(inThreadSkipReason({ available: true, features: 0x80 | 0x1 })).toBeUndefined();
    expect(inThreadSkipReason({ available: true, features: 0x1 })).toMatch(/UFFD_FEATURE_SIGBUS/);
    expect(inThreadSkipReason({ available: false, error: new Error('EPERM') })).toMatch(
      /not available \(EPERM\)/,
    );
  });
});
