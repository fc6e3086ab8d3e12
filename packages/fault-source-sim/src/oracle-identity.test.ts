import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSnapshotChecker } from './oracle.js';
import { pageContents } from './page-contents.js';
import { createSimFaultSource } from './sim-fault-source.js';

function startedSim(pageCount: number, seed: number) {
  const sim = createSimFaultSource({
    regions: [
      { name: 'a', pageCount },
      { name: 'b', pageCount: 33 },
    ],
    cpus: [],
    seed,
    initialFill: 0.5,
  });
  return sim.start().then(() => sim);
}

describe('SnapshotChecker.checkIdentities', () => {
  it('accepts every page as read() hands it out, zero pages included, and agrees with check()', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 300 }), fc.nat(1000), async (pageCount, seed) => {
        const sim = await startedSim(pageCount, seed);
        const fast = createSnapshotChecker(sim);
        const slow = createSnapshotChecker(sim);
        sim.regions.forEach((r, region) => {
          for (let first = 0; first < r.pageCount; first += 7) {
            const count = Math.min(7, r.pageCount - first);
            const data = sim.read(region, first, count);
            expect(fast.checkIdentities(region, first, data)).toBe(true);
            expect(slow.checkPages(region, first, data)).toBe(true);
          }
        });
        expect(fast.result()).toEqual(slow.result());
        expect(fast.result().ok).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it('catches a page saved at the wrong version, from the wrong page or region, or not a page at all', async () => {
    const sim = await startedSim(64, 7);
    let page = 0;
    while (sim.startVersion(0, page) === 0) page++;
    const v = sim.startVersion(0, page);
    const cases: Uint8Array[] = [
      pageContents(page, v + 1), // one write too late
      pageContents(page, 0), // a zero page where data was
      pageContents(page + 1, v), // another page's bytes
      pageContents(page, v, { region: 1 }), // another region's bytes
      new Uint8Array(4096).fill(1, 0, 16), // garbage header
    ];
    for (const bytes of cases) {
      const checker = createSnapshotChecker(sim);
      expect(checker.checkIdentities(0, page, bytes)).toBe(false);
      const r = checker.result();
      expect(r.mismatchCount).toBe(1);
      expect(r.mismatches[0]).toMatchObject({ region: 0, page, expectedVersion: v });
    }
  });

  it('catches a page read() hands out after a write landed on it, right after that read()', async () => {
    // read() and the checker share the run's start versions: what read() wrote (a later version) must
    // still be compared with the version at start().
    const sim = await startedSim(64, 11);
    let page = 0;
    while (sim.startVersion(0, page) === 0) page++;
    sim.release(0, page, 1);
    await sim.injectWrite(0, page);
    const checker = createSnapshotChecker(sim);
    expect(checker.checkIdentities(0, page, sim.read(0, page, 2))).toBe(false);
    expect(checker.result().mismatches[0]).toMatchObject({
      region: 0,
      page,
      expectedVersion: sim.startVersion(0, page),
      found: { version: sim.startVersion(0, page) + 1 },
    });
  });

  it('counts duplicates and missing pages like check()', async () => {
    const sim = await startedSim(8, 3);
    const checker = createSnapshotChecker(sim);
    checker.checkIdentities(0, 0, sim.read(0, 0, 4));
    checker.checkIdentities(0, 3, sim.read(0, 3, 1));
    const r = checker.result();
    expect(r.duplicateCount).toBe(1);
    expect(r.missingCount).toBe(4 + 33);
    expect(() => checker.checkIdentities(0, 6, sim.read(0, 6, 1).subarray(0, 100))).toThrow(RangeError);
  });
});
