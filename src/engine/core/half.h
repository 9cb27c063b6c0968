// IEEE half (f16) and bfloat16 <-> float conversions, exact and portable (no intrinsics),
// so native and wasm builds round identically.
#pragma once
#include <cstdint>
#include <cstring>

namespace loupe {

inline float f32_from_bits(uint32_t bits) { float f; std::memcpy(&f, &bits, 4); return f; }
inline uint32_t bits_from_f32(float f) { uint32_t bits; std::memcpy(&bits, &f, 4); return bits; }

inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  const uint32_t exponent = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ff;
  if (exponent == 0x1f) return f32_from_bits(sign | 0x7f800000 | (mantissa << 13));  // inf/nan
  if (exponent == 0) {
    if (mantissa == 0) return f32_from_bits(sign);
    // Subnormal: value = mantissa * 2^-24.
    float value = float(mantissa) * (1.0f / 16777216.0f);
    return sign ? -value : value;
  }
  return f32_from_bits(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

// Round to nearest, ties to even, as hardware conversion does.
inline uint16_t f32_to_f16(float f) {
  const uint32_t x = bits_from_f32(f);
  const uint32_t sign = (x >> 16) & 0x8000;
  const uint32_t abs = x & 0x7fffffff;
  if (abs >= 0x7f800000) return uint16_t(sign | 0x7c00 | (abs > 0x7f800000 ? 0x200 : 0));
  if (abs >= 0x477ff000) return uint16_t(sign | 0x7c00);  // overflows to inf after rounding
  if (abs < 0x38800000) {                                  // result is subnormal or zero
    // Add 0.5 (as a float) to shift the mantissa into place; the FPU rounds to even.
    float shifted = f32_from_bits(abs) + 0.5f;
    return uint16_t(sign | (bits_from_f32(shifted) - bits_from_f32(0.5f)));
  }
  uint32_t mantissa_odd = (abs >> 13) & 1;
  uint32_t rounded = abs + 0xc8000fffu + mantissa_odd;  // rebias exponent (-112<<23) + round
  return uint16_t(sign | (rounded >> 13));
}

inline float bf16_to_f32(uint16_t b) { return f32_from_bits(uint32_t(b) << 16); }

inline uint16_t f32_to_bf16(float f) {
  uint32_t x = bits_from_f32(f);
  if ((x & 0x7fffffff) > 0x7f800000) return uint16_t((x >> 16) | 0x40);  // keep NaN a NaN
  x += 0x7fff + ((x >> 16) & 1);
  return uint16_t(x >> 16);
}

}  // namespace loupe
