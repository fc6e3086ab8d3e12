import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeSource, type FakeWrite, ImageWriter } from '../testing/fake-source.js';
import { unlimitedPolicy } from '../testing/policies.js';
import { runSaveLoop } from './save-loop.js';
import { StagedFaults } from './staged-faults.js';

const page = (fill: number) => new Uint8Array(8).fill(fill);

describe('StagedFaults', () => {
  it('stages pages at or after the scan position only, up to its capacity, and frees slots on take', () => {
    const position = { region: 0, page: 10 };
    const staged = new StagedFaults([8, 8], [100, 100], 2 * 8, position);
    expect(staged.offer(0, 9, page(1))).toBe(false); // behind the scan: the caller writes it
    expect(staged.offer(0, 10, page(2))).toBe(true);
    expect(staged.offer(1, 3, page(3))).toBe(true); // a later region is ahead
    expect(staged.offer(1, 4, page(4))).toBe(false); // full
    expect(staged.has(0, 10) && staged.has(1, 3) && !staged.has(1, 4)).toBe(true);
    const dst = new Uint8Array(16);
    staged.take(0, 10, 8, dst, 8);
    expect([...dst]).toEqual([...new Uint8Array(8), ...page(2)]);
    expect(staged.has(0, 10)).toBe(false);
    expect(staged.offer(1, 4, page(4))).toBe(true); // the freed slot is reused
    expect(staged.count).toBe(2);
    expect(() => staged.take(0, 10, 8, dst, 0)).toThrow(/not staged/);
  });
});

function writesAhead(count: number, pages: number, seed: number): FakeWrite[] {
  let x = seed;
  return Array.from({ length: count }, (_, i) => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return { at: (i + 1) * 3_000, region: 0, page: (x >>> 8) % pages, value: (i & 0xff) ^ 0x5a };
  });
}

class CountingWriter extends ImageWriter {
  singlePageWrites = 0;
  override writePages(region: number, first: number, data: Uint8Array): void {
    if (data.length === this.regions[region]!.pageSize) this.singlePageWrites++;
    super.writePages(region, first, data);
  }
}

async function copyOnFaultSnapshot(writes: FakeWrite[], pages: number, stagedFaultBytes: number) {
  const source = new FakeSource([pages], writes, true);
  await source.start();
  const writer = new CountingWriter(source.regions);
  const result = await runSaveLoop({
    source,
    limiter: unlimitedPolicy(),
    writer,
    batchPages: 16,
    quietBatchPages: 64,
    stagedFaultBytes,
    startedAt: 0,
  });
  expect(source.protectedCount).toBe(0);
  expect(writer.written[0]!.every((w) => w === 1)).toBe(true);
  expect(Buffer.compare(writer.images[0]!, source.initial[0]!)).toBe(0);
  expect(result.pagesFaulted + result.pagesScanned).toBe(pages);
  return { writer, result };
}

describe('staged faulted pages in the save loop (copy-on-fault)', () => {
  it('writes faulted pages ahead of the scan within its runs instead of one page at a time', async () => {
    const writes = writesAhead(400, 2_000, 7);
    const direct = await copyOnFaultSnapshot(writes, 2_000, 0);
    const staged = await copyOnFaultSnapshot(writes, 2_000, 64 * 2 ** 20);
    expect(direct.result.pagesFaulted).toBeGreaterThan(50);
    expect(staged.result.pagesFaulted).toBeGreaterThan(50);
    // Without staging every faulted page is its own write; with it, only those behind the scan.
    expect(direct.writer.singlePageWrites).toBeGreaterThanOrEqual(direct.result.pagesFaulted);
    expect(staged.writer.singlePageWrites).toBeLessThan(staged.result.pagesFaulted / 4);
  });

  it('property: any staging capacity saves every page once, as it was at start', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.constantFrom(0, 64, 64 * 3, 64 * 64, 64 * 2 ** 20),
        async (pages, count, seed, bytes) => {
          await copyOnFaultSnapshot(writesAhead(count, pages, seed), pages, bytes);
        },
      ),
      { numRuns: 60 },
    );
  });
});
