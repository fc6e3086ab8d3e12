import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PageSet } from './page-set.js';

describe('PageSet', () => {
  it('agrees with a plain array model on findMarked, mark, count and firstUnmarked', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5000 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 1500 })), { maxLength: 30 }),
        (pageCount, ops) => {
          const set = new PageSet([pageCount]);
          const model = new Uint8Array(pageCount);
          for (const [start, len] of ops) {
            const first = start % pageCount;
            const count = Math.min(len, pageCount - first);
            const expected = model.subarray(first, first + count).indexOf(1);
            const found = set.findMarked(0, first, count);
            expect(found).toBe(expected < 0 ? -1 : first + expected);
            if (found < 0) {
              set.mark(0, first, count);
              model.fill(1, first, first + count);
            }
            expect(set.count(0)).toBe(model.reduce((a, b) => a + b, 0));
            expect(set.firstUnmarked(0)).toBe(model.indexOf(0));
            // Touching runs merge: one interval per maximal run of marked pages.
            const runs = model.reduce(
              (n, v, i) => n + (v === 1 && (i === 0 || model[i - 1] === 0) ? 1 : 0),
              0,
            );
            expect(set.intervalCount()).toBe(runs);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('does not allocate for the size a region claims', () => {
    const set = new PageSet([2 ** 40]);
    set.mark(0, 2 ** 40 - 10, 10);
    expect(set.findMarked(0, 2 ** 40 - 20, 20)).toBe(2 ** 40 - 10);
    expect(set.firstUnmarked(0)).toBe(0);
  });
});
