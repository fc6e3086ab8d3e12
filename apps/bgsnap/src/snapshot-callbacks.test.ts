import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSimFaultSource } from '@bgsnap/fault-source-sim';
import { fileSink, type Sink } from '@bgsnap/stream-writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QuiesceTimeoutError, SnapshotAbortedError } from './errors.js';
import { snapshotOnThisThread } from './snapshot-core.js';
import { FakeSource } from './testing/fake-source.js';
import { MemorySink } from './testing/memory-sink.js';
import { unlimitedPolicy } from './testing/policies.js';

// Callbacks of the caller's are untrusted: whatever they do (throw, never settle), snapshot() settles
// with a clear error, keeps no output, and never takes the host process down.
const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'index.js');
const uffd = await import('@bgsnap/fault-source-uffd').catch(() => undefined);
const native = existsSync(DIST) && uffd?.probeUffd().available === true;
const OLD = 'an older snapshot that must survive\n';
let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bgsnap-callbacks-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A target path holding an old file, in its own folder (to spot any leftover). */
function target(name: string): { folder: string; path: string } {
  const folder = mkdtempSync(join(dir, `${name}-`));
  const path = join(folder, 'state.bgsnap');
  writeFileSync(path, OLD);
  return { folder, path };
}

function expectUntouched(t: { folder: string; path: string }): void {
  expect(readFileSync(t.path, 'utf8')).toBe(OLD);
  expect(readdirSync(t.folder)).toEqual(['state.bgsnap']);
}

const never = () => new Promise<void>(() => {});
const sim = () =>
  createSimFaultSource({ regions: [{ name: 'm', pageCount: 2048 }], cpus: [{ rate: 1e4 }], seed: 3 });

describe('snapshot() on the current thread', () => {
  it('a throwing writerLatency rejects with its error and keeps no file', async () => {
    const { snapshot } = await import('./snapshot.js');
    const t = target('wl-current');
    const boom = new Error('writerLatency exploded');
    await expect(
      snapshot({
        source: sim(),
        to: t.path,
        writerLatency: () => {
          throw boom;
        },
      }),
    ).rejects.toBe(boom);
    expectUntouched(t);
  });

  it('a quiesce.pause() that never settles: the deadline rejects with QuiesceTimeoutError', async () => {
    const { snapshot } = await import('./snapshot.js');
    const t = target('pause-deadline');
    const started = performance.now();
    await expect(
      snapshot({ source: sim(), to: t.path, quiesceTimeoutMs: 150, quiesce: { pause: never, resume() {} } }),
    ).rejects.toBeInstanceOf(QuiesceTimeoutError);
    expect(performance.now() - started).toBeLessThan(5_000);
    expectUntouched(t);
  });

  it('a quiesce.pause() that never settles: abort rejects with SnapshotAbortedError', async () => {
    const { snapshot } = await import('./snapshot.js');
    const t = target('pause-abort');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    await expect(
      snapshot({
        source: sim(),
        to: t.path,
        signal: controller.signal,
        quiesce: { pause: never, resume() {} },
      }),
    ).rejects.toBeInstanceOf(SnapshotAbortedError);
    expectUntouched(t);
  });

  it('a pause that settles after the deadline gets its resume()', async () => {
    const { snapshot } = await import('./snapshot.js');
    let resumes = 0;
    await expect(
      snapshot({
        source: sim(),
        to: { kind: 'discard' },
        quiesceTimeoutMs: 50,
        quiesce: { pause: () => new Promise((r) => setTimeout(r, 200)), resume: () => void resumes++ },
      }),
    ).rejects.toBeInstanceOf(QuiesceTimeoutError);
    await new Promise((r) => setTimeout(r, 300));
    expect(resumes).toBe(1);
  });
});

describe('the commit point of snapshotOnThisThread', () => {
  const base = { backend: 'fake', output: 'memory', thread: 'current' as const, limiter: unlimitedPolicy() };

  it('an abort that arrives before the commit wins: rejected, sink aborted, never closed', async () => {
    const controller = new AbortController();
    const sink = new MemorySink();
    await expect(
      snapshotOnThisThread({
        ...base,
        source: new FakeSource([256], [], false, 1000, 4096),
        sink,
        signal: controller.signal,
        beforeCommit: () => controller.abort(),
      }),
    ).rejects.toBeInstanceOf(SnapshotAbortedError);
    expect(sink.closed).toBe(false);
    expect(sink.aborted).toBe(true);
  });

  it('an abort that arrives during the commit (fsync, rename) does not cancel: the snapshot completes', async () => {
    const t = target('abort-in-close');
    const controller = new AbortController();
    const file = fileSink(t.path);
    // The abort lands while the real close (fsync + rename) is in progress.
    const sink: Sink = {
      write: (c) => file.write(c),
      close: () => {
        const closing = file.close();
        controller.abort();
        return closing;
      },
      abort: (r) => file.abort(r),
    };
    const report = await snapshotOnThisThread({
      ...base,
      source: new FakeSource([256], [], false, 1000, 4096),
      sink,
      signal: controller.signal,
    });
    expect(report.pages.total).toBe(256);
    expect(readFileSync(t.path, 'utf8')).not.toBe(OLD);
    expect(readdirSync(t.folder)).toEqual(['state.bgsnap']);
  });
});

describe.skipIf(!native)('snapshot() of native memory (worker thread)', () => {
  const size = 8 * 2 ** 20;

  it('an onProgress that throws rejects with its error; the host lives, memory is writable, no file', async () => {
    const { snapshot } = (await import(DIST)) as typeof import('./index.js');
    const memory = uffd!.TrackedMemory.allocate(size);
    const t = target('progress-worker');
    const boom = new Error('onProgress exploded');
    try {
      await expect(
        snapshot({
          memory,
          to: t.path,
          limiter: 'token-bucket:rate=8MiB/s,burst=1MiB',
          progressIntervalNs: 1e6,
          onProgress: () => {
            throw boom;
          },
        }),
      ).rejects.toBe(boom);
      memory.block(0).fill(9); // would block forever if a page were still protected
      expectUntouched(t);
    } finally {
      memory.release();
    }
  });

  it('a throwing writerLatency rejects with its error and keeps no file (old file intact)', async () => {
    const { snapshot } = (await import(DIST)) as typeof import('./index.js');
    const memory = uffd!.TrackedMemory.allocate(size);
    const t = target('wl-worker');
    const boom = new Error('writerLatency exploded');
    try {
      await expect(
        snapshot({
          memory,
          to: t.path,
          writerLatency: () => {
            throw boom;
          },
        }),
      ).rejects.toBe(boom);
      expectUntouched(t);
    } finally {
      memory.release();
    }
  });

  it('a quiesce.pause() that never settles: abort and the deadline both end it, typed', async () => {
    const {
      snapshot,
      QuiesceTimeoutError: Timeout,
      SnapshotAbortedError: Aborted,
    } = (await import(DIST)) as typeof import('./index.js');
    const memory = uffd!.TrackedMemory.allocate(size);
    const t = target('pause-worker');
    try {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      await expect(
        snapshot({ memory, to: t.path, signal: controller.signal, quiesce: { pause: never, resume() {} } }),
      ).rejects.toBeInstanceOf(Aborted);
      await expect(
        snapshot({ memory, to: t.path, quiesceTimeoutMs: 150, quiesce: { pause: never, resume() {} } }),
      ).rejects.toBeInstanceOf(Timeout);
      memory.block(0).fill(3);
      expectUntouched(t);
    } finally {
      memory.release();
    }
  });
});
