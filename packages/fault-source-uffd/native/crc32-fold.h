// CRC-32 (IEEE, zlib's) by carry-less multiplication on 512-bit registers, for the snapshot stream's
// checksum chain: the CRC is most of what encoding a page costs, and the portable SIMD one available
// to JavaScript (128-bit PCLMULQDQ) runs at a quarter of this.
#pragma once
#include <cstddef>
#include <cstdint>

namespace bgsnap {

// True when this CPU has AVX-512 (F, VL) and VPCLMULQDQ, which crc32_fold needs.
bool crc32_fold_supported();

// zlib's crc32(seed, p, n): continues the CRC `seed` (0 to start) over n bytes. Only call it when
// crc32_fold_supported().
uint32_t crc32_fold(uint32_t seed, const uint8_t* p, size_t n);

// crc32_fold over src while copying it to dst (n bytes; the two must not overlap): the stream writer
// checksums every page it copies into a batch, and one pass reads the source once. Same condition.
uint32_t crc32_fold_copy(uint32_t seed, const uint8_t* src, uint8_t* dst, size_t n);

}  // namespace bgsnap
