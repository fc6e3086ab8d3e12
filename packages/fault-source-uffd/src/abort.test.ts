import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadNative } from './native.js';
import { RandomWriters } from './test-support/random-writers.js';
import { saveImage } from './test-support/save-loop.js';
import { TrackedMemory } from './tracked-memory.js';
import { createUffdFaultSource, type UffdMode } from './uffd-fault-source.js';

const MiB = 1 << 20;

describe.each<UffdMode>(['plain', 'copy-on-fault', 'in-thread'])('abort mid-snapshot (%s)', (mode) => {
  it('a throwing save loop + stop() resumes every writer and loses no write', async () => {
    const memory = TrackedMemory.allocate(64 * MiB, { hugePages: true });
    const writers = new RandomWriters(memory, 2, 11, memory.pageCount, 'counter');
    try {
      await writers.progress(10_000);
      const source = createUffdFaultSource({
        regions: [{ name: 'heap', memory }],
        mode,
        protectChunkBytes: 16 * MiB,
      });
      await source.start();
      try {
        // Fail only once writers are blocked on (plain) or have faulted on (copy-on-fault) protected pages.
        const deadline = Date.now() + 10_000;
        while (source.stats().faults === 0 && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 1));
        expect(source.stats().faults, 'writers hit protected pages before the failure').toBeGreaterThan(0);
        const failure = new Error('stream broke');
        // In-thread writers serve their own faults so fast that the whole region can arrive as fault
        // events within the first batches: fail in the first one there.
        const failAt = mode === 'in-thread' ? 0 : 100;
        let outcome: unknown = 'resolved';
        await saveImage(source, 64, (batch) => {
          if (batch === failAt) throw failure;
        }).catch((e: unknown) => {
          outcome = e;
        });
        // Compared by identity, not with rejects.toBe: a resolved image is 64 MiB to print.
        expect(outcome === failure, 'the save loop failed with the injected error').toBe(true);
      } finally {
        await source.stop(); // what the app's finally does
      }
      await writers.progress(10_000, 10_000); // blocked writers resumed
      await writers.sweep(10_000); // no page anywhere is still protected
      if (mode === 'in-thread') {
        // Still installed while the stopped session's range is mapped (a late SIGBUS must not kill us).
        expect(loadNative().sigbusState().entries).toBeGreaterThan(0);
      }
      // Every increment landed exactly once: the counters in memory add up to the writes made.
      const words = new Uint32Array(memory.block(0).buffer);
      const sums = [0, 0];
      for (let p = 0; p < memory.pageCount; p++) {
        sums[0]! += words[p * 1024]!;
        sums[1]! += words[p * 1024 + 1]!;
      }
      expect(sums).toEqual([writers.writesOf(0), writers.writesOf(1)]);
    } finally {
      await writers.close();
      memory.release();
    }
  });
});

describe('process exit with writers blocked on protected pages', () => {
  it('the fault source lives in a worker thread (as in the app): process.exit in main still exits', () => {
    const child = fileURLToPath(new URL('./test-support/exit-worker-child.mjs', import.meta.url));
    const r = spawnSync(process.execPath, [child], { timeout: 20_000, encoding: 'utf8' });
    expect(r.error, 'child timed out').toBeUndefined();
    expect(r.stdout).toContain('leaving with writers blocked');
    expect(r.status).toBe(4);
  });

  const child = fileURLToPath(new URL('./test-support/exit-child.mjs', import.meta.url));
  it.each([
    ['exit', 'plain', 3],
    ['throw', 'plain', 1],
    ['reject', 'copy-on-fault', 1],
    ['exit', 'in-thread', 3],
    ['throw', 'in-thread', 1],
  ] as const)('%s in %s mode: the process exits (code %d) instead of hanging', (how, mode, code) => {
    const r = spawnSync(process.execPath, [child, how, mode], { timeout: 20_000, encoding: 'utf8' });
    expect(r.error, 'child timed out').toBeUndefined();
    expect(r.stdout).toContain('leaving with writers blocked');
    expect(r.status).toBe(code);
  });
});
