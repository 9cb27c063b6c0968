// Tests of the tensor type table: block sizes, f16/bf16 conversions, quantize ->
// dequantize error per type, and the quantized dot products against float dots.
#include "core/tensor_types.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/error.h"
#include "core/half.h"

namespace loupe {
namespace {

std::vector<float> random_normal(int64_t n, uint32_t seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<uint8_t> quantize(TensorType type, const std::vector<float>& x) {
  std::vector<uint8_t> bytes(row_bytes(type, int64_t(x.size())));
  type_info(type).from_float(x.data(), bytes.data(), int64_t(x.size()));
  return bytes;
}

std::vector<float> dequantize(TensorType type, const std::vector<uint8_t>& bytes, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  type_info(type).to_float(bytes.data(), out.data(), n);
  return out;
}

// Root-mean-square error relative to the root-mean-square of x.
double relative_rmse(const std::vector<float>& x, const std::vector<float>& y) {
  double err = 0, ref = 0;
  for (size_t i = 0; i < x.size(); i++) {
    err += double(x[i] - y[i]) * (x[i] - y[i]);
    ref += double(x[i]) * x[i];
  }
  return std::sqrt(err / ref);
}

TEST(TensorTypeTable, LayoutsMatchGgml) {
  struct Expected { TensorType type; int block; size_t bytes; TensorType partner; };
  const Expected expected[] = {
    {TensorType::F32, 1, 4, TensorType::F32},      {TensorType::F16, 1, 2, TensorType::F16},
    {TensorType::BF16, 1, 2, TensorType::BF16},    {TensorType::Q4_0, 32, 18, TensorType::Q8_0},
    {TensorType::Q4_1, 32, 20, TensorType::Q8_1},  {TensorType::Q5_0, 32, 22, TensorType::Q8_0},
    {TensorType::Q5_1, 32, 24, TensorType::Q8_1},  {TensorType::Q8_0, 32, 34, TensorType::Q8_0},
    {TensorType::Q8_1, 32, 36, TensorType::Q8_1},  {TensorType::Q4_K, 256, 144, TensorType::Q8_K},
    {TensorType::Q5_K, 256, 176, TensorType::Q8_K}, {TensorType::Q6_K, 256, 210, TensorType::Q8_K},
    {TensorType::Q8_K, 256, 292, TensorType::Q8_K},
  };
  EXPECT_EQ(all_type_infos().size(), std::size(expected));
  for (const Expected& e : expected) {
    const TensorTypeInfo& info = type_info(e.type);
    SCOPED_TRACE(info.name);
    EXPECT_EQ(info.block_size, e.block);
    EXPECT_EQ(info.block_bytes, e.bytes);
    EXPECT_EQ(info.dot_partner, e.partner);
    EXPECT_EQ(info.quantized, e.block > 1);
    EXPECT_NE(info.to_float, nullptr);
    EXPECT_NE(info.from_float, nullptr);
    EXPECT_NE(info.dot, nullptr);
    EXPECT_EQ(find_type_info(uint32_t(e.type)), &info);
    EXPECT_EQ(find_type_info(std::string_view(info.name)), &info);
  }
}

TEST(TensorTypeTable, LookUps) {
  EXPECT_EQ(find_type_info(uint32_t(10)), nullptr);  // q2_K: not supported
  EXPECT_EQ(find_type_info(uint32_t(1000)), nullptr);
  EXPECT_EQ(find_type_info("Q4_k"), &type_info(TensorType::Q4_K));
  EXPECT_EQ(find_type_info("BF16"), &type_info(TensorType::BF16));
  EXPECT_EQ(find_type_info("q3_k"), nullptr);
  EXPECT_THROW(type_info(TensorType(10)), Error);
  EXPECT_EQ(row_bytes(TensorType::Q4_0, 64), 36u);
  EXPECT_EQ(row_bytes(TensorType::Q6_K, 512), 420u);
  EXPECT_EQ(row_bytes(TensorType::F16, 3), 6u);
  EXPECT_THROW(row_bytes(TensorType::Q4_0, 33), Error);
}

// ---------------------------------------------------------------------------
// f16 and bf16
// ---------------------------------------------------------------------------

TEST(Half, AllF16RoundTripExactly) {
  for (uint32_t h = 0; h < 65536; h++) {
    float f = f16_to_f32(uint16_t(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(f)))) << h;
      continue;
    }
    ASSERT_EQ(f32_to_f16(f), h) << "half 0x" << std::hex << h;
  }
}

TEST(Half, F16KnownValues) {
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(f16_to_f32(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_TRUE(std::isinf(f16_to_f32(0x7c00)));
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);   // rounds up to infinity
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(1e-10f), 0x0000);
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
}

// Every value exactly halfway between two neighbouring halves rounds to the even one, and
// a hair above/below goes to the nearer one.
TEST(Half, F16TiesToEven) {
  for (uint32_t h = 0; h < 0x7bff; h++) {
    float lo = f16_to_f32(uint16_t(h)), hi = f16_to_f32(uint16_t(h + 1));
    float mid = lo + (hi - lo) / 2;  // exact in float: halves have 11-bit mantissas
    uint16_t even = (h % 2 == 0) ? uint16_t(h) : uint16_t(h + 1);
    ASSERT_EQ(f32_to_f16(mid), even) << "between 0x" << std::hex << h << " and its successor";
    ASSERT_EQ(f32_to_f16(-mid), even | 0x8000);
    ASSERT_EQ(f32_to_f16(std::nextafter(mid, 0.0f)), h);
    ASSERT_EQ(f32_to_f16(std::nextafter(mid, 1e9f)), h + 1);
  }
}

TEST(Half, AllBf16RoundTripExactly) {
  for (uint32_t b = 0; b < 65536; b++) {
    float f = bf16_to_f32(uint16_t(b));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(f))));
      continue;
    }
    ASSERT_EQ(f32_to_bf16(f), b) << "bf16 0x" << std::hex << b;
  }
}

TEST(Half, Bf16TiesToEven) {
  EXPECT_EQ(f32_to_bf16(f32_from_bits(0x3f808000)), 0x3f80);  // tie, even below
  EXPECT_EQ(f32_to_bf16(f32_from_bits(0x3f818000)), 0x3f82);  // tie, even above
  EXPECT_EQ(f32_to_bf16(f32_from_bits(0x3f808001)), 0x3f81);
  EXPECT_EQ(f32_to_bf16(f32_from_bits(0x3f807fff)), 0x3f80);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(f32_from_bits(0x7f800001)))));  // NaN stays NaN
}

// ---------------------------------------------------------------------------
// Quantize -> dequantize
// ---------------------------------------------------------------------------

// Relative RMS error on N(0,1) data; ggml's reference quantizers reach roughly these.
double error_bound(TensorType type) {
  switch (type) {
    case TensorType::F32: return 0.0;
    case TensorType::F16: return 1e-3;
    case TensorType::BF16: return 5e-3;
    case TensorType::Q8_0: case TensorType::Q8_1: case TensorType::Q8_K: return 0.008;
    case TensorType::Q6_K: return 0.022;
    case TensorType::Q5_0: case TensorType::Q5_1: case TensorType::Q5_K: return 0.05;
    default: return 0.1;  // 4-bit types
  }
}

TEST(TensorTypeQuantize, RoundTripErrorPerType) {
  const int64_t n = 256 * 16;
  std::vector<float> x = random_normal(n, 42);
  for (const TensorTypeInfo& info : all_type_infos()) {
    SCOPED_TRACE(info.name);
    std::vector<float> y = dequantize(info.type, quantize(info.type, x), n);
    double e = relative_rmse(x, y);
    EXPECT_LE(e, error_bound(info.type));
    std::printf("  %-5s relative RMS error %.5f\n", info.name, e);
  }
}

// The K-quants must do better than the legacy quants of the same width, as in ggml.
TEST(TensorTypeQuantize, KQuantsBeatLegacyQuants) {
  const int64_t n = 256 * 32;
  std::vector<float> x = random_normal(n, 7);
  auto err = [&](TensorType t) { return relative_rmse(x, dequantize(t, quantize(t, x), n)); };
  EXPECT_LT(err(TensorType::Q4_K), err(TensorType::Q4_0));
  EXPECT_LT(err(TensorType::Q5_K), err(TensorType::Q5_0));
  EXPECT_LT(err(TensorType::Q6_K), err(TensorType::Q5_K));
}

TEST(TensorTypeQuantize, ZerosAndConstantsStayExact) {
  for (const TensorTypeInfo& info : all_type_infos()) {
    SCOPED_TRACE(info.name);
    const int64_t n = 256;
    std::vector<float> zeros(n, 0.0f);
    std::vector<float> y = dequantize(info.type, quantize(info.type, zeros), n);
    for (float v : y) ASSERT_EQ(v, 0.0f);
    std::vector<float> ones(n, 1.0f);
    y = dequantize(info.type, quantize(info.type, ones), n);
    for (float v : y) ASSERT_NEAR(v, 1.0f, 0.01f);
  }
}

// Non-finite input must not crash or hit undefined behaviour (UBSan watches this).
TEST(TensorTypeQuantize, NonFiniteInputIsHandled) {
  std::vector<float> x = random_normal(256, 3);
  x[5] = INFINITY;
  x[77] = NAN;
  x[200] = -INFINITY;
  for (const TensorTypeInfo& info : all_type_infos()) {
    std::vector<float> y = dequantize(info.type, quantize(info.type, x), 256);
    EXPECT_EQ(y.size(), 256u);
  }
}

// Activation quantization rounds half to even, as llama.cpp's does.
TEST(TensorTypeQuantize, Q8RoundsHalfToEven) {
  // amax 127 gives d = 1, so q = round(x) exactly.
  std::vector<float> x(256, 0.0f);
  x[0] = 127.0f;
  x[1] = 2.5f; x[2] = 3.5f; x[3] = -2.5f; x[4] = 0.5f; x[5] = 1.5f; x[6] = -0.5f;
  for (TensorType t : {TensorType::Q8_0, TensorType::Q8_1}) {
    std::vector<uint8_t> b = quantize(t, x);
    size_t qs = t == TensorType::Q8_0 ? 2 : 4;
    const int8_t* q = reinterpret_cast<const int8_t*>(b.data() + qs);
    EXPECT_EQ(q[0], 127);
    EXPECT_EQ(q[1], 2);
    EXPECT_EQ(q[2], 4);
    EXPECT_EQ(q[3], -2);
    EXPECT_EQ(q[4], 0);
    EXPECT_EQ(q[5], 2);
    EXPECT_EQ(q[6], 0);
  }
  // Q8_K: the value of largest magnitude maps to -127; use a negative max so scale is +1.
  x[0] = -127.0f;
  std::vector<uint8_t> b = quantize(TensorType::Q8_K, x);
  float d; std::memcpy(&d, b.data(), 4);
  EXPECT_EQ(d, 1.0f);
  const int8_t* q = reinterpret_cast<const int8_t*>(b.data() + 4);
  EXPECT_EQ(q[0], -127);
  EXPECT_EQ(q[1], 2);
  EXPECT_EQ(q[2], 4);
  EXPECT_EQ(q[5], 2);
  // bsums: the sum of each 16 q's.
  int16_t bsum0; std::memcpy(&bsum0, b.data() + 4 + 256, 2);
  EXPECT_EQ(bsum0, -127 + 2 + 4 - 2 + 0 + 2 + 0);
}

// Q8_0 by hand: d = amax/127 as f16, q = round(x * (1/d)).
TEST(TensorTypeQuantize, Q8_0MatchesDefinition) {
  std::vector<float> x = random_normal(32 * 8, 11);
  std::vector<uint8_t> b = quantize(TensorType::Q8_0, x);
  for (int blk = 0; blk < 8; blk++) {
    float amax = 0;
    for (int j = 0; j < 32; j++) amax = std::max(amax, std::fabs(x[blk * 32 + j]));
    float d = amax / 127.0f, id = 1.0f / d;
    uint16_t stored; std::memcpy(&stored, b.data() + blk * 34, 2);
    EXPECT_EQ(stored, f32_to_f16(d));
    for (int j = 0; j < 32; j++) {
      EXPECT_EQ(int8_t(b[size_t(blk * 34 + 2 + j)]), int(std::nearbyint(x[blk * 32 + j] * id)));
    }
  }
}

// ---------------------------------------------------------------------------
// Dot products
// ---------------------------------------------------------------------------

TEST(TensorTypeDot, MatchesDequantizedFloatDot) {
  for (int64_t n : {256, 512, 256 * 5}) {
    std::vector<float> w = random_normal(n, uint32_t(100 + n));
    std::vector<float> a = random_normal(n, uint32_t(200 + n));
    for (const TensorTypeInfo& info : all_type_infos()) {
      SCOPED_TRACE(std::string(info.name) + " n=" + std::to_string(n));
      std::vector<uint8_t> row = quantize(info.type, w);
      std::vector<uint8_t> partner = quantize(info.dot_partner, a);
      std::vector<float> w_deq = dequantize(info.type, row, n);
      std::vector<float> a_deq = dequantize(info.dot_partner, partner, n);
      // Exactly what the integer dot computes, up to float summation order.
      double expected = 0, scale = 0;
      for (int64_t i = 0; i < n; i++) {
        expected += double(w_deq[size_t(i)]) * a_deq[size_t(i)];
        scale += std::fabs(double(w_deq[size_t(i)]) * a_deq[size_t(i)]);
      }
      // Q8_1 keeps d*sum(q) as f16 (as ggml does), so the offset term of Q4_1/Q5_1 carries
      // a relative rounding error of up to 2^-11 per block.
      double tolerance = 1e-5 * scale + 1e-6;
      if (info.dot_partner == TensorType::Q8_1) {
        for (int64_t i = 0; i < n; i++) tolerance += 1e-3 * std::fabs(double(a_deq[size_t(i)]) * w_deq[size_t(i)]);
        tolerance += 1e-3 * scale;
      }
      float got = info.dot(row.data(), partner.data(), n);
      EXPECT_NEAR(got, expected, tolerance);
      // And close to the exact float dot of the unquantized data.
      double exact = 0;
      for (int64_t i = 0; i < n; i++) exact += double(w[size_t(i)]) * a[size_t(i)];
      // (Error ~ sqrt(n) * per-value relative error; allow four standard deviations.)
      EXPECT_NEAR(got, exact, 4.0 * std::sqrt(double(n)) * (error_bound(info.type) + 0.01));
    }
  }
}

}  // namespace
}  // namespace loupe
