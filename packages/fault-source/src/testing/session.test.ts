import { describe, expect, it } from 'vitest';
import { fakeHarness } from './fake-backend.test-helper.js';
import { resolveHarness } from './harness.js';
import { withSession } from './session.js';

describe('Session.expectFault', () => {
  it('returns an event taken by an earlier call with its contents as they were delivered', async () => {
    // The fake reuses one contents buffer and scribbles over it at every take, as the contract allows.
    const h = resolveHarness(fakeHarness('none', true, true));
    await withSession(h, async (s) => {
      await s.start();
      const a = s.write(0, 3);
      const b = s.write(0, 5);
      await Promise.all([a.promise, b.promise]);
      expect((await s.wait(0)).map((e) => e.page)).toEqual([3, 5]);
      expect(await s.wait(0)).toEqual([]); // the take that overwrites the buffer

      const first = await s.expectFault(0, 3);
      const second = await s.expectFault(0, 5);
      for (const [e, page] of [
        [first, 3],
        [second, 5],
      ] as const) {
        expect(e.page).toBe(page);
        expect(e.contents).toEqual(s.subject.initialContents?.(0, page));
      }
    });
  });

  it('does not hand out the same event twice', async () => {
    const h = resolveHarness(fakeHarness('none', true));
    await withSession(h, async (s) => {
      await s.start();
      await s.write(1, 2).promise;
      await s.expectFault(1, 2);
      await expect(s.expectFault(1, 2)).rejects.toThrow(/no fault event named region 1 page 2/);
    });
  });
});
