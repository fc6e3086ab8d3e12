/**
 * Geometry of the sparse bitmap. A block holds 2^16 bits (8 KiB of words): small enough that a
 * sparsely written huge bitmap allocates little, large enough that 2^32 pages need only 65,536
 * blocks, whose two summary bitmaps (non-empty, full) are 8 KiB each and scan in microseconds.
 */

/** log2 of the bits per block. */
export const BLOCK_SHIFT = 16;
/** Bits per block. */
export const BLOCK_BITS = 1 << BLOCK_SHIFT;
/** Mask of the in-block bit offset. */
export const BLOCK_MASK = BLOCK_BITS - 1;
/** 32-bit words per full block. */
export const BLOCK_WORDS = BLOCK_BITS / 32;

/** Number of blocks for `size` bits. */
export function blockCountFor(size: number): number {
  return Math.ceil(size / BLOCK_BITS);
}

/** Bits in block `b` of a bitmap of `size` bits (only the last block may be short). */
export function blockLengthOf(size: number, b: number): number {
  return Math.min(BLOCK_BITS, size - b * BLOCK_BITS);
}
