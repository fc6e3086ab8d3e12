import { type NativeCrc32, nativeCrc32 } from '@bgsnap/fault-source-uffd';

/**
 * The CRC-32 the stream writer should use: the native addon's (AVX-512 carry-less multiply, about
 * four times the portable SIMD one on the project's machines, and fused with the copy into the batch)
 * when it is built and this CPU runs it, else nothing, which leaves the writer's own. The CRC is most
 * of what encoding a page costs, and the encode is what a faulting writer waits for in plain mode.
 * `BGSNAP_CRC32=zlib` (or any value but `native`) keeps the writer's own, for comparisons.
 */
export function snapshotCrc32(): Partial<NativeCrc32> {
  const choice = process.env.BGSNAP_CRC32;
  if (choice !== undefined && choice !== '' && choice !== 'native') return {};
  return nativeCrc32() ?? {};
}
