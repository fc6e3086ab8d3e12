// Child process for the exit tests: starts a snapshot while two writers hammer the memory, then leaves
// in the middle of the save loop the way argv[2] says: 'exit' (process.exit), 'throw' (uncaught
// exception) or 'reject' (unhandled rejection). Node must still exit: nothing may stay blocked.
import { Worker } from 'node:worker_threads';
import { createUffdFaultSource, TrackedMemory } from '../../dist/index.js';

const how = process.argv[2];
const mode = process.argv[3] ?? 'plain';
const memory = TrackedMemory.allocate(32 << 20);
const ctl = new Int32Array(new SharedArrayBuffer(64));
Atomics.store(ctl, 3, memory.pageCount);
const url = new URL('./random-writer.mjs', import.meta.url);
for (let id = 0; id < 2; id++)
  new Worker(url, { workerData: { handle: memory.handle, control: ctl.buffer, id, seed: id + 1 } });
await new Promise((r) => setTimeout(r, 200));
const source = createUffdFaultSource({ regions: [{ name: 'heap', memory }], mode });
await source.start();
await new Promise((r) => setTimeout(r, 50)); // writers are now blocked on protected pages
let served = 0;
let faults = source.takeFaults();
for (;;) {
  for (const f of faults) {
    if (!f.contents) source.release(f.region, f.page, 1);
    if (++served === 20) {
      console.log('leaving with writers blocked');
      if (how === 'exit') process.exit(3);
      if (how === 'throw') throw new Error('save loop failed');
      if (how === 'reject') Promise.reject(new Error('save loop failed'));
    }
  }
  faults = await source.waitForFaults(10e6);
}
