import { randomFillSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { TrackedMemory } from '@bgsnap/fault-source-uffd';
import { SinkStalledError } from '@bgsnap/stream-writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CTRL, type WriterWorkerData } from './workload/writer-protocol.js';

// snapshot() with native memory runs its loop in dist/snapshot-worker.js, and the writer threads run
// dist/workload-writer.js (the `bgsnap run` writers), so this test uses the build.
const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const uffd = await import('@bgsnap/fault-source-uffd').catch(() => undefined);
const available = existsSync(join(DIST, 'index.js')) && uffd?.probeUffd().available;
const SIZE = 64 * 2 ** 20;
const PAGE = 4096;
const WRITERS = 2;

/** `bgsnap run`'s writer threads on `memory`, paced; `writes` reads their store counters live. */
function startWriters(memory: TrackedMemory) {
  const control = new SharedArrayBuffer(4 * (CTRL.counts + WRITERS));
  const ctrl = new Int32Array(control);
  const firstStores = new SharedArrayBuffer(SIZE / PAGE); // one claim byte per page, as WriterPool does
  const workers: Worker[] = [];
  const exited: Promise<unknown>[] = [];
  for (let index = 0; index < WRITERS; index++) {
    const workerData: WriterWorkerData = {
      index,
      handle: memory.handle,
      byteLength: SIZE,
      pageSize: PAGE,
      rate: 20_000,
      pattern: 'uniform',
      seed: 7,
      control,
      firstStores,
    };
    const worker = new Worker(join(DIST, 'workload-writer.js'), { workerData });
    exited.push(new Promise((resolve) => worker.once('exit', resolve)));
    workers.push(worker);
  }
  return {
    get writes(): number {
      let n = 0;
      for (let i = 0; i < WRITERS; i++) n += Atomics.load(ctrl, CTRL.counts + i) >>> 0;
      return n;
    },
    async stop(): Promise<void> {
      Atomics.store(ctrl, CTRL.command, 2);
      Atomics.notify(ctrl, CTRL.command);
      await Promise.all(exited);
    },
  };
}

/** Resolves once the writer threads are storing (they take a moment to start). */
async function untilWriting(writers: { readonly writes: number }): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (writers.writes === 0) {
    if (performance.now() > deadline) throw new Error('the writer threads did not start within 10 s');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Tracked memory full of random bytes: nothing compresses, so the socket buffers fill. */
function incompressibleMemory(): TrackedMemory {
  const memory = uffd!.TrackedMemory.allocate(SIZE);
  const view = memory.block(0);
  for (let at = 0; at < SIZE; at += 1 << 16) randomFillSync(view, at, 1 << 16);
  return memory;
}

/** Every page can be written at once: none is still protected (a protected one would block here). */
function writesEveryPage(memory: TrackedMemory): number {
  const view = memory.block(0);
  const started = performance.now();
  for (let at = 0; at < SIZE; at += PAGE) view[at] = 0x5a;
  return performance.now() - started;
}

describe.skipIf(!available)('snapshot() to a TCP receiver that accepts and never reads', () => {
  let server: Server;
  let port = 0;
  const held: Socket[] = [];

  beforeAll(async () => {
    server = createServer((socket) => {
      socket.pause(); // accept, then never read: the kernel buffers fill and writes stop progressing
      socket.on('error', () => undefined);
      held.push(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const s of held) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('fails by its stall deadline with SinkStalledError naming the peer; writers ran throughout; memory released', async () => {
    const { snapshot } = (await import(join(DIST, 'index.js'))) as typeof import('./index.js');
    const memory = incompressibleMemory();
    const writers = startWriters(memory);
    // Store counters sampled through the snapshot, and when the save loop last made progress: after
    // that, it is stuck on the sink.
    const samples: { at: number; writes: number }[] = [];
    const sampler = setInterval(() => samples.push({ at: performance.now(), writes: writers.writes }), 10);
    let lastProgress = 0;
    try {
      await untilWriting(writers);
      const started = performance.now();
      const error = await snapshot({
        memory,
        mode: 'copy-on-fault',
        to: { kind: 'tcp', host: '127.0.0.1', port, stallTimeoutMs: 300 },
        // Faults keep being served while the loop waits on the sink: without it, copy-on-fault writers
        // block again once the handler's copy buffer is full (about 75 ms into the stall here).
        serveFaultsWhileDraining: true,
        progressIntervalNs: 1e6,
        onProgress: () => {
          lastProgress = performance.now();
        },
      }).catch((e: unknown) => e);
      const failedAt = performance.now();
      expect(error).toBeInstanceOf(SinkStalledError);
      expect(error).toMatchObject({ code: 'SINK_STALLED', peer: `tcp 127.0.0.1:${port}`, timeoutMs: 300 });
      expect((error as Error).message).toContain(`tcp 127.0.0.1:${port}`);
      // By its deadline: 300 ms without progress, plus what saving up to the stall took (a few MiB).
      expect(failedAt - started).toBeLessThan(5_000);
      expect(failedAt - lastProgress).toBeGreaterThanOrEqual(250);
      // The writers' stores went on throughout the stall: the counters advanced in every 100 ms of it.
      for (let from = lastProgress; from + 100 <= failedAt; from += 100) {
        const window = samples.filter((x) => x.at >= from && x.at <= from + 100);
        expect(window.length).toBeGreaterThan(2);
        expect(window.at(-1)!.writes).toBeGreaterThan(window[0]!.writes);
      }
      // Nothing is left protected: writing every page does not block.
      expect(writesEveryPage(memory)).toBeLessThan(1_000);
    } finally {
      clearInterval(sampler);
      await writers.stop();
      memory.release();
    }
  }, 30_000);

  it('an abort while a write is stuck on the peer settles within a second', async () => {
    const { snapshot, SnapshotAbortedError } = (await import(
      join(DIST, 'index.js')
    )) as typeof import('./index.js');
    const memory = incompressibleMemory();
    const writers = startWriters(memory);
    const controller = new AbortController();
    try {
      await untilWriting(writers);
      let lastProgress = performance.now();
      const promise = snapshot({
        memory,
        mode: 'copy-on-fault',
        // No stall deadline: only the abort can end the stuck write.
        to: { kind: 'tcp', host: '127.0.0.1', port, stallTimeoutMs: 0 },
        serveFaultsWhileDraining: true,
        signal: controller.signal,
        progressIntervalNs: 10e6,
        onProgress: () => {
          lastProgress = performance.now();
        },
      }).catch((e: unknown) => e);
      // Wait until the save loop has stopped making progress: the sink write is in flight and stuck.
      const deadline = performance.now() + 10_000;
      while (performance.now() - lastProgress < 300 && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(performance.now()).toBeLessThan(deadline);
      const before = writers.writes;
      await new Promise((r) => setTimeout(r, 100));
      expect(writers.writes).toBeGreaterThan(before); // the writers are not blocked on the stall
      const abortedAt = performance.now();
      controller.abort(new Error('operator pressed ^C'));
      const error = await promise;
      expect(performance.now() - abortedAt).toBeLessThan(1_000);
      expect(error).toBeInstanceOf(SnapshotAbortedError);
      expect(writesEveryPage(memory)).toBeLessThan(1_000);
    } finally {
      await writers.stop();
      memory.release();
    }
  }, 30_000);
});
