// A writer thread for consistency tests: writes seeded random bytes to random pages as fast as it can,
// pausing on request. Control words (Int32Array over a SharedArrayBuffer):
//   [0] command: 0 run, 1 pause, 2 exit, 3 sweep (write one byte to every page, then pause)
//   [1 + id] 1 while this writer is paused
//   [3] page limit: writes go to pages [0, limit)
//   [4 + id] writes done (wraps)
import { workerData } from 'node:worker_threads';
import { TrackedMemory } from '../../dist/index.js';

// mode 'random': 16 random bytes at a random offset. mode 'counter': increment this writer's own
// 32-bit counter at offset 4 * id of a random page, so the sum of counters equals the writes made.
const { handle, control, id, seed, mode = 'random' } = workerData;
const ctl = new Int32Array(control);
const mem = TrackedMemory.attach(handle);
const ps = mem.pageSize;
const blocks = Array.from({ length: mem.blockCount }, (_, i) => mem.block(i));
const words = blocks.map((b) => new Uint32Array(b.buffer, b.byteOffset, b.byteLength >>> 2));
let x = seed >>> 0 || 1;
function rnd() {
  x ^= x << 13;
  x >>>= 0;
  x ^= x >>> 17;
  x ^= x << 5;
  x >>>= 0;
  return x;
}
let writes = 0;
for (;;) {
  const cmd = Atomics.load(ctl, 0);
  if (cmd === 2) break;
  if (cmd === 1 || cmd === 3) {
    if (cmd === 3 && id === 0) {
      for (let p = 0; p < mem.pageCount; p++) {
        const off = p * ps;
        const b = blocks[Math.floor(off / mem.blockSize)];
        b[off % mem.blockSize] = b[off % mem.blockSize];
      }
    }
    Atomics.store(ctl, 4 + id, writes);
    Atomics.store(ctl, 1 + id, 1);
    Atomics.notify(ctl, 1 + id);
    while (Atomics.load(ctl, 0) === 1 || Atomics.load(ctl, 0) === 3)
      Atomics.wait(ctl, 0, Atomics.load(ctl, 0), 50);
    Atomics.store(ctl, 1 + id, 0);
    continue;
  }
  const limit = Atomics.load(ctl, 3);
  const page = rnd() % limit;
  if (mode === 'counter') {
    const w = (page * ps) / 4 + id;
    words[Math.floor(w / (mem.blockSize / 4))][w % (mem.blockSize / 4)]++;
    if ((++writes & 63) === 0) Atomics.store(ctl, 4 + id, writes);
    continue;
  }
  const off = page * ps + (rnd() % (ps - 16));
  const b = blocks[Math.floor(off / mem.blockSize)];
  const o = off % mem.blockSize;
  for (let i = 0; i < 16 && o + i < b.length; i++) b[o + i] = rnd() & 0xff;
  if ((++writes & 63) === 0) Atomics.store(ctl, 4 + id, writes);
}
mem.release();
