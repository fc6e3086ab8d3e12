import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decideInside, INSIDE_ATTEMPTS, requestsInside } from './inside-save.js';

describe('requestsInside', () => {
  it('sends baseline rate × first save × fraction, at least 1, at most the baseline count', () => {
    expect(requestsInside(40_000, 1000, 0.5, 200_000)).toBe(20_000);
    expect(requestsInside(40_000, 100_000, 0.5, 200_000)).toBe(200_000);
    expect(requestsInside(40_000, 0.01, 0.5, 200_000)).toBe(1);
  });
});

describe('decideInside', () => {
  it('keeps an attempt whose requests all fell inside the save', () => {
    expect(decideInside({ before: true, after: true }, 1, 1000)).toEqual({ keep: true, allInside: true });
  });

  it('halves the requests when the save ended first (or had not begun), then gives up marked not inside', () => {
    expect(decideInside({ before: true, after: false }, 1, 1000)).toEqual({ keep: false, nextRequests: 500 });
    expect(decideInside({ before: false, after: true }, 2, 500)).toEqual({ keep: false, nextRequests: 250 });
    expect(decideInside({ before: true, after: false }, INSIDE_ATTEMPTS, 250)).toEqual({
      keep: true,
      allInside: false,
    });
    expect(decideInside({ before: true, after: false }, 1, 1)).toEqual({ keep: true, allInside: false });
  });

  it('never calls an attempt inside unless the save was in progress at both ends, and always ends', () =>
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.boolean()), { minLength: 10, maxLength: 10 }),
        fc.integer({ min: 1, max: 1e6 }),
        (windows, start) => {
          let n = start;
          for (let attempt = 1; attempt <= windows.length; attempt++) {
            const [before, after] = windows[attempt - 1]!;
            const d = decideInside({ before, after }, attempt, n);
            if (d.keep) {
              expect(d.allInside).toBe(before && after);
              return;
            }
            expect(before && after).toBe(false);
            expect(d.nextRequests).toBeLessThan(n);
            n = d.nextRequests;
          }
          throw new Error('never kept an attempt');
        },
      ),
    ));
});
