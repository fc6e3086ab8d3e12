/**
 * Worker entry of the `bgsnap run` demo writers: attaches to the tracked memory by handle and writes
 * 8 bytes at a time into pages chosen by a pattern, at a paced rate (`runPacedWrites`), timing every
 * write (a write to a protected page blocks inside the store until the save loop releases it).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TrackedMemory, type TrackedMemoryHandle } from '@bgsnap/fault-source-uffd';
import { createLatencyHistogram, encodeHistogram, recordLatency } from './save-loop/latency-histogram.js';
import { runPacedWrites, xorshift32 } from './workload/paced-writes.js';
import { CTRL, type WriterResult, type WriterWorkerData } from './workload/writer-protocol.js';

const data = workerData as WriterWorkerData;
const ctrl = new Int32Array(data.control);
const memory = TrackedMemory.attach(data.handle as TrackedMemoryHandle);
const blocks: BigUint64Array[] = [];
for (let i = 0; i < memory.blockCount; i++) {
  const b = memory.block(i);
  blocks.push(new BigUint64Array(b.buffer, b.byteOffset, b.byteLength >>> 3));
}
const wordsPerBlock = memory.blockSize / 8;
const pageCount = data.byteLength / data.pageSize;
const wordsPerPage = data.pageSize / 8;
const histogram = createLatencyHistogram();
const rand = xorshift32(data.seed * 2654435761 + data.index * 97 + 1);
const hotPages = Math.max(1, Math.floor(pageCount / 10));
let sequential = Math.floor((pageCount / 4) * data.index) % pageCount;
const nextPage = (): number => {
  switch (data.pattern) {
    case 'hot':
      // 90 % of writes go to the first 10 % of pages.
      return rand() % 10 < 9 ? rand() % hotPages : rand() % pageCount;
    case 'sequential':
      sequential = sequential + 1 === pageCount ? 0 : sequential + 1;
      return sequential;
    default:
      return rand() % pageCount;
  }
};

const firstStore = new Uint8Array(data.firstStores);
const candidates: number[] = [];
let writes = 0;
let value = BigInt(data.index + 1) << 56n;

runPacedWrites(ctrl, data.rate, () => {
  const page = nextPage();
  const word = page * wordsPerPage + (rand() % wordsPerPage);
  const block = blocks[Math.floor(word / wordsPerBlock)]!;
  value++;
  const recording = Atomics.load(ctrl, CTRL.recording) === 1;
  // Claimed before the store, outside the timed part: of writers racing to a page, one reports it.
  const first = recording && Atomics.compareExchange(firstStore, page, 0, 1) === 0;
  const t0 = performance.now();
  block[word % wordsPerBlock] = value;
  const t1 = performance.now();
  if (recording) recordLatency(histogram, (t1 - t0) * 1e6);
  if (first) candidates.push(page, (t1 - t0) * 1e6);
  writes++;
  Atomics.add(ctrl, CTRL.counts + data.index, 1);
});

const result: WriterResult = {
  index: data.index,
  writes,
  histogram: encodeHistogram(histogram),
  firstStores: Float64Array.from(candidates),
};
memory.release();
parentPort!.postMessage(result, [result.firstStores.buffer as ArrayBuffer]);
