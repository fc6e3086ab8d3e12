import { TrackedMemory } from '@bgsnap/fault-source-uffd';
import { snapshot } from './dist/index.js';

const size = 512 * 2 ** 20;
const memory = TrackedMemory.allocate(size);
const v = memory.block(0);
const rnd = Buffer.alloc(1 << 20);
for (let i = 0; i < rnd.length; i++) rnd[i] = (i * 2654435761) >>> 24;
for (let o = 0; o < size; o += rnd.length) v.set(rnd, o);
const t = performance.now();
const c = Buffer.allocUnsafe(size);
c.set(v);
console.log('memcpy ms', (performance.now() - t).toFixed(1));
for (const batchPages of [64, 256, 1024])
  for (const to of [{ kind: 'discard' }, '/tmp/bgsnap-dev/p.bgsnap']) {
    const r = await snapshot({ memory, to, limiter: 'unlimited', batchPages });
    console.log(
      batchPages,
      typeof to === 'string' ? 'file' : 'discard',
      'save ms',
      (r.saveNs / 1e6).toFixed(1),
      'total ms',
      (r.durationNs / 1e6).toFixed(1),
      'MiB/s',
      (r.throughputBytesPerSec / 2 ** 20).toFixed(0),
      'drain ms',
      (r.sinkStalledNs / 1e6).toFixed(1),
    );
  }
memory.release();
