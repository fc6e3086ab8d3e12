import type { WriteFault } from '@bgsnap/fault-source';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WriterPool } from './test-support/writer-pool.js';
import { TrackedMemory } from './tracked-memory.js';
import { createUffdFaultSource } from './uffd-fault-source.js';

const PAGE = 4096;

// Copy-on-fault writes from this very thread are served by the fault thread alone (no JS), so a test
// can fault page by page without writer threads.
describe('copy-on-fault takes: fixed copy slots, one reused take buffer', () => {
  it('successive takes hand out views of one buffer, each right when taken', async () => {
    const memory = TrackedMemory.allocate(8 * PAGE, { hugePages: false });
    const b = memory.block(0);
    for (let p = 0; p < 8; p++) b.fill(p + 1, p * PAGE, (p + 1) * PAGE);
    const source = createUffdFaultSource({ regions: [{ name: 'r', memory }], mode: 'copy-on-fault' });
    try {
      await source.start();
      b[2 * PAGE] = 0xee;
      const [first] = await source.waitForFaults(1e9);
      expect(first!.page).toBe(2);
      expect(first!.contents!.every((x) => x === 3)).toBe(true);
      b[5 * PAGE] = 0xee;
      const [second] = await source.waitForFaults(1e9);
      expect(second!.page).toBe(5);
      expect(second!.contents!.every((x) => x === 6)).toBe(true);
      // No buffer per take: a fresh one each time made the process map and unmap memory while
      // writers were faulting (see the README).
      expect(second!.contents!.buffer).toBe(first!.contents!.buffer);
    } finally {
      await source.stop();
      memory.release();
    }
  });

  it('property: with few slots, any order of faults and takes saves every page with its contents at start', async () => {
    // Writes from a worker thread: if a slot were never returned, the writer would wait forever, and
    // the test fails on a deadline instead of hanging this thread.
    const pool = new WriterPool(1);
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 4 }),
          fc.array(fc.integer({ min: 0, max: 31 }), { minLength: 1, maxLength: 30 }),
          fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }),
          async (slots, writes, takeAfter) => {
            const memory = TrackedMemory.allocate(32 * PAGE, { hugePages: false });
            const b = memory.block(0);
            const initial = (p: number): number => (p * 7 + 1) & 0xff;
            for (let p = 0; p < 32; p++) b.fill(initial(p), p * PAGE, (p + 1) * PAGE);
            const source = createUffdFaultSource({
              regions: [{ name: 'r', memory }],
              mode: 'copy-on-fault',
              copyBufferPages: slots,
            });
            const saved = new Set<number>();
            let pending = 0;
            const collect = (faults: readonly WriteFault[]): void => {
              for (const f of faults) {
                expect(saved.has(f.page)).toBe(false);
                expect(f.contents!.every((x) => x === initial(f.page))).toBe(true);
                saved.add(f.page);
                pending--;
              }
            };
            await pool.attach('m', memory.handle);
            try {
              await source.start();
              for (let i = 0; i < writes.length; i++) {
                const p = writes[i]!;
                const faults = !saved.has(p) && b[p * PAGE] === initial(p);
                let done = false;
                const w = pool.write('m', p).then(() => {
                  done = true;
                });
                // All slots hold untaken copies: this write's fault waits for a take.
                while (!done && faults && pending >= slots) collect(await source.waitForFaults(20e6));
                await Promise.race([w, new Promise((r) => setTimeout(r, 2000))]);
                expect(done, `write ${i} to page ${p} (${pending} copies untaken, ${slots} slots)`).toBe(
                  true,
                );
                if (faults) pending++;
                if (takeAfter[i]) collect(source.takeFaults());
              }
              const deadline = Date.now() + 2000;
              while (pending > 0 && Date.now() < deadline) collect(await source.waitForFaults(20e6));
              expect([...saved].sort((x, y) => x - y)).toEqual([...new Set(writes)].sort((x, y) => x - y));
              expect(source.stats().maxSlotsInUse).toBeLessThanOrEqual(slots);
            } finally {
              await source.stop();
              await pool.detach('m');
              memory.release();
            }
          },
        ),
        { numRuns: 25 },
      );
    } finally {
      await pool.close();
    }
  }, 120_000);
});
