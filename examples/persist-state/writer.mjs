// A writer thread: applies its stream of puts to its partition of the store, ~20 000 a second,
// and obeys the main thread's control word (run, pause, stop). Operation i of writer w is a pure
// function of (w, i), so after a restart the writer simply continues from the count it finds.
import { parentPort, workerData } from 'node:worker_threads';
import { TrackedMemory } from '@bgsnap/fault-source-uffd';
import { openStore } from './store.mjs';

export const RUN = 0;
export const PAUSE = 1;
export const STOP = 2;

if (parentPort) {
  const { handle, control, writer } = workerData; // control: [command, writers paused]
  const store = openStore(TrackedMemory.attach(handle));
  const keys = Math.floor(store.header().slotsPerWriter / 2); // half full at most: probing stays short
  parentPort.postMessage('ready');
  for (let i = store.opsOf(writer); ; ) {
    const command = Atomics.load(control, 0);
    if (command === STOP) break;
    if (command === PAUSE) {
      Atomics.add(control, 1, 1);
      Atomics.notify(control, 1);
      Atomics.wait(control, 0, PAUSE);
      Atomics.sub(control, 1, 1);
      continue;
    }
    for (const end = i + 20; i < end; i++) {
      const k = Math.imul(i ^ (writer << 24), 0x9e3779b1) >>> 0;
      store.put(writer, `user:${writer}:${k % keys}`, `{"op":${i},"by":${writer},"score":${k % 1000}}`);
      store.setOps(writer, i + 1);
    }
    Atomics.wait(control, 0, RUN, 1); // ~1 ms per 20 puts; a command wakes it at once
  }
  parentPort.postMessage('stopped');
}
