// WebAssembly SIMD128 kernels (the web build compiles everything with -msimd128).
// Integer block sums are exact; block results are then added exactly as the scalar
// reference adds them (wasm has no fused multiply-add), so the quantized dots give the
// reference's bits. Float dots use four f32x4 accumulators. The kernels for packed
// weights are in wasm_packed.inc, the f32 vector kernels in wasm_vector.inc.
//
// Block layouts: see kernels/x86_kernels.inc and core/tensor_types.cpp.
#include "kernels/dispatch.h"

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/half.h"

namespace loupe {
namespace {

inline float load_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}
inline float load_f32(const uint8_t* p) {
  float f;
  std::memcpy(&f, p, 4);
  return f;
}
inline v128_t load(const uint8_t* p) { return wasm_v128_load(p); }

inline int hsum_i32(v128_t v) {
  return wasm_i32x4_extract_lane(v, 0) + wasm_i32x4_extract_lane(v, 1) + wasm_i32x4_extract_lane(v, 2) +
         wasm_i32x4_extract_lane(v, 3);
}
inline float hsum_f32(v128_t v) {
  return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) +
         (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

// Sum of products of 16 signed bytes a and b, as 4 int32 lanes.
inline v128_t dot16_i8(v128_t a, v128_t b) {
  const v128_t lo = wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(a), wasm_i16x8_extend_low_i8x16(b));
  const v128_t hi = wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(a), wasm_i16x8_extend_high_i8x16(b));
  return wasm_i32x4_add(lo, hi);
}
// Unsigned bytes a (< 128) times signed bytes b: the same, since a fits in int8.
inline int dot32(v128_t a0, v128_t a1, const uint8_t* y) {
  return hsum_i32(wasm_i32x4_add(dot16_i8(a0, load(y)), dot16_i8(a1, load(y + 16))));
}

// Bits 0..15 (or 16..31) of the word at qh -> bytes of 0x10 where set.
inline v128_t fifth_bits16(uint32_t bits) {
  const v128_t spread = wasm_i8x16_swizzle(wasm_i32x4_splat(int32_t(bits)),
                                           wasm_i8x16_make(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
  const v128_t select = wasm_i8x16_make(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
  return wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(spread, select), select), wasm_i8x16_splat(0x10));
}

// ---------------------------------------------------------------------------
// Legacy quants
// ---------------------------------------------------------------------------

float dot_q8_0(const void* row, const void* partner, int64_t n) {
  const uint8_t* x = static_cast<const uint8_t*>(row);
  const uint8_t* y = static_cast<const uint8_t*>(partner);
  float sum = 0;
  for (int64_t i = 0; i < n / 32; ++i, x += 34, y += 34)
    sum += float(dot32(load(x + 2), load(x + 18), y + 2)) * (load_f16(x) * load_f16(y));
  return sum;
}

float dot_q4_0(const void* row, const void* partner, int64_t n) {
  const uint8_t* x = static_cast<const uint8_t*>(row);
  const uint8_t* y = static_cast<const uint8_t*>(partner);
  const v128_t mask = wasm_i8x16_splat(0x0f), eight = wasm_i8x16_splat(8);
  float sum = 0;
  for (int64_t i = 0; i < n / 32; ++i, x += 18, y += 34) {
    const v128_t q = load(x + 2);
    const v128_t lo = wasm_i8x16_sub(wasm_v128_and(q, mask), eight);
    const v128_t hi = wasm_i8x16_sub(wasm_u8x16_shr(q, 4), eight);
    sum += float(dot32(lo, hi, y + 2)) * (load_f16(x) * load_f16(y));
  }
  return sum;
}

float dot_q5_0(const void* row, const void* partner, int64_t n) {
  const uint8_t* x = static_cast<const uint8_t*>(row);
  const uint8_t* y = static_cast<const uint8_t*>(partner);
  const v128_t mask = wasm_i8x16_splat(0x0f), sixteen = wasm_i8x16_splat(16);
  float sum = 0;
  for (int64_t i = 0; i < n / 32; ++i, x += 22, y += 34) {
    uint32_t bits;
    std::memcpy(&bits, x + 2, 4);
    const v128_t q = load(x + 6);
    const v128_t lo = wasm_i8x16_sub(wasm_v128_or(wasm_v128_and(q, mask), fifth_bits16(bits)), sixteen);
    const v128_t hi = wasm_i8x16_sub(wasm_v128_or(wasm_u8x16_shr(q, 4), fifth_bits16(bits >> 16)), sixteen);
    sum += float(dot32(lo, hi, y + 2)) * (load_f16(x) * load_f16(y));
  }
  return sum;
}

float dot_q4_1(const void* row, const void* partner, int64_t n) {
  const uint8_t* x = static_cast<const uint8_t*>(row);
  const uint8_t* y = static_cast<const uint8_t*>(partner);
  const v128_t mask = wasm_i8x16_splat(0x0f);
  float sum = 0;
  for (int64_t i = 0; i < n / 32; ++i, x += 20, y += 36) {
    const v128_t q = load(x + 4);
    const int sumi = dot32(wasm_v128_and(q, mask), wasm_u8x16_shr(q, 4), y + 4);
    sum += (load_f16(x) * load_f16(y)) * float(sumi) + load_f16(x + 2) * load_f16(y + 2);
  }
  return sum;
}

float dot_q5_1(const void* row, const void* partner, int64_t n) {
  const uint8_t* x = static_cast<const uint8_t*>(row);
  const uint8_t* y = static_cast<const uint8_t*>(partner);
  const v128_t mask = wasm_i8x16_splat(0x0f);
  float sum = 0;
  for (int64_t i = 0; i < n / 32; ++i, x += 24, y += 36) {
    uint32_t bits;
    std::memcpy(&bits, x + 4, 4);
    const v128_t q = load(x + 8);
    const v128_t lo = wasm_v128_or(wasm_v128_and(q, mask), fifth_bits16(bits));
    const v128_t hi = wasm_v128_or(wasm_u8x16_shr(q, 4), fifth_bits16(bits >> 16));
    sum += (load_f16(x) * load_f16(y)) * float(dot32(lo, hi, y + 4)) + load_f16(x + 2) * load_f16(y + 2);
  }
  return sum;
}

// ---------------------------------------------------------------------------
// Tiles for the Q8_0-partner types: R weight rows x C tokens, one output per f32 lane.
// Each output is still the dot's chain sum += float(block's integer sum) * (dx*dy),
// block after block, so a tile gives every output the dot's bits; but the 32 levels of
// a weight block are unpacked and widened once for C tokens, a token's once for R rows,
// and the R*C integer sums are folded four at a time by shuffles instead of lane by lane.
// ---------------------------------------------------------------------------

struct Q8_0Levels {
  static constexpr size_t kBytes = 34;
  static void levels(const uint8_t* x, v128_t& lo, v128_t& hi) {
    lo = load(x + 2);
    hi = load(x + 18);
  }
};
struct Q4_0Levels {
  static constexpr size_t kBytes = 18;
  static void levels(const uint8_t* x, v128_t& lo, v128_t& hi) {
    const v128_t q = load(x + 2), mask = wasm_i8x16_splat(0x0f), eight = wasm_i8x16_splat(8);
    lo = wasm_i8x16_sub(wasm_v128_and(q, mask), eight);
    hi = wasm_i8x16_sub(wasm_u8x16_shr(q, 4), eight);
  }
};
struct Q5_0Levels {
  static constexpr size_t kBytes = 22;
  static void levels(const uint8_t* x, v128_t& lo, v128_t& hi) {
    uint32_t bits;
    std::memcpy(&bits, x + 2, 4);
    const v128_t q = load(x + 6), mask = wasm_i8x16_splat(0x0f), sixteen = wasm_i8x16_splat(16);
    lo = wasm_i8x16_sub(wasm_v128_or(wasm_v128_and(q, mask), fifth_bits16(bits)), sixteen);
    hi = wasm_i8x16_sub(wasm_v128_or(wasm_u8x16_shr(q, 4), fifth_bits16(bits >> 16)), sixteen);
  }
};

// Lane k = the sum of the 4 lanes of v[k] (exact: integers).
inline v128_t sum_lanes_4x4(const v128_t* v) {
  const v128_t ab = wasm_i32x4_add(wasm_i32x4_shuffle(v[0], v[1], 0, 4, 2, 6), wasm_i32x4_shuffle(v[0], v[1], 1, 5, 3, 7));
  const v128_t cd = wasm_i32x4_add(wasm_i32x4_shuffle(v[2], v[3], 0, 4, 2, 6), wasm_i32x4_shuffle(v[2], v[3], 1, 5, 3, 7));
  return wasm_i32x4_add(wasm_i32x4_shuffle(ab, cd, 0, 1, 4, 5), wasm_i32x4_shuffle(ab, cd, 2, 3, 6, 7));
}

// out[c * out_stride + r] = row r . activation row c, for r < R, c < C; R * C a multiple of 4.
template <class W, int R, int C>
void tile_q8_0_partner(const uint8_t* rows, size_t row_bytes, const uint8_t* acts, size_t act_bytes, int64_t n,
                       float* out, size_t out_stride) {
  static_assert((R * C) % 4 == 0, "four outputs per vector");
  constexpr int kVectors = R * C / 4;
  v128_t acc[kVectors];
  for (v128_t& a : acc) a = wasm_f32x4_splat(0);
  for (int64_t b = 0; b < n / 32; ++b) {
    v128_t x[R][4], y[C][4];  // levels widened to 16 bits: low and high halves of both 16-byte parts
    float dx[R], dy[C];
    for (int r = 0; r < R; ++r) {
      const uint8_t* block = rows + size_t(r) * row_bytes + size_t(b) * W::kBytes;
      v128_t lo, hi;
      W::levels(block, lo, hi);
      x[r][0] = wasm_i16x8_extend_low_i8x16(lo);
      x[r][1] = wasm_i16x8_extend_high_i8x16(lo);
      x[r][2] = wasm_i16x8_extend_low_i8x16(hi);
      x[r][3] = wasm_i16x8_extend_high_i8x16(hi);
      dx[r] = load_f16(block);
    }
    for (int c = 0; c < C; ++c) {
      const uint8_t* block = acts + size_t(c) * act_bytes + size_t(b) * 34;
      const v128_t lo = load(block + 2), hi = load(block + 18);
      y[c][0] = wasm_i16x8_extend_low_i8x16(lo);
      y[c][1] = wasm_i16x8_extend_high_i8x16(lo);
      y[c][2] = wasm_i16x8_extend_low_i8x16(hi);
      y[c][3] = wasm_i16x8_extend_high_i8x16(hi);
      dy[c] = load_f16(block);
    }
    for (int v = 0; v < kVectors; ++v) {
      v128_t sums[4];
      float scale[4];
      for (int k = 0; k < 4; ++k) {
        const int r = (4 * v + k) / C, c = (4 * v + k) % C;
        sums[k] = wasm_i32x4_add(
            wasm_i32x4_add(wasm_i32x4_dot_i16x8(x[r][0], y[c][0]), wasm_i32x4_dot_i16x8(x[r][1], y[c][1])),
            wasm_i32x4_add(wasm_i32x4_dot_i16x8(x[r][2], y[c][2]), wasm_i32x4_dot_i16x8(x[r][3], y[c][3])));
        scale[k] = dx[r] * dy[c];
      }
      const v128_t scales = wasm_f32x4_make(scale[0], scale[1], scale[2], scale[3]);
      acc[v] = wasm_f32x4_add(acc[v], wasm_f32x4_mul(wasm_f32x4_convert_i32x4(sum_lanes_4x4(sums)), scales));
    }
  }
  for (int v = 0; v < kVectors; ++v) {
    float result[4];
    wasm_v128_store(result, acc[v]);
    for (int k = 0; k < 4; ++k) {
      const int r = (4 * v + k) / C, c = (4 * v + k) % C;
      out[size_t(c) * out_stride + size_t(r)] = result[k];
    }
  }
}

// ---------------------------------------------------------------------------
// K-quants (partner Q8_K): integer sums per sub-block, scaled in integers, as the reference
// ---------------------------------------------------------------------------

inline void unpack_scales_k4(const uint8_t* p, int* scales, int* mins) {
  for (int j = 0; j < 4; ++j) {
    scales[j] = p[j] & 63;
    mins[j] = p[j + 4] & 63;
  }
  for (int j = 4; j < 8; ++j) {
    scales[j] = (p[j + 4] & 0x0f) | ((p[j - 4] >> 6) << 4);
    mins[j] = (p[j + 4] >> 4) | ((p[j] >> 6) << 4);
  }
}
inline int bsum(const uint8_t* y, int g) {
  int16_t v;
  std::memcpy(&v, y + 260 + 2 * g, 2);
  return v;
}

float dot_q4_k(const void* row, const void* partner, int64_t n) {
  const uint8_t* x = static_cast<const uint8_t*>(row);
  const uint8_t* y = static_cast<const uint8_t*>(partner);
  const v128_t mask = wasm_i8x16_splat(0x0f);
  float sum = 0;
  for (int64_t i = 0; i < n / 256; ++i, x += 144, y += 292) {
    int scales[8], mins[8];
    unpack_scales_k4(x + 4, scales, mins);
    int sum_q = 0, sum_m = 0;
    for (int pair = 0; pair < 4; ++pair) {
      const v128_t q0 = load(x + 16 + 32 * pair), q1 = load(x + 32 + 32 * pair);
      const int s0 = dot32(wasm_v128_and(q0, mask), wasm_v128_and(q1, mask), y + 4 + 64 * pair);
      const int s1 = dot32(wasm_u8x16_shr(q0, 4), wasm_u8x16_shr(q1, 4), y + 36 + 64 * pair);
      sum_q += scales[2 * pair] * s0 + scales[2 * pair + 1] * s1;
    }
    for (int j = 0; j < 8; ++j) sum_m += mins[j] * (bsum(y, 2 * j) + bsum(y, 2 * j + 1));
    const float dy = load_f32(y);
    sum += load_f16(x) * dy * float(sum_q) - load_f16(x + 2) * dy * float(sum_m);
  }
  return sum;
}

float dot_q5_k(const void* row, const void* partner, int64_t n) {
  const uint8_t* x = static_cast<const uint8_t*>(row);
  const uint8_t* y = static_cast<const uint8_t*>(partner);
  const v128_t mask = wasm_i8x16_splat(0x0f), one = wasm_i8x16_splat(1);
  float sum = 0;
  for (int64_t i = 0; i < n / 256; ++i, x += 176, y += 292) {
    int scales[8], mins[8];
    unpack_scales_k4(x + 4, scales, mins);
    const v128_t h0 = load(x + 16), h1 = load(x + 32);
    int sum_q = 0, sum_m = 0;
    for (int pair = 0; pair < 4; ++pair) {
      const v128_t q0 = load(x + 48 + 32 * pair), q1 = load(x + 64 + 32 * pair);
      auto high = [&](v128_t h, int bit) { return wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(h, bit), one), 4); };
      const v128_t lo0 = wasm_v128_or(wasm_v128_and(q0, mask), high(h0, 2 * pair));
      const v128_t lo1 = wasm_v128_or(wasm_v128_and(q1, mask), high(h1, 2 * pair));
      const v128_t hi0 = wasm_v128_or(wasm_u8x16_shr(q0, 4), high(h0, 2 * pair + 1));
      const v128_t hi1 = wasm_v128_or(wasm_u8x16_shr(q1, 4), high(h1, 2 * pair + 1));
      sum_q += scales[2 * pair] * dot32(lo0, lo1, y + 4 + 64 * pair) +
               scales[2 * pair + 1] * dot32(hi0, hi1, y + 36 + 64 * pair);
    }
    for (int j = 0; j < 8; ++j) sum_m += mins[j] * (bsum(y, 2 * j) + bsum(y, 2 * j + 1));
    const float dy = load_f32(y);
    sum += load_f16(x) * dy * float(sum_q) - load_f16(x + 2) * dy * float(sum_m);
  }
  return sum;
}

float dot_q6_k(const void* row, const void* partner, int64_t n) {
  const uint8_t* x = static_cast<const uint8_t*>(row);
  const uint8_t* y = static_cast<const uint8_t*>(partner);
  const v128_t mask = wasm_i8x16_splat(0x0f), two = wasm_i8x16_splat(3), offset = wasm_i8x16_splat(32);
  float sum = 0;
  for (int64_t i = 0; i < n / 256; ++i, x += 210, y += 292) {
    const int8_t* sc = reinterpret_cast<const int8_t*>(x + 192);
    int sumi = 0;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = x + 64 * half;
      const uint8_t* qh = x + 128 + 32 * half;
      for (int part = 0; part < 2; ++part) {  // values l = 16*part .. 16*part+15 of each 32
        const v128_t h = load(qh + 16 * part);
        const v128_t l0 = load(ql + 16 * part), l1 = load(ql + 32 + 16 * part);
        const v128_t lows[4] = {wasm_v128_and(l0, mask), wasm_v128_and(l1, mask), wasm_u8x16_shr(l0, 4),
                                wasm_u8x16_shr(l1, 4)};
        for (int k = 0; k < 4; ++k) {
          const v128_t q = wasm_i8x16_sub(
              wasm_v128_or(lows[k], wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(h, 2 * k), two), 4)), offset);
          const int s = hsum_i32(dot16_i8(q, load(y + 4 + 128 * half + 32 * k + 16 * part)));
          sumi += sc[8 * half + 2 * k + part] * s;
        }
      }
    }
    sum += load_f16(x + 208) * load_f32(y) * float(sumi);
  }
  return sum;
}

// ---------------------------------------------------------------------------
// Float dots
// ---------------------------------------------------------------------------

float dot_f32(const void* row, const void* partner, int64_t n) {
  const float* x = static_cast<const float*>(row);
  const float* y = static_cast<const float*>(partner);
  v128_t a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(wasm_v128_load(x + i), wasm_v128_load(y + i)));
    a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(wasm_v128_load(x + i + 4), wasm_v128_load(y + i + 4)));
    a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(wasm_v128_load(x + i + 8), wasm_v128_load(y + i + 8)));
    a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(wasm_v128_load(x + i + 12), wasm_v128_load(y + i + 12)));
  }
  float sum = hsum_f32(wasm_f32x4_add(wasm_f32x4_add(a0, a1), wasm_f32x4_add(a2, a3)));
  for (; i < n; ++i) sum += x[i] * y[i];
  return sum;
}

// 4 halves -> 4 floats, exactly (subnormals, inf and NaN included).
inline v128_t f16x4_to_f32(const uint8_t* p) {
  const v128_t h = wasm_u32x4_load16x4(p);
  const v128_t magnitude = wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x7fff)), 13);
  v128_t f = wasm_f32x4_mul(magnitude, wasm_f32x4_splat(0x1p112f));  // rebias, subnormals too
  const v128_t special = wasm_i32x4_ge(magnitude, wasm_i32x4_splat(0x7c00 << 13));
  f = wasm_v128_bitselect(wasm_v128_or(magnitude, wasm_i32x4_splat(0x7f800000)), f, special);
  return wasm_v128_or(f, wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x8000)), 16));
}

float dot_f16(const void* row, const void* partner, int64_t n) {
  const uint8_t* x = static_cast<const uint8_t*>(row);
  const uint8_t* y = static_cast<const uint8_t*>(partner);
  v128_t a0 = wasm_f32x4_splat(0), a1 = a0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(f16x4_to_f32(x + 2 * i), f16x4_to_f32(y + 2 * i)));
    a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(f16x4_to_f32(x + 2 * i + 8), f16x4_to_f32(y + 2 * i + 8)));
  }
  float sum = hsum_f32(wasm_f32x4_add(a0, a1));
  for (; i < n; ++i) sum += load_f16(x + 2 * i) * load_f16(y + 2 * i);
  return sum;
}

// F16 tiles: R rows x C tokens, each output the dot's own two accumulator chains, its
// horizontal sum and its tail, so every output has the dot's bits; each weight group of
// 4 halves is widened once for C tokens and each activation group once for R rows.
template <int R, int C>
void tile_f16(const uint8_t* rows, size_t row_bytes, const uint8_t* acts, size_t act_bytes, int64_t n, float* out,
              size_t out_stride) {
  v128_t a0[R][C], a1[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) a0[r][c] = a1[r][c] = wasm_f32x4_splat(0);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    v128_t x0[R], x1[R];
    for (int r = 0; r < R; ++r) {
      x0[r] = f16x4_to_f32(rows + size_t(r) * row_bytes + 2 * size_t(i));
      x1[r] = f16x4_to_f32(rows + size_t(r) * row_bytes + 2 * size_t(i) + 8);
    }
    for (int c = 0; c < C; ++c) {
      const v128_t y0 = f16x4_to_f32(acts + size_t(c) * act_bytes + 2 * size_t(i));
      const v128_t y1 = f16x4_to_f32(acts + size_t(c) * act_bytes + 2 * size_t(i) + 8);
      for (int r = 0; r < R; ++r) {
        a0[r][c] = wasm_f32x4_add(a0[r][c], wasm_f32x4_mul(x0[r], y0));
        a1[r][c] = wasm_f32x4_add(a1[r][c], wasm_f32x4_mul(x1[r], y1));
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      const uint8_t* x = rows + size_t(r) * row_bytes;
      const uint8_t* y = acts + size_t(c) * act_bytes;
      float sum = hsum_f32(wasm_f32x4_add(a0[r][c], a1[r][c]));
      for (int64_t k = i; k < n; ++k) sum += load_f16(x + 2 * k) * load_f16(y + 2 * k);
      out[size_t(c) * out_stride + size_t(r)] = sum;
    }
}

float dot_bf16(const void* row, const void* partner, int64_t n) {
  const uint8_t* x = static_cast<const uint8_t*>(row);
  const uint8_t* y = static_cast<const uint8_t*>(partner);
  v128_t a0 = wasm_f32x4_splat(0), a1 = a0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(wasm_i32x4_shl(wasm_u32x4_load16x4(x + 2 * i), 16),
                                           wasm_i32x4_shl(wasm_u32x4_load16x4(y + 2 * i), 16)));
    a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(wasm_i32x4_shl(wasm_u32x4_load16x4(x + 2 * i + 8), 16),
                                           wasm_i32x4_shl(wasm_u32x4_load16x4(y + 2 * i + 8), 16)));
  }
  float sum = hsum_f32(wasm_f32x4_add(a0, a1));
  for (; i < n; ++i) {
    uint16_t a, b;
    std::memcpy(&a, x + 2 * i, 2);
    std::memcpy(&b, y + 2 * i, 2);
    sum += bf16_to_f32(a) * bf16_to_f32(b);
  }
  return sum;
}

// ---------------------------------------------------------------------------
// Activation quantizers (the reference's bytes: nearest-even, NaN -> 0, clamped)
// ---------------------------------------------------------------------------

inline float abs_max32(const float* x) {
  v128_t m = wasm_f32x4_splat(0);
  for (int k = 0; k < 8; ++k) m = wasm_f32x4_pmax(m, wasm_f32x4_abs(wasm_v128_load(x + 4 * k)));  // skips NaN
  const float a = wasm_f32x4_extract_lane(m, 0), b = wasm_f32x4_extract_lane(m, 1);
  const float c = wasm_f32x4_extract_lane(m, 2), d = wasm_f32x4_extract_lane(m, 3);
  const float ab = a > b ? a : b, cd = c > d ? c : d;
  return ab > cd ? ab : cd;
}

// 32 values times id -> 32 bytes; returns the sum of the levels.
inline int quantize_block32(const float* x, float id, uint8_t* qs) {
  const v128_t mul = wasm_f32x4_splat(id), lo = wasm_f32x4_splat(-127.0f), hi = wasm_f32x4_splat(127.0f);
  v128_t sum = wasm_i32x4_splat(0);
  for (int k = 0; k < 2; ++k) {
    v128_t q[4];
    for (int j = 0; j < 4; ++j) {
      v128_t v = wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(x + 16 * k + 4 * j), mul));
      v = wasm_f32x4_pmin(wasm_f32x4_pmax(v, lo), hi);  // NaN passes, then truncates to 0
      q[j] = wasm_i32x4_trunc_sat_f32x4(v);
      sum = wasm_i32x4_add(sum, q[j]);
    }
    const v128_t bytes = wasm_i8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(q[0], q[1]), wasm_i16x8_narrow_i32x4(q[2], q[3]));
    wasm_v128_store(qs + 16 * k, bytes);
  }
  return hsum_i32(sum);
}
inline void store_f16(uint8_t* p, float v) {
  const uint16_t h = f32_to_f16(v);
  std::memcpy(p, &h, 2);
}

void quantize_q8_0(const float* in, void* out, int64_t n) {
  uint8_t* b = static_cast<uint8_t*>(out);
  for (int64_t i = 0; i < n / 32; ++i, in += 32, b += 34) {
    const float d = abs_max32(in) / 127.0f;
    quantize_block32(in, d != 0.0f ? 1.0f / d : 0.0f, b + 2);
    store_f16(b, d);
  }
}

void quantize_q8_1(const float* in, void* out, int64_t n) {
  uint8_t* b = static_cast<uint8_t*>(out);
  for (int64_t i = 0; i < n / 32; ++i, in += 32, b += 36) {
    const float d = abs_max32(in) / 127.0f;
    const int sum = quantize_block32(in, d != 0.0f ? 1.0f / d : 0.0f, b + 4);
    store_f16(b, d);
    store_f16(b + 2, float(sum) * d);
  }
}

#include "kernels/wasm_packed.inc"
#include "kernels/wasm_vector.inc"

}  // namespace

void install_simd128_kernels(KernelTable& table) {
  constexpr KernelIsa isa = KernelIsa::Simd128;
  // Row-major: the dot and activation quantizer; tiles of rows x tokens for prompts and
  // of rows x 1 token for generation (each output with the dot's bits).
  auto set = [&](TensorType type, DotFn dot, FromFloatFn quantize, DotTileFn tile = nullptr, int tile_rows = 0,
                 int tile_cols = 0, DotTileFn tile1 = nullptr, int tile1_rows = 0) {
    TypeKernels& k = table.by_id[uint32_t(type)];
    k.dot = dot;
    if (quantize) k.quantize = quantize;
    k.dot_isa = isa;
    k.tile = tile;
    k.tile_rows = tile_rows;
    k.tile_cols = tile_cols;
    k.tile1 = tile1;
    k.tile1_rows = tile1_rows;
  };
  set(TensorType::F32, dot_f32, nullptr);
  set(TensorType::F16, dot_f16, nullptr, tile_f16<2, 2>, 2, 2, tile_f16<4, 1>, 4);
  set(TensorType::BF16, dot_bf16, nullptr);
  set(TensorType::Q8_0, dot_q8_0, quantize_q8_0, tile_q8_0_partner<Q8_0Levels, 2, 4>, 2, 4,
      tile_q8_0_partner<Q8_0Levels, 4, 1>, 4);
  set(TensorType::Q4_0, dot_q4_0, quantize_q8_0, tile_q8_0_partner<Q4_0Levels, 2, 4>, 2, 4,
      tile_q8_0_partner<Q4_0Levels, 4, 1>, 4);
  set(TensorType::Q5_0, dot_q5_0, quantize_q8_0, tile_q8_0_partner<Q5_0Levels, 2, 4>, 2, 4,
      tile_q8_0_partner<Q5_0Levels, 4, 1>, 4);
  set(TensorType::Q4_1, dot_q4_1, quantize_q8_1);
  set(TensorType::Q5_1, dot_q5_1, quantize_q8_1);
  set(TensorType::Q4_K, dot_q4_k, nullptr);
  set(TensorType::Q5_K, dot_q5_k, nullptr);
  set(TensorType::Q6_K, dot_q6_k, nullptr);

  // Packed weights (kernels/packed.h): partner writer, tile, and the dot for rows after
  // the last whole group (null: the scalar one stays).
  auto set_packed = [&](TensorType type, PackedQuantizeFn quantize, PackedTileFn tile, PackedTailDotFn tail_dot) {
    TypeKernels& k = table.by_id[uint32_t(type)];
    if (quantize) k.packed_quantize = quantize;
    k.packed_tile = tile;
    if (tail_dot) k.packed_tail_dot = tail_dot;
    k.packed_isa = isa;
  };
  set_packed(TensorType::Q8_0, quantize_q8_packed_partner<128>, packed_q8_tile<PackedQ8_0>,
             packed_q8_tail_dot<Q8_0Levels>);
  set_packed(TensorType::Q4_0, quantize_q8_packed_partner<8>, packed_q8_tile<PackedQ4_0>,
             packed_q8_tail_dot<Q4_0Levels>);
  set_packed(TensorType::Q5_0, quantize_q8_packed_partner<16>, packed_q8_tile<PackedQ5_0>,
             packed_q8_tail_dot<Q5_0Levels>);
  set_packed(TensorType::Q4_1, nullptr, packed_q8_tile<PackedQ4_1>, nullptr);  // the scalar partner and tail:
  set_packed(TensorType::Q5_1, nullptr, packed_q8_tile<PackedQ5_1>, nullptr);  // the reference's chain, as here
  set_packed(TensorType::Q4_K, nullptr, packed_k_tile<PackedQ4_K>, nullptr);
  set_packed(TensorType::Q5_K, nullptr, packed_k_tile<PackedQ5_K>, nullptr);
  set_packed(TensorType::Q6_K, nullptr, packed_k_tile<PackedQ6_K>, nullptr);
  set_packed(TensorType::F32, quantize_f32_packed_partner, packed_float_tile<PackedF32>, nullptr);
  set_packed(TensorType::F16, quantize_f16_packed_partner, packed_float_tile<PackedF16>, nullptr);
  set_packed(TensorType::BF16, quantize_bf16_packed_partner, packed_float_tile<PackedBF16>, nullptr);

  table.vector.dot = vector_dot;
  table.vector.axpy = vector_axpy;
  table.vector.dots = vector_dots;
  table.vector.axpys = vector_axpys;
  table.vector.exp_shifted = vector_exp_shifted;
  table.vector.swiglu = vector_swiglu;
  table.vector.isa = isa;
}

}  // namespace loupe
#endif
