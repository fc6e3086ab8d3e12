import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RandomWriters } from './test-support/random-writers.js';
import { firstDifferentPage, saveImage } from './test-support/save-loop.js';
import { TrackedMemory } from './tracked-memory.js';
import { createUffdFaultSource, type UffdMode } from './uffd-fault-source.js';

const MiB = 1 << 20;

// Allocated and first-touched once for all cases: fresh memory is slow to populate on small VMs.
const scratch = {
  reference: new Uint8Array(256 * MiB + 4 * 4096),
  image: new Uint8Array(256 * MiB + 4 * 4096),
};
scratch.reference.fill(1);
scratch.image.fill(1);

function anonHugeKiB(): number {
  const m = /AnonHugePages:\s+(\d+) kB/.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'));
  return m ? Number(m[1]) : 0;
}

interface Case {
  mode: UffdMode;
  bytes: number;
  chunk: number;
  hugePages: boolean;
  protectUnpopulated?: boolean;
  copyBufferPages?: number;
  batchPages?: number;
  seed: number;
}

/**
 * Writers pre-populate the first 3/4 of the region (the rest stays untouched, i.e. unpopulated); they
 * are paused, a reference copy is taken, start() protects, then they resume writing anywhere while the
 * save loop runs. The saved image must equal the reference.
 */
async function checkConsistency(c: Case) {
  const memory = TrackedMemory.allocate(c.bytes, { hugePages: c.hugePages });
  const populated = Math.floor((memory.pageCount * 3) / 4);
  const writers = new RandomWriters(memory, 2, c.seed, populated);
  try {
    await writers.progress(5_000);
    await writers.pause();
    const hugeBefore = anonHugeKiB();
    if (c.hugePages) {
      // The protect pass must really meet huge PMDs, so that the 4 KiB releases below split them.
      expect(hugeBefore, 'AnonHugePages before start()').toBeGreaterThan(0);
    }
    const reference = scratch.reference.subarray(0, c.bytes);
    reference.set(memory.block(0));
    const source = createUffdFaultSource({
      regions: [{ name: 'heap', memory }],
      mode: c.mode,
      protectChunkBytes: c.chunk,
      protectUnpopulated: c.protectUnpopulated ?? true,
      copyBufferPages: c.copyBufferPages ?? 256,
    });
    try {
      await source.start();
      writers.setPageLimit(memory.pageCount);
      writers.resume();
      // The save loop starts once a writer has hit a protected page, so every case races for real.
      const deadline = Date.now() + 10_000;
      while (source.stats().faults === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
      const result = await saveImage(source, c.batchPages ?? 64, undefined, scratch.image);
      const hugeAfter = anonHugeKiB();
      const stats = source.stats();
      await source.stop();
      await writers.pause();
      const bad = firstDifferentPage(result.image, reference, memory.pageSize);
      expect(bad, `first page differing from the reference (of ${memory.pageCount})`).toBe(-1);
      // The writers really raced the save loop.
      expect(result.faultPagesSaved).toBeGreaterThan(0);
      expect(result.duplicateContents, 'pages delivered with contents after the scan saved them').toBe(0);
      if (c.hugePages) {
        // 64-page (256 KiB) releases and single-page fault releases split the huge PMDs.
        expect(hugeAfter, 'AnonHugePages after the snapshot').toBeLessThan(hugeBefore);
      }
      return { result, stats };
    } finally {
      await source.stop();
    }
  } finally {
    await writers.close();
    memory.release();
  }
}

describe('consistency under two random writers', () => {
  it('plain, THP, 256 MiB, 48 MiB chunks (not a multiple)', async () => {
    const { stats } = await checkConsistency({
      mode: 'plain',
      bytes: 256 * MiB,
      chunk: 48 * MiB,
      hugePages: true,
      seed: 1,
    });
    expect(stats.protectChunks).toBe(6);
  });

  it('plain, 4 KiB pages, 32 MiB + 3 pages, 5 MiB chunks', async () => {
    await checkConsistency({
      mode: 'plain',
      bytes: 32 * MiB + 3 * 4096,
      chunk: 5 * MiB,
      hugePages: false,
      seed: 3,
    });
  });

  it('plain, pre-faulting instead of WP_UNPOPULATED (what QEMU does)', async () => {
    const { stats } = await checkConsistency({
      mode: 'plain',
      bytes: 32 * MiB,
      chunk: 3 * MiB,
      hugePages: true,
      protectUnpopulated: false,
      seed: 5,
    });
    expect(stats.prefaultedPages).toBe((32 * MiB) / 4096);
  });
});

// The two modes that copy on fault, by a native fault thread or by the faulting writer itself (in-thread,
// whose SIGBUS handler races the scan for every page with the same claim bitmap).
describe.each<UffdMode>(['copy-on-fault', 'in-thread'])(
  '%s: consistency under two random writers',
  (mode) => {
    // In-thread regions stay at 64 MiB: the older copy-on-fault case keeps its 256 MiB.
    const big = mode === 'copy-on-fault' ? 256 * MiB : 64 * MiB;
    const bigChunk = mode === 'copy-on-fault' ? 48 * MiB : 12 * MiB;

    it(`THP, ${big / MiB} MiB, ${bigChunk / MiB} MiB chunks`, async () => {
      const { stats } = await checkConsistency({
        mode,
        bytes: big,
        chunk: bigChunk,
        hugePages: true,
        seed: 2,
      });
      expect(stats.copied).toBeGreaterThan(0);
      if (mode === 'in-thread') expect(stats.servedInThread).toBe(stats.copied);
    });

    it('4 KiB pages, 32 MiB + 3 pages, 4-page buffer (writers wait for slots)', async () => {
      const { stats } = await checkConsistency({
        mode,
        bytes: 32 * MiB + 3 * 4096,
        chunk: 5 * MiB,
        hugePages: false,
        copyBufferPages: 4,
        seed: 4,
      });
      expect(stats.maxSlotsInUse).toBeLessThanOrEqual(4);
    });

    it('scan and faults race page by page; every page exactly once (4 seeds)', async () => {
      for (let seed = 100; seed < 104; seed++) {
        const { result } = await checkConsistency({
          mode,
          bytes: 4 * MiB + 4096 * (seed - 100),
          chunk: MiB,
          hugePages: seed % 2 === 0,
          copyBufferPages: 1 + (seed % 3) * 16,
          batchPages: 1 + (seed % 4),
          seed,
        });
        expect(result.faultPagesSaved + result.scanPagesSaved).toBe((4 * MiB) / 4096 + (seed - 100));
      }
    });

    it('THP, pre-faulting', async () => {
      await checkConsistency({
        mode,
        bytes: 32 * MiB + 4096,
        chunk: 7 * MiB,
        hugePages: true,
        protectUnpopulated: false,
        seed: 6,
      });
    });
  },
);
