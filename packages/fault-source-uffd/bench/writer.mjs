// Benchmark writer thread. Times writes with the addon's clock (CLOCK_MONOTONIC ns, the base of the
// fault source's timestamps).
//   task 'latency': write one byte to `count` distinct random pages, one at a time; reply with every
//                   write's duration.
//   task 'stall':   write random pages until `stop` is set; reply with [start, duration] of every
//                   write slower than 20 us and the number of writes.
import { parentPort, workerData } from 'node:worker_threads';
import { TrackedMemory, uffdClock } from '../dist/index.js';

const { handle, task, count, seed, control } = workerData;
const mem = TrackedMemory.attach(handle);
const blocks = Array.from({ length: mem.blockCount }, (_, i) => mem.block(i));
const perBlock = mem.blockSize / mem.pageSize;
const ctl = new Int32Array(control);
let x = seed >>> 0 || 1;
const rnd = () => {
  x ^= x << 13;
  x >>>= 0;
  x ^= x >>> 17;
  x ^= x << 5;
  x >>>= 0;
  return x;
};
const now = uffdClock.now;

Atomics.store(ctl, 1, 1); // ready
while (Atomics.load(ctl, 0) === 0) Atomics.wait(ctl, 0, 0, 5);

if (task === 'latency') {
  const seen = new Uint8Array(mem.pageCount);
  const out = new Float64Array(count);
  for (let i = 0; i < count; ) {
    const p = ((rnd() * 4096 + rnd()) >>> 0) % mem.pageCount;
    if (seen[p]) continue;
    seen[p] = 1;
    const b = blocks[Math.floor(p / perBlock)];
    const t0 = now();
    b[(p % perBlock) * mem.pageSize] = 2;
    out[i++] = now() - t0;
  }
  parentPort.postMessage({ durations: out }, [out.buffer]);
} else {
  const slow = [];
  let writes = 0;
  while (Atomics.load(ctl, 0) === 1) {
    const p = ((rnd() * 4096 + rnd()) >>> 0) % mem.pageCount;
    const b = blocks[Math.floor(p / perBlock)];
    const t0 = now();
    b[(p % perBlock) * mem.pageSize + (rnd() & 4095)] = 3;
    const d = now() - t0;
    writes++;
    if (d > 20_000 && slow.length < 200_000) slow.push(t0, d);
  }
  parentPort.postMessage({ slow: Float64Array.from(slow), writes });
}
mem.release();
