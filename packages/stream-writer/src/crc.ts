/**
 * CRC-32 (IEEE, the zlib one) for the stream's checksum chain.
 *
 * The encode path checksums every byte it copies, and zlib.crc32 (table-driven, ~3–5 GB/s here) was
 * the writer's bottleneck. @node-rs/crc32 computes the same CRC with SIMD (carry-less multiply,
 * ~12 GB/s here), ships its binary inside per-platform npm packages (no install script), and is
 * used when it loads; otherwise zlib's gives identical values, only slower.
 */
import { createRequire } from 'node:module';
import { crc32 as zlibCrc32 } from 'node:zlib';

/** A CRC-32 continuing from `seed`. */
export type Crc32 = (data: Uint8Array, seed: number) => number;

/**
 * `f` made safe for the chain, or undefined if it does not compute zlib's CRC-32: it must agree with
 * zlib seeded and unseeded, on a subarray, and on more than a vector register's worth of bytes.
 * Empty input gives the seed back whatever `f` does with it (zlib and @node-rs/crc32 return 0).
 */
export function checkedCrc32(f: (data: Uint8Array, seed: number) => number): Crc32 | undefined {
  try {
    const probe = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9);
    const long = new Uint8Array(1000);
    for (let i = 0; i < long.length; i++) long[i] = (i * 131) & 0xff;
    if (
      f(probe, 0) !== zlibCrc32(probe, 0) ||
      f(probe, 0x12345678) !== zlibCrc32(probe, 0x12345678) ||
      f(probe.subarray(3, 7), 7) !== zlibCrc32(probe.subarray(3, 7), 7) ||
      f(long.subarray(1), 0xdeadbeef) !== zlibCrc32(long.subarray(1), 0xdeadbeef)
    ) {
      return undefined;
    }
  } catch {
    return undefined;
  }
  return (data, seed) => (data.byteLength === 0 ? seed : f(data, seed));
}

/** A copy of `src` into the start of `dst` that returns `crc32(src, seed)`. */
export type CopyCrc32 = (src: Uint8Array, dst: Uint8Array, seed: number) => number;

/**
 * `f` if it copies and checksums like `dst.set(src)` plus zlib's CRC-32 on a few probes (of more than a
 * vector register's worth of bytes, into a longer `dst`), else undefined.
 */
export function checkedCopyCrc32(f: CopyCrc32): CopyCrc32 | undefined {
  try {
    const src = new Uint8Array(1001);
    for (let i = 0; i < src.length; i++) src[i] = (i * 167) & 0xff;
    const dst = new Uint8Array(1010).fill(7);
    if (f(src.subarray(1), dst.subarray(3), 0x1234) !== zlibCrc32(src.subarray(1), 0x1234)) return undefined;
    for (let i = 0; i < dst.length; i++) {
      const want = i >= 3 && i < 1003 ? src[i - 2] : 7;
      if (dst[i] !== want) return undefined;
    }
  } catch {
    return undefined;
  }
  return (src, dst, seed) => (src.byteLength === 0 ? seed : f(src, dst, seed));
}

function loadFast(): Crc32 | undefined {
  if (process.env.BGSNAP_CRC32 === 'zlib') return undefined;
  try {
    const require = createRequire(import.meta.url);
    const mod = require('@node-rs/crc32') as { crc32(input: Uint8Array, initial?: number): number };
    return checkedCrc32(mod.crc32);
  } catch {
    return undefined;
  }
}

const fast = loadFast();

/** Which implementation computes the checksums: `'simd'` (@node-rs/crc32) or `'zlib'`. */
export const crc32Implementation: 'simd' | 'zlib' = fast ? 'simd' : 'zlib';

/** CRC-32 (IEEE) of `data`, continuing from `seed` (0 to start). */
export const crc32: Crc32 = fast ?? ((data, seed) => zlibCrc32(data, seed));
