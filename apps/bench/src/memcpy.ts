import type * as Uffd from '@bgsnap/fault-source-uffd';
import type { TrackedMemory } from '@bgsnap/fault-source-uffd';

/** Copies all of `memory` into `dest`, block by block (`TypedArray.set`); returns bytes/s. */
function timedCopy(memory: TrackedMemory, dest: Uint8Array): number {
  const t0 = performance.now();
  for (let b = 0; b < memory.blockCount; b++) dest.set(memory.block(b), b * memory.blockSize);
  return (memory.byteLength * 1e3) / (performance.now() - t0);
}

/**
 * A plain copy of all of `memory` (block by block, `TypedArray.set`) into one preallocated,
 * pre-touched buffer: the baseline of target (a). Each call of the returned function times one pass
 * and returns its bytes/s, so passes can be interleaved with what they are compared with.
 */
export function memcpyBaseline(memory: TrackedMemory): () => number {
  const dest = new Uint8Array(memory.byteLength);
  dest.fill(1); // touch every page first: the snapshot's buffers are reused, so page-in is not its cost either
  return () => timedCopy(memory, dest);
}

/**
 * A plain copy of memory read right after its first write-protection. Per pass: fresh memory (THP when
 * available), filled, write-protected by a plain userfaultfd source, then copied once, block by block,
 * into a pre-touched buffer; returns bytes/s of each copy. On these VMs the first read after the first
 * write-protection of freshly host-backed memory is several times slower than a `memcpyBaseline` pass,
 * although no fault is taken; later protections of the same memory do not repeat it (BENCHMARKS.md).
 */
export async function protectedMemcpyThroughput(
  uffd: typeof Uffd,
  sizeBytes: number,
  reps: number,
): Promise<number[]> {
  const dest = new Uint8Array(sizeBytes);
  dest.fill(1);
  const out: number[] = [];
  for (let r = 0; r < reps; r++) {
    const memory = uffd.TrackedMemory.allocate(sizeBytes);
    try {
      for (let b = 0; b < memory.blockCount; b++) memory.block(b).fill(7);
      const source = uffd.createUffdFaultSource({ regions: [{ name: 'memory', memory }], mode: 'plain' });
      await source.start();
      try {
        out.push(timedCopy(memory, dest));
      } finally {
        await source.stop();
      }
    } finally {
      memory.release();
    }
  }
  return out;
}

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
