/**
 * Worker entry of the benchmark writers: attaches to tracked memory by handle and stores 4 bytes at a
 * time into uniformly random pages at a paced rate (`runPacedWrites`), timing every store. A store to a write-protected
 * page blocks until the save loop (or, copy-on-fault, the fault thread) releases it, so the writer
 * measures the write-fault latency it suffers itself — no cooperation from the save loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TrackedMemory, type TrackedMemoryHandle } from '@bgsnap/fault-source-uffd';
import { runPacedWrites, xorshift32 } from 'bgsnap';
import { BENCH_CTRL, type BenchWriterData, type BenchWriterResult, FAULT_MIN_NS } from './writer-protocol.js';

const data = workerData as BenchWriterData;
const ctrl = new Int32Array(data.control);
const memory = TrackedMemory.attach(data.handle as TrackedMemoryHandle);
const blocks: Uint32Array[] = [];
for (let i = 0; i < memory.blockCount; i++) {
  const b = memory.block(i);
  blocks.push(new Uint32Array(b.buffer, b.byteOffset, b.byteLength >>> 2));
}
const wordsPerBlock = memory.blockSize / 4;
const wordsPerPage = data.pageSize / 4;
const pageCount = data.pageCount;
/** Epoch in which each page was last first-written: no reset needed when a new recording starts. */
const seen = new Uint32Array(pageCount);
const slow: number[] = [];
const rand = xorshift32(data.seed * 2654435761 + data.index * 7919 + 1);
const result: BenchWriterResult = {
  index: data.index,
  writes: 0,
  recordedWrites: 0,
  firstWrites: 0,
  slowFirstWrites: new Float64Array(0),
  maxWriteNs: 0,
  maxWriteAtMs: 0,
  over1ms: 0,
  over5ms: 0,
};
let value = (data.index + 1) << 24;

runPacedWrites(ctrl, data.rate, () => {
  const page = rand() % pageCount;
  const word = page * wordsPerPage + (rand() % wordsPerPage);
  const block = blocks[(word / wordsPerBlock) | 0]!;
  const epoch = Atomics.load(ctrl, BENCH_CTRL.epoch);
  value = (value + 1) | 0;
  const t0 = performance.now();
  block[word % wordsPerBlock] = value;
  const t1 = performance.now();
  result.writes++;
  Atomics.add(ctrl, BENCH_CTRL.counts + data.index, 1);
  if (epoch === 0) return;
  const ns = (t1 - t0) * 1e6;
  result.recordedWrites++;
  if (ns > result.maxWriteNs) {
    result.maxWriteNs = ns;
    result.maxWriteAtMs = performance.timeOrigin + t0;
  }
  if (ns > 1e6) result.over1ms++;
  if (ns > 5e6) result.over5ms++;
  if (seen[page] !== epoch) {
    seen[page] = epoch;
    result.firstWrites++;
    if (ns >= FAULT_MIN_NS) slow.push(page, ns);
  }
});

result.slowFirstWrites = Float64Array.from(slow);
memory.release();
parentPort!.postMessage(result, [result.slowFirstWrites.buffer as ArrayBuffer]);
