// Attaches tracked memory by handle, writes `value` at `offset`, reports what it read at `readOffset`,
// then keeps or releases its reference as told.
import { parentPort, workerData } from 'node:worker_threads';
import { TrackedMemory } from '../../dist/index.js';

const mem = TrackedMemory.attach(workerData.handle);
const view = mem.view(0, Math.min(mem.byteLength, 1 << 20));
view[workerData.offset] = workerData.value;
parentPort.postMessage({ read: view[workerData.readOffset] });
parentPort.on('message', (m) => {
  if (m === 'read') parentPort.postMessage({ read: view[workerData.readOffset] });
  if (m === 'release') {
    mem.release();
    parentPort.postMessage({ released: true });
  }
});
