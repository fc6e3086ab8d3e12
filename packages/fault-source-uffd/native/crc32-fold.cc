#include "crc32-fold.h"

#include <immintrin.h>

#include <cstring>

namespace bgsnap {

namespace {

#define BGSNAP_FOLD_TARGET __attribute__((target("avx512f,avx512vl,vpclmulqdq,pclmul,sse4.1")))

struct ByteTable {
  uint32_t v[256];
  ByteTable() {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      v[i] = c;
    }
  }
};
const ByteTable table;

// The CRC register over bytes, without zlib's pre- and post-inversion.
uint32_t raw_bytes(uint32_t r, const uint8_t* p, size_t n) {
  while (n--) r = table.v[(r ^ *p++) & 0xff] ^ (r >> 8);
  return r;
}

// Folding a 128-bit lane forward by D bits multiplies its low half by x^(D+32) and its high half by
// x^(D-32) mod P (bit-reflected, shifted left by one), as in Intel's "Fast CRC Computation for Generic
// Polynomials Using PCLMULQDQ". The constants for D = 128, 512 and 2048 were computed from P.
BGSNAP_FOLD_TARGET __m512i fold512(__m512i x, __m512i k) {
  return _mm512_xor_si512(_mm512_clmulepi64_epi128(x, k, 0x00), _mm512_clmulepi64_epi128(x, k, 0x11));
}

BGSNAP_FOLD_TARGET __m128i fold128(__m128i x, __m128i k) {
  return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}

}  // namespace

bool crc32_fold_supported() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("vpclmulqdq") && __builtin_cpu_supports("pclmul");
}

namespace {

// Loads 64 bytes and, when copying, stores them to the same offset in `out`: one pass over the source
// both checksums and copies it.
BGSNAP_FOLD_TARGET inline __m512i load64(const uint8_t* p, uint8_t* out, size_t at) {
  const __m512i v = _mm512_loadu_si512(p + at);
  if (out) _mm512_storeu_si512(out + at, v);
  return v;
}

BGSNAP_FOLD_TARGET inline __m128i load16(const uint8_t* p, uint8_t* out, size_t at) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + at));
  if (out) _mm_storeu_si128(reinterpret_cast<__m128i*>(out + at), v);
  return v;
}

BGSNAP_FOLD_TARGET uint32_t fold(uint32_t seed, const uint8_t* p, uint8_t* out, size_t n) {
  uint32_t r = ~seed;
  // Short inputs (record headers, the trailer) are not worth the setup.
  if (n < 256) {
    if (out && n) memcpy(out, p, n);
    return ~raw_bytes(r, p, n);
  }
  const __m512i k2048 = _mm512_set_epi64(0x1322d1430, 0x11542778a, 0x1322d1430, 0x11542778a, 0x1322d1430,
                                         0x11542778a, 0x1322d1430, 0x11542778a);
  const __m512i k512 = _mm512_set_epi64(0x1c6e41596, 0x154442bd4, 0x1c6e41596, 0x154442bd4, 0x1c6e41596,
                                        0x154442bd4, 0x1c6e41596, 0x154442bd4);
  const __m128i k128 = _mm_set_epi64x(0xccaa009e, 0x1751997d0);
  // The register enters as the first four message bytes XORed with it; from there on the message is
  // reduced with an initial register of 0.
  __m512i x0 = _mm512_xor_si512(load64(p, out, 0), _mm512_castsi128_si512(_mm_cvtsi32_si128(static_cast<int>(r))));
  __m512i x1 = load64(p, out, 64);
  __m512i x2 = load64(p, out, 128);
  __m512i x3 = load64(p, out, 192);
  size_t at = 256;
  while (n - at >= 256) {
    x0 = _mm512_xor_si512(fold512(x0, k2048), load64(p, out, at));
    x1 = _mm512_xor_si512(fold512(x1, k2048), load64(p, out, at + 64));
    x2 = _mm512_xor_si512(fold512(x2, k2048), load64(p, out, at + 128));
    x3 = _mm512_xor_si512(fold512(x3, k2048), load64(p, out, at + 192));
    at += 256;
  }
  x1 = _mm512_xor_si512(fold512(x0, k512), x1);
  x2 = _mm512_xor_si512(fold512(x1, k512), x2);
  x3 = _mm512_xor_si512(fold512(x2, k512), x3);
  while (n - at >= 64) {
    x3 = _mm512_xor_si512(fold512(x3, k512), load64(p, out, at));
    at += 64;
  }
  __m128i d = _mm512_extracti32x4_epi32(x3, 0);
  d = _mm_xor_si128(fold128(d, k128), _mm512_extracti32x4_epi32(x3, 1));
  d = _mm_xor_si128(fold128(d, k128), _mm512_extracti32x4_epi32(x3, 2));
  d = _mm_xor_si128(fold128(d, k128), _mm512_extracti32x4_epi32(x3, 3));
  while (n - at >= 16) {
    d = _mm_xor_si128(fold128(d, k128), load16(p, out, at));
    at += 16;
  }
  if (out && n > at) memcpy(out + at, p + at, n - at);
  // The folded 16 bytes stand for everything before the tail: finish bytewise.
  uint8_t s[16];
  _mm_storeu_si128(reinterpret_cast<__m128i*>(s), d);
  return ~raw_bytes(raw_bytes(0, s, 16), p + at, n - at);
}

}  // namespace

uint32_t crc32_fold(uint32_t seed, const uint8_t* p, size_t n) { return fold(seed, p, nullptr, n); }

uint32_t crc32_fold_copy(uint32_t seed, const uint8_t* src, uint8_t* dst, size_t n) {
  return fold(seed, src, dst, n);
}

}  // namespace bgsnap
