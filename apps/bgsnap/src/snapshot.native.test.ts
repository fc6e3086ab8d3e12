import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareSnapshot } from '@bgsnap/stream-writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadInputError } from './errors.js';
import { MemorySink } from './testing/memory-sink.js';

// snapshot() with native memory runs its loop in dist/snapshot-worker.js, so this test uses the build.
const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'index.js');
const uffd = await import('@bgsnap/fault-source-uffd').catch(() => undefined);
const available = existsSync(DIST) && uffd?.probeUffd().available;
let dir = '';

describe.skipIf(!available)('snapshot() of native memory (worker thread)', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bgsnap-native-test-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the main thread keeps writing tracked memory while the worker saves a point-in-time image', async () => {
    const { snapshot } = (await import(DIST)) as typeof import('./index.js');
    const size = 16 * 2 ** 20;
    const memory = uffd!.TrackedMemory.allocate(size);
    const view = memory.block(0);
    for (let i = 0; i < size; i += 4096) view[i + 7] = (i >>> 12) & 0xff;
    const reference = new Uint8Array(size).fill(1);
    let paused = false;
    let done = false;
    let writes = 0;
    const writer = (async () => {
      let x = 12345;
      while (!done) {
        if (!paused) {
          for (let k = 0; k < 64; k++) {
            x = (x * 1103515245 + 12345) & 0x7fffffff;
            view[(x % (size / 4096)) * 4096 + 100] = x & 0xff; // may block until the worker releases the page
            writes++;
          }
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
    const out = join(dir, 'main-writes.bgsnap');
    const report = await snapshot({
      memory,
      to: out,
      limiter: 'token-bucket:rate=64MiB/s,burst=1MiB',
      quiesce: {
        pause: () => {
          paused = true;
          reference.set(view);
        },
        resume: () => {
          paused = false;
        },
      },
    });
    done = true;
    await writer;
    expect(report.thread).toBe('worker');
    expect(writes).toBeGreaterThan(0);
    expect(report.pages.faulted).toBeGreaterThan(0);
    const cmp = await compareSnapshot(out, [reference]);
    expect(cmp.ok).toBe(true);
    expect(cmp.mismatchCount).toBe(0);
    memory.release();
  });

  it('abort mid-snapshot: SnapshotAbortedError, memory writable again, nothing under the final name', async () => {
    const { snapshot, SnapshotAbortedError } = (await import(DIST)) as typeof import('./index.js');
    const size = 16 * 2 ** 20;
    const memory = uffd!.TrackedMemory.allocate(size);
    const view = memory.block(0);
    view.fill(3);
    const controller = new AbortController();
    const out = join(dir, 'aborted.bgsnap');
    const promise = snapshot({
      memory,
      to: out,
      limiter: 'token-bucket:rate=8MiB/s,burst=256KiB',
      signal: controller.signal,
      progressIntervalNs: 1e6,
      onProgress: (p) => {
        if (p.savedPages > 100) controller.abort(new Error('test abort'));
      },
    });
    await expect(promise).rejects.toBeInstanceOf(SnapshotAbortedError);
    expect(existsSync(out)).toBe(false);
    for (let i = 0; i < size; i += 4096) view[i] = 9; // would hang if any page were still protected
    expect(view[size - 4096]).toBe(9);
    memory.release();
  });

  it('refuses a live sink or policy object for the worker, and explains the rule', async () => {
    const { snapshot } = (await import(DIST)) as typeof import('./index.js');
    const memory = uffd!.TrackedMemory.allocate(2 ** 20);
    await expect(snapshot({ memory, to: new MemorySink() })).rejects.toThrow(/thread: 'current'/);
    await expect(snapshot({ memory, to: new MemorySink() })).rejects.toMatchObject({ name: 'BadInputError' });
    expect(BadInputError.name).toBe('BadInputError');
    memory.release();
  });
});
