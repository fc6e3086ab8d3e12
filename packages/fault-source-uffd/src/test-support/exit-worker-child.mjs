// Child process for the exit test where the save loop runs in a worker thread (as the bgsnap app does):
// the main thread owns the memory and two writer workers, a snapshot worker owns the fault source and
// serves no faults; once writers are blocked, the main thread calls process.exit(4).
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { createUffdFaultSource, TrackedMemory } from '../../dist/index.js';

if (isMainThread) {
  const memory = TrackedMemory.allocate(32 << 20);
  const ctl = new Int32Array(new SharedArrayBuffer(64));
  Atomics.store(ctl, 3, memory.pageCount);
  const url = new URL('./random-writer.mjs', import.meta.url);
  for (let id = 0; id < 2; id++)
    new Worker(url, { workerData: { handle: memory.handle, control: ctl.buffer, id, seed: id + 1 } });
  await new Promise((r) => setTimeout(r, 200));
  const snap = new Worker(new URL(import.meta.url), { workerData: { handle: memory.handle } });
  await new Promise((r) => snap.once('message', r));
  await new Promise((r) => setTimeout(r, 100)); // writers are blocked now: nobody serves faults
  console.log('leaving with writers blocked');
  process.exit(4);
} else {
  const memory = TrackedMemory.attach(workerData.handle);
  const source = createUffdFaultSource({ regions: [{ name: 'heap', memory }] });
  await source.start();
  parentPort.postMessage('started');
  setInterval(() => {}, 1000); // stay alive, never take faults
}
