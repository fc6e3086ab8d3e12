import { describeFaultSourceConformance } from '@bgsnap/fault-source/testing';
import { afterAll } from 'vitest';
import { WriterPool } from './test-support/writer-pool.js';
import { TrackedMemory } from './tracked-memory.js';
import { createUffdFaultSource, type UffdMode } from './uffd-fault-source.js';

const WRITERS = 4;
const pool = new WriterPool(WRITERS);
afterAll(() => pool.close());

let nextKey = 0;
const PAGES = [24, 40]; // two regions, not a multiple of the protect chunk below

// Deterministic contents; every fifth page is left untouched (unpopulated, protected via WP_UNPOPULATED).
function fill(memory: TrackedMemory, region: number): void {
  const b = memory.block(0);
  for (let p = 0; p < memory.pageCount; p++) {
    if (p % 5 === 4) continue;
    for (let i = 0; i < memory.pageSize; i += 97)
      b[p * memory.pageSize + i] = (region * 31 + p * 7 + i) & 0xff;
  }
}

function harness(mode: UffdMode, hugePages: boolean) {
  return {
    copiesOnFault: mode !== 'plain',
    concurrentWriters: WRITERS,
    randomRuns: 4,
    async create() {
      const memories = PAGES.map((pages, r) => {
        const m = TrackedMemory.allocate(pages * 4096, { hugePages });
        fill(m, r);
        return m;
      });
      const keys = memories.map(() => `m${nextKey++}`);
      await Promise.all(memories.map((m, i) => pool.attach(keys[i]!, m.handle)));
      const initial = memories.map((m) => new Uint8Array(m.block(0)));
      const source = createUffdFaultSource({
        regions: memories.map((memory, i) => ({ name: `region-${i}`, memory })),
        mode,
        protectChunkBytes: 16 * 4096,
        copyBufferPages: 8,
      });
      return {
        source,
        write: (region: number, page: number) => pool.write(keys[region]!, page),
        read: async (region: number, page: number) => {
          const b = memories[region]!.block(0);
          void b[page * 4096];
          void b[page * 4096 + 4095];
        },
        initialContents: (region: number, page: number) =>
          initial[region]!.subarray(page * 4096, (page + 1) * 4096),
        dispose: async () => {
          await Promise.all(keys.map((k) => pool.detach(k)));
          for (const m of memories) m.release();
        },
      };
    },
  };
}

describeFaultSourceConformance('uffd plain', harness('plain', false));
describeFaultSourceConformance('uffd copy-on-fault', harness('copy-on-fault', false));
describeFaultSourceConformance('uffd plain, huge pages', harness('plain', true));
describeFaultSourceConformance('uffd copy-on-fault, huge pages', harness('copy-on-fault', true));
describeFaultSourceConformance('uffd in-thread', harness('in-thread', false));
describeFaultSourceConformance('uffd in-thread, huge pages', harness('in-thread', true));
