import type { TrackedMemory } from '@bgsnap/fault-source-uffd';

/**
 * Fills tracked memory with varied contents: pseudo-random bytes with the page index in each page's
 * first 8 bytes, and every 16th page left zero (so zero-page detection has something to find).
 */
export function fillMemory(memory: TrackedMemory, seed = 1): void {
  const pattern = new Uint8Array(1 << 20);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < pattern.length; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    pattern[i] = x;
    pattern[i + 1] = x >>> 8;
    pattern[i + 2] = x >>> 16;
    pattern[i + 3] = x >>> 24;
  }
  const pageSize = memory.pageSize;
  for (let b = 0; b < memory.blockCount; b++) {
    const block = memory.block(b);
    const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
    const firstPage = (b * memory.blockSize) / pageSize;
    for (let off = 0; off < block.length; off += pattern.length) {
      block.set(pattern.subarray(0, Math.min(pattern.length, block.length - off)), off);
    }
    for (let p = 0, n = block.length / pageSize; p < n; p++) {
      const page = firstPage + p;
      if (page % 16 === 15) block.fill(0, p * pageSize, (p + 1) * pageSize);
      else view.setFloat64(p * pageSize, page, true);
    }
  }
}

/**
 * A buffer for {@link copyMemory}, with every page already touched: first touches of fresh memory are
 * slow (on these VMs ~100 MB/s), and the copy happens while the writers are paused.
 */
export function allocateReference(memory: TrackedMemory): Uint8Array {
  return new Uint8Array(memory.byteLength).fill(1);
}

/** Copies tracked memory into `into` (see {@link allocateReference}), e.g. as a verification reference. */
export function copyMemory(memory: TrackedMemory, into: Uint8Array): Uint8Array {
  for (let b = 0; b < memory.blockCount; b++) into.set(memory.block(b), b * memory.blockSize);
  return into;
}
