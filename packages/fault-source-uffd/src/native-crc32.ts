import { loadNative } from './native.js';

/**
 * zlib's CRC-32: the CRC of `data` continued from `seed` (0 to start), as an unsigned 32-bit integer.
 * Empty data gives `seed` back (`zlib.crc32` gives 0 there).
 */
export type Crc32Function = (data: Uint8Array, seed: number) => number;

/** Copies `src` into the start of `dst` (which must be at least as long, and not overlap it) and returns `crc32(src, seed)`. */
export type CopyCrc32Function = (src: Uint8Array, dst: Uint8Array, seed: number) => number;

/** The native CRC-32 and its fused copy. */
export interface NativeCrc32 {
  readonly crc32: Crc32Function;
  readonly copyCrc32: CopyCrc32Function;
}

let cached: NativeCrc32 | null | undefined;

/**
 * CRC-32 (IEEE, identical to `zlib.crc32`) computed by the addon with 512-bit carry-less
 * multiplication — about four times `@node-rs/crc32` on the project's machines — and the same fused
 * with a copy (one pass over the source), or `undefined` when the addon is not built or the CPU lacks
 * AVX-512 with VPCLMULQDQ. The snapshot stream's checksum is most of what encoding a page costs: pass
 * both to `createSnapshotWriter({ crc32, copyCrc32 })` of `@bgsnap/stream-writer` (the bgsnap app does).
 * @throws nothing: a missing addon gives `undefined`. The functions throw `TypeError`/`RangeError` for
 * arguments that are not Uint8Arrays, a seed outside [0, 2^32), a `dst` shorter than `src` or one that
 * overlaps it.
 */
export function nativeCrc32(): NativeCrc32 | undefined {
  if (cached !== undefined) return cached ?? undefined;
  cached = null;
  try {
    const binding = loadNative();
    if (binding.crc32(Uint8Array.of(1, 2, 3), 0) === undefined) return undefined;
    // The addon's own functions, not wrappers: the stream writer calls them once per record. They
    // return undefined only where the probe above already did.
    cached = {
      crc32: binding.crc32 as Crc32Function,
      copyCrc32: binding.copyCrc32 as CopyCrc32Function,
    };
  } catch {
    // Not built or not loadable: the caller keeps its own CRC.
  }
  return cached ?? undefined;
}
