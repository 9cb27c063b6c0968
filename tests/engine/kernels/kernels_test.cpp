// The fast kernels against the scalar reference of the tensor type table: every type,
// every instruction set this CPU (or wasm build) has, random blocks of many sizes,
// including odd lengths for the float types. Activation quantizers must write the very
// same bytes as the reference; dots must agree to float rounding.
#include "kernels/dispatch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/half.h"
#include "core/tensor_types.h"

#include "test_support.h"

namespace loupe {
namespace {

// Random values with a spread of magnitudes per block, a few outliers and exact zeros,
// so every quantization level and the clamps are reached.
std::vector<float> random_values(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  float scale = 1.0f;
  for (int64_t i = 0; i < n; ++i) {
    if (i % 32 == 0) scale = std::exp(4.0f * (uniform(rng) - 0.5f));
    const float u = uniform(rng);
    v[size_t(i)] = u < 0.02f ? 0.0f : u < 0.04f ? 8.0f * scale * normal(rng) : scale * normal(rng);
  }
  return v;
}

std::vector<uint8_t> reference_quantize(TensorType type, const std::vector<float>& x) {
  std::vector<uint8_t> bytes(row_bytes(type, int64_t(x.size())));
  type_info(type).from_float(x.data(), bytes.data(), int64_t(x.size()));
  return bytes;
}

// Sum of |w_i * a_i|: the scale of rounding error in a dot product.
double abs_dot(TensorType weight_type, const std::vector<uint8_t>& w, TensorType partner_type,
               const std::vector<uint8_t>& a, int64_t n) {
  std::vector<float> wf(static_cast<size_t>(n)), af(static_cast<size_t>(n));
  type_info(weight_type).to_float(w.data(), wf.data(), n);
  type_info(partner_type).to_float(a.data(), af.data(), n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::fabs(double(wf[size_t(i)]) * af[size_t(i)]);
  return sum;
}

std::vector<KernelIsa> fast_isas() {
  std::vector<KernelIsa> isas;
  for (KernelIsa isa : {KernelIsa::Avx2, KernelIsa::Avx512, KernelIsa::Simd128})
    if (kernel_isa_supported(isa)) isas.push_back(isa);
  return isas;
}

using KernelTest = test::KernelSettingsTest;

const TensorType kWeightTypes[] = {TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q8_0,
                                   TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1,
                                   TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K};

std::vector<int64_t> test_lengths(TensorType type) {
  const int block = type_info(type).block_size;
  if (block == 1) return {1, 2, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 576, 1000, 1536};
  std::vector<int64_t> lengths;
  for (int blocks : {1, 2, 3, 4, 5, 7, 8, 9, 17, 18, 48}) lengths.push_back(int64_t(blocks) * block);
  return lengths;
}

TEST_F(KernelTest, ReportsAnIsa) {
  std::printf("  kernels: %s (best here)\n", kernel_isa_name(kernel_isa()));
  EXPECT_TRUE(kernel_isa_supported(KernelIsa::Scalar));
  EXPECT_TRUE(set_kernel_isa(KernelIsa::Scalar));
  EXPECT_EQ(kernel_isa(), KernelIsa::Scalar);
  for (const TensorTypeInfo& info : all_type_infos()) {
    EXPECT_EQ(type_kernels(info.type).dot, info.dot) << info.name;
    EXPECT_EQ(type_kernels(info.type).partner, info.dot_partner) << info.name;
  }
}

TEST_F(KernelTest, QuantizersWriteTheReferenceBytes) {
  for (KernelIsa isa : fast_isas()) {
    ASSERT_TRUE(set_kernel_isa(isa));
    for (TensorType type : kWeightTypes) {
      const TypeKernels& k = type_kernels(type);
      const TensorTypeInfo& partner = type_info(k.partner);
      if (k.partner == TensorType::F32) continue;
      uint32_t seed = 1;
      for (int64_t n : test_lengths(type)) {
        std::vector<float> x = random_values(n, seed++);
        if (n > 40) x[37] = std::nanf("");  // hostile activations stay defined and equal
        std::vector<uint8_t> expected = reference_quantize(k.partner, x);
        std::vector<uint8_t> got(expected.size(), 0xcd);
        k.quantize(x.data(), got.data(), n);
        EXPECT_EQ(got, expected) << kernel_isa_name(isa) << " " << partner.name << " n=" << n;
      }
      // All zeros, and one huge value among tiny ones.
      const int64_t n = 2048;
      std::vector<float> zeros(size_t(n), 0.0f);
      std::vector<uint8_t> expected = reference_quantize(k.partner, zeros), got(expected.size());
      k.quantize(zeros.data(), got.data(), n);
      EXPECT_EQ(got, expected) << kernel_isa_name(isa) << " " << partner.name << " zeros";
      std::vector<float> spiky = random_values(n, 99);
      for (float& v : spiky) v *= 1e-30f;
      spiky[3] = -1e30f;
      expected = reference_quantize(k.partner, spiky);
      k.quantize(spiky.data(), got.data(), n);
      EXPECT_EQ(got, expected) << kernel_isa_name(isa) << " " << partner.name << " spiky";
    }
  }
}

TEST_F(KernelTest, DotsMatchTheScalarReference) {
  for (KernelIsa isa : fast_isas()) {
    ASSERT_TRUE(set_kernel_isa(isa));
    for (TensorType type : kWeightTypes) {
      const TensorTypeInfo& info = type_info(type);
      const TypeKernels& k = type_kernels(type);
      uint32_t seed = 1000;
      for (int64_t n : test_lengths(type)) {
        const std::vector<uint8_t> w = reference_quantize(type, random_values(n, seed++));
        const std::vector<uint8_t> a = reference_quantize(k.partner, random_values(n, seed++));
        const double expected = info.dot(w.data(), a.data(), n);
        const double got = k.dot(w.data(), a.data(), n);
        const double scale = abs_dot(type, w, k.partner, a, n);
        EXPECT_NEAR(got, expected, 2e-5 * scale + 1e-30)
            << kernel_isa_name(isa) << " " << info.name << " n=" << n << " (sum |terms| " << scale << ")";
      }
    }
  }
}

void check_tile(KernelIsa isa, TensorType type, DotTileFn tile, int rows, int cols) {
  const TypeKernels& k = type_kernels(type);
  for (int64_t n : test_lengths(type)) {
    const size_t wb = row_bytes(type, n), ab = row_bytes(k.partner, n) + 3;  // odd strides on purpose
    std::vector<uint8_t> w(wb * size_t(rows)), a(ab * size_t(cols));
    for (int r = 0; r < rows; ++r) {
      std::vector<uint8_t> row = reference_quantize(type, random_values(n, uint32_t(10 + r)));
      std::copy(row.begin(), row.end(), w.begin() + std::ptrdiff_t(wb * size_t(r)));
    }
    for (int c = 0; c < cols; ++c) {
      std::vector<uint8_t> act = reference_quantize(k.partner, random_values(n, uint32_t(50 + c)));
      std::copy(act.begin(), act.end(), a.begin() + std::ptrdiff_t(ab * size_t(c)));
    }
    const size_t stride = size_t(rows) + 5;
    std::vector<float> out(stride * size_t(cols), -1.0f);
    tile(w.data(), wb, a.data(), ab, n, out.data(), stride);
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c) {
        const float got = out[size_t(c) * stride + size_t(r)];
        const double expected = type_info(type).dot(w.data() + wb * size_t(r), a.data() + ab * size_t(c), n);
        EXPECT_NEAR(got, expected, 1e-4 * (1 + std::fabs(expected)))
            << kernel_isa_name(isa) << " " << type_info(type).name << " n=" << n << " r=" << r << " c=" << c;
        // Bit for bit the fast dot: a prompt read in tiles matches token-by-token reading.
        EXPECT_EQ(got, k.dot(w.data() + wb * size_t(r), a.data() + ab * size_t(c), n))
            << kernel_isa_name(isa) << " " << type_info(type).name << " n=" << n << " r=" << r << " c=" << c;
      }
  }
}

TEST_F(KernelTest, TilesMatchTheirDotsBitForBit) {
  for (KernelIsa isa : fast_isas()) {
    ASSERT_TRUE(set_kernel_isa(isa));
    for (TensorType type : kWeightTypes) {
      const TypeKernels& k = type_kernels(type);
      if (k.tile) check_tile(isa, type, k.tile, k.tile_rows, k.tile_cols);
      if (k.tile1) check_tile(isa, type, k.tile1, k.tile1_rows, 1);
    }
  }
}

// Random bytes as blocks (every bit pattern of the levels), with sane scale fields.
TEST_F(KernelTest, DotsMatchOnRandomBlockBytes) {
  struct Scales { TensorType type; std::vector<int> f16_offsets; };
  const Scales layouts[] = {
      {TensorType::Q8_0, {0}}, {TensorType::Q4_0, {0}}, {TensorType::Q4_1, {0, 2}}, {TensorType::Q5_0, {0}},
      {TensorType::Q5_1, {0, 2}}, {TensorType::Q4_K, {0, 2}}, {TensorType::Q5_K, {0, 2}}, {TensorType::Q6_K, {208}},
  };
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> unit(0.01f, 1.0f);
  for (KernelIsa isa : fast_isas()) {
    ASSERT_TRUE(set_kernel_isa(isa));
    for (const Scales& layout : layouts) {
      const TensorTypeInfo& info = type_info(layout.type);
      const TypeKernels& k = type_kernels(layout.type);
      for (int blocks : {1, 3, 6}) {
        const int64_t n = int64_t(blocks) * info.block_size;
        std::vector<uint8_t> w(row_bytes(layout.type, n));
        for (uint8_t& b : w) b = uint8_t(byte(rng));
        for (int i = 0; i < blocks; ++i) {
          for (int offset : layout.f16_offsets) {
            const uint16_t h = f32_to_f16(unit(rng));
            std::memcpy(w.data() + size_t(i) * info.block_bytes + size_t(offset), &h, 2);
          }
        }
        const std::vector<uint8_t> a = reference_quantize(k.partner, random_values(n, uint32_t(blocks)));
        const double expected = info.dot(w.data(), a.data(), n);
        const double got = k.dot(w.data(), a.data(), n);
        const double scale = abs_dot(layout.type, w, k.partner, a, n);
        EXPECT_NEAR(got, expected, 2e-5 * scale + 1e-30) << kernel_isa_name(isa) << " " << info.name << " blocks=" << blocks;
      }
    }
  }
}

}  // namespace
}  // namespace loupe
