import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TrackedMemory } from './tracked-memory.js';
import { createUffdFaultSource } from './uffd-fault-source.js';

const PAGE = 4096;
const PAGES = 64;

// read() maps never-written pages in one madvise per run before handing them out, instead of one page
// fault per page on first access (README, "Never-written memory").
describe('read() of never-written pages', () => {
  it('property: maps exactly the never-written pages of the range, which read as zero', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 0, max: PAGES - 1 }), { maxLength: PAGES }),
        fc.integer({ min: 0, max: PAGES - 1 }),
        fc.integer({ min: 1, max: PAGES }),
        fc.constantFrom('plain' as const, 'copy-on-fault' as const),
        async (written, first, wanted, mode) => {
          const count = Math.min(wanted, PAGES - first);
          // 4 KiB pages: with THP, one write would populate its whole 2 MiB.
          const memory = TrackedMemory.allocate(PAGES * PAGE, { hugePages: false });
          const block = memory.block(0);
          for (const p of written) block[p * PAGE + 7] = p + 1;
          const source = createUffdFaultSource({ regions: [{ name: 'r', memory }], mode });
          try {
            await source.start();
            expect(source.claim(0, first, count)).toBe(count);
            const bytes = source.read(0, first, count);
            const inRange = new Set(written.filter((p) => p >= first && p < first + count));
            expect(source.stats().populatedForRead).toBe(count - inRange.size);
            for (let i = 0; i < count; i++) {
              const page = bytes.subarray(i * PAGE, (i + 1) * PAGE);
              const expected = inRange.has(first + i) ? first + i + 1 : 0;
              expect(page[7]).toBe(expected);
              expect(page.every((x, j) => x === (j === 7 ? expected : 0))).toBe(true);
            }
            // Mapped now: a second read finds nothing left to map.
            source.read(0, first, count);
            expect(source.stats().populatedForRead).toBe(count - inRange.size);
            source.release(0, first, count);
          } finally {
            await source.stop();
            memory.release();
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it('a write to a never-written page that the scan has read still waits for its release', async () => {
    // Mapping the shared zero page must keep the page write-protected: a writer that now writes it
    // faults, and in plain mode the save loop sees the fault and decides when the writer goes on.
    const memory = TrackedMemory.allocate(8 * PAGE, { hugePages: false });
    const source = createUffdFaultSource({ regions: [{ name: 'r', memory }], mode: 'copy-on-fault' });
    try {
      await source.start();
      const before = source.read(0, 2, 1).slice();
      expect(source.stats().populatedForRead).toBe(1);
      // Copy-on-fault from this thread: the fault thread copies the page and releases it.
      memory.block(0)[3 * PAGE] = 9;
      const [e] = await source.waitForFaults(1e9);
      expect(e?.page).toBe(3);
      expect(e?.contents?.every((x) => x === 0)).toBe(true);
      memory.block(0)[2 * PAGE] = 5; // page 2 was read, not claimed: it faults like any other
      const [f] = await source.waitForFaults(1e9);
      expect(f?.page).toBe(2);
      expect(f?.contents).toEqual(before);
    } finally {
      await source.stop();
      memory.release();
    }
  });
});
