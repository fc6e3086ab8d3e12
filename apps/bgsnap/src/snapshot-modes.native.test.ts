import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BadInputError } from './errors.js';

// snapshot() with native memory runs its loop in dist/snapshot-worker.js, so this test uses the build.
const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'index.js');
const uffd = await import('@bgsnap/fault-source-uffd').catch(() => undefined);
const available = existsSync(DIST) && uffd?.probeUffd().available;

describe('snapshot() mode option', () => {
  it('an unknown mode is bad input naming `mode`, before anything starts', async () => {
    const { snapshot } = await import('./snapshot.js');
    const memory = {} as never;
    const error = await snapshot({ memory, to: { kind: 'discard' }, mode: 'fast' as never }).catch((e) => e);
    expect(error).toBeInstanceOf(BadInputError);
    expect((error as BadInputError).option).toBe('mode');
    expect((error as Error).message).toMatch(/plain, copy-on-fault, in-thread/);
  });
});

describe.skipIf(!available)('snapshot() in in-thread mode (native)', () => {
  it.each(['worker', 'current'] as const)(
    'carries the mode to the source and the report, and marks faulted pages (%s thread)',
    async (thread) => {
      const { snapshot, createFaultedPages } = (await import(DIST)) as typeof import('./index.js');
      const size = 8 * 2 ** 20;
      const memory = uffd!.TrackedMemory.allocate(size);
      try {
        const view = memory.block(0);
        view.fill(3);
        const faulted = createFaultedPages([size / 4096]);
        let writing = thread === 'worker'; // the current thread must not write while it hosts the loop
        const writer = (async () => {
          let page = 0;
          while (writing) {
            view[page * 4096] = 9; // in-thread: this thread saves the page itself, in its SIGBUS handler
            page = (page + 97) % (size / 4096);
            await new Promise((r) => setImmediate(r));
          }
        })();
        const report = await snapshot({
          memory,
          to: { kind: 'discard' },
          mode: 'in-thread',
          thread,
          faultedPages: faulted,
        });
        writing = false;
        await writer;
        expect(report.mode).toBe('in-thread');
        const marked = faulted[0]!.reduce((n, b) => n + b, 0);
        // Every fault event marks its page; late duplicates name pages already saved.
        expect(marked).toBeGreaterThanOrEqual(report.pages.faulted);
        expect(marked).toBeLessThanOrEqual(
          report.pages.faulted + report.pages.faultsOnPendingRelease + report.pages.duplicateFaults,
        );
        expect(report.backendStats).toMatchObject({
          servedInThread: expect.any(Number),
          slotWaits: expect.any(Number),
        });
        if (thread === 'worker') {
          expect(marked).toBeGreaterThan(0);
          expect(report.backendStats!.servedInThread).toBeGreaterThan(0);
        }
      } finally {
        memory.release();
      }
    },
  );
});
