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

type Crc32 = (data: Uint8Array, seed: number) => number;

function loadFast(): Crc32 | undefined {
  if (process.env.BGSNAP_CRC32 === 'zlib') return undefined;
  try {
    const require = createRequire(import.meta.url);
    const mod = require('@node-rs/crc32') as { crc32(input: Uint8Array, initial?: number): number };
    const probe = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9);
    // Trust it only if it agrees with zlib, seeded and unseeded.
    if (
      mod.crc32(probe, 0) !== zlibCrc32(probe, 0) ||
      mod.crc32(probe, 0x12345678) !== zlibCrc32(probe, 0x12345678) ||
      mod.crc32(probe.subarray(3, 7), 7) !== zlibCrc32(probe.subarray(3, 7), 7)
    ) {
      return undefined;
    }
    // It returns 0 for empty input whatever the seed; the CRC of nothing continued from a seed is the seed.
    return (data, seed) => (data.byteLength === 0 ? seed : mod.crc32(data, seed));
  } catch {
    return undefined;
  }
}

const fast = loadFast();

/** Which implementation computes the checksums: `'simd'` (@node-rs/crc32) or `'zlib'`. */
export const crc32Implementation: 'simd' | 'zlib' = fast ? 'simd' : 'zlib';

/** CRC-32 (IEEE) of `data`, continuing from `seed` (0 to start). */
export const crc32: Crc32 = fast ?? ((data, seed) => zlibCrc32(data, seed));
