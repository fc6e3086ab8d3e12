/**
 * Worker entry for snapshots of native tracked memory (see snapshot-in-worker.ts). This thread never
 * writes tracked memory; it hosts the save loop and the sink, so no application thread can block it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TrackedMemory, UffdFaultSource } from '@bgsnap/fault-source-uffd';
import { resolveLimiter } from './limiter-spec.js';
import { openSink } from './sink-spec.js';
import { snapshotOnThisThread } from './snapshot-core.js';
import {
  type MainToWorker,
  type SnapshotWorkerData,
  serializeError,
  type WorkerToMain,
} from './worker-protocol.js';

const port = parentPort!;
const data = workerData as SnapshotWorkerData;
const post = (m: WorkerToMain): void => port.postMessage(m);
const controller = new AbortController();
let pauseWaiter: { resolve: () => void; reject: (e: Error) => void } | undefined;
let commitWaiter: { resolve: () => void; reject: (e: Error) => void } | undefined;

port.on('message', (m: MainToWorker) => {
  if (m.type === 'abort') controller.abort(m.reason);
  else if (m.type === 'paused') pauseWaiter?.resolve();
  else if (m.type === 'pause-failed') pauseWaiter?.reject(new Error(`quiesce.pause() failed: ${m.message}`));
  else if (m.type === 'commit-ok') commitWaiter?.resolve();
  else if (m.type === 'commit-failed') commitWaiter?.reject(new Error(m.message));
});

async function main(): Promise<void> {
  const memories: TrackedMemory[] = [];
  try {
    for (const r of data.regions) memories.push(TrackedMemory.attach(r.handle));
    const limiter = await resolveLimiter(data.limiter, data.cwd);
    const source = new UffdFaultSource({
      regions: data.regions.map((r, i) => ({ name: r.name, memory: memories[i]! })),
      mode: data.mode,
      ...(data.protectChunkBytes === undefined ? {} : { protectChunkBytes: data.protectChunkBytes }),
    });
    const report = await snapshotOnThisThread({
      ...data.tuning,
      source,
      sink: openSink(data.sink),
      limiter,
      backend: 'uffd',
      mode: data.mode,
      faultedPages: data.faultedPages,
      output: data.output,
      thread: 'worker',
      signal: controller.signal,
      quiesceTimeoutMs: data.quiesceTimeoutMs,
      // The main thread runs its step (writerLatency) and answers; an abort sent before the answer
      // arrives first (one port, in order), so the gate sees it.
      beforeCommit: data.commitHook
        ? () =>
            new Promise<void>((resolve, reject) => {
              commitWaiter = { resolve, reject };
              post({ type: 'commit-request' });
            })
        : undefined,
      onProgress: data.progress ? (progress) => post({ type: 'progress', progress }) : undefined,
      quiesce: data.quiesce
        ? {
            pause: () =>
              new Promise<void>((resolve, reject) => {
                pauseWaiter = { resolve, reject };
                post({ type: 'pause' });
              }),
            resume: () => post({ type: 'resume' }),
          }
        : undefined,
    });
    report.backendStats = { ...source.stats() };
    for (const m of memories.splice(0)) m.release();
    post({ type: 'done', report });
  } catch (error) {
    for (const m of memories.splice(0)) m.release();
    post({ type: 'error', error: serializeError(error), aborted: controller.signal.aborted });
  }
}

void main();
