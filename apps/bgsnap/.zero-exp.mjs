import { TrackedMemory, createUffdFaultSource } from '@bgsnap/fault-source-uffd';
import { discardSink } from '@bgsnap/stream-writer';
import { randomFillSync } from 'node:crypto';
import { snapshot } from './dist/index.js';
const size = 1 << 30;
const kind = process.argv[2];
const memory = TrackedMemory.allocate(size);
console.log('blocks', memory.blockCount, 'blockSize', memory.blockSize, 'huge', memory.hugePages);
const pat = randomFillSync(new Uint8Array(1 << 20));
for (let b = 0; b < memory.blockCount; b++) {
  const v = memory.block(b);
  if (kind === 'zeros') v.fill(0);
  if (kind === 'data') for (let o = 0; o < v.length; o += pat.length) v.set(pat.subarray(0, Math.min(pat.length, v.length - o)), o);
}
const out = [];
for (let p = 0; p < 5; p++) {
  const source = createUffdFaultSource({ regions: [{ name: 'memory', memory }], mode: 'plain' });
  const f0 = process.resourceUsage().minorPageFault;
  const t0 = performance.now();
  const r = await snapshot({ source, backendName: 'uffd', to: discardSink(), limiter: 'unlimited' });
  out.push((size / 2 ** 30 / ((performance.now() - t0) / 1e3)).toFixed(2) + '(' + (process.resourceUsage().minorPageFault - f0) + ' flt, ' + source.stats().populatedForRead + ' pop)');
  if (p === 0) console.log('zero pages', r.pages?.zero ?? JSON.stringify(r.pages));
}
console.log(kind, out.join(' '), 'GiB/s');
memory.release();
