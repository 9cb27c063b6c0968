// Packed weights (kernels/packed.h) and the f32 vector kernels: packing is undone exactly;
// the scalar packed kernels give the scalar reference dot's bits; every instruction set's
// packed kernels give its own row-major dot's bits (Q8_0 and Q8_1 families) or agree
// within float rounding (float types); results do not depend on how many tokens or
// threads share a product; the vector kernels agree with their plain versions.
#include "kernels/packed.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "core/tensor_types.h"
#include "kernels/dispatch.h"
#include "kernels/matmul.h"
#include "kernels/thread_pool.h"

#include "test_support.h"

namespace loupe {
namespace {

const TensorType kPackedTypes[] = {TensorType::Q8_0, TensorType::Q4_0, TensorType::Q5_0, TensorType::Q4_1,
                                   TensorType::Q5_1, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K,
                                   TensorType::F32,  TensorType::F16,  TensorType::BF16};

using test::random_normal;

// A rows x cols matrix of `type`: row-major (`view`) and a packed copy (`packed`, when
// the type has a packed layout).
struct Matrix {
  test::RandomMatrix source;
  std::vector<uint8_t>& row_major = source.bytes;
  TensorView& view = source.view;
  std::vector<uint8_t> packed_bytes;
  TensorView packed;
  Matrix(TensorType type, int64_t cols, int64_t rows, uint32_t seed)
      : source(type, cols, rows, seed), packed_bytes(source.bytes), packed(source.view) {
    packed.data = packed_bytes.data();
    if (can_pack(packed)) pack_in_place(packed, packed_bytes.data());
  }
};

std::vector<KernelIsa> supported_isas() {
  std::vector<KernelIsa> isas;
  for (KernelIsa isa : {KernelIsa::Scalar, KernelIsa::Avx2, KernelIsa::Avx512, KernelIsa::Simd128})
    if (kernel_isa_supported(isa)) isas.push_back(isa);
  return isas;
}

using PackedTest = test::KernelSettingsTest;

int64_t cols_for(TensorType type) {
  const int block = type_info(type).block_size;
  return block == 1 ? 77 : block == 256 ? 512 : 96;
}

TEST_F(PackedTest, PackingIsUndoneExactly) {
  for (TensorType type : kPackedTypes) {
    Matrix m(type, cols_for(type), 37, 1);  // two groups and 5 rows after them
    EXPECT_TRUE(m.packed.packed);
    EXPECT_NE(m.packed_bytes, m.row_major) << type_info(type).name;
    std::vector<uint8_t> row(m.view.bytes_per_row());
    for (int64_t r = 0; r < 37; ++r) {
      copy_row_bytes(m.packed, r, row.data());
      EXPECT_TRUE(std::equal(row.begin(), row.end(), m.row_major.begin() + std::ptrdiff_t(r * row.size())))
          << type_info(type).name << " row " << r;
    }
    std::vector<float> a(size_t(m.view.row_length())), b(a.size());
    read_row(m.view, 20, a.data());
    read_row(m.packed, 20, b.data());
    EXPECT_EQ(a, b) << type_info(type).name;
    EXPECT_EQ(dequantize_rows(m.view), dequantize_rows(m.packed)) << type_info(type).name;
  }
}

TEST_F(PackedTest, CanPackOnlyMatricesOfPackedTypesWithAWholeGroup) {
  Matrix m(TensorType::Q8_0, 64, 16, 2);
  EXPECT_FALSE(can_pack(m.packed));  // already packed
  EXPECT_TRUE(can_pack(m.view));
  TensorView small = m.view;
  small.shape = {64, 15, 1, 1};
  EXPECT_FALSE(can_pack(small));
  TensorView other = m.view;
  other.type = TensorType::Q8_1;  // an activation type: no packed layout
  EXPECT_FALSE(can_pack(other));
  EXPECT_THROW(pack_in_place(small, m.row_major.data()), Error);
}

// The scalar packed kernels compute each output term for term as the reference dot.
TEST_F(PackedTest, ScalarPackedGivesTheReferenceBits) {
  ASSERT_TRUE(set_kernel_isa(KernelIsa::Scalar));
  for (TensorType type : kPackedTypes) {
    Matrix m(type, cols_for(type), 37, 3);
    for (int n_tokens : {1, 3, 9}) {
      const std::vector<float> in = random_normal(size_t(cols_for(type) * n_tokens), 4);
      std::vector<float> reference(size_t(37 * n_tokens)), packed(reference.size());
      matmul(m.view, in.data(), n_tokens, reference.data());
      matmul(m.packed, in.data(), n_tokens, packed.data());
      EXPECT_EQ(packed, reference) << type_info(type).name << " tokens=" << n_tokens;
    }
  }
}

// The web build's field layouts (Q5_0, Q5_1, Q5_K, Q6_K), here whichever build runs the
// tests: packing is undone exactly, and their scalar kernels give the bits of the
// scalar kernels of the layout this build packs in (both are the reference's chain),
// over random level bytes (every 5- and 6-bit pattern).
TEST_F(PackedTest, FieldLayoutsPackExactlyAndGiveTheReferenceBits) {
  std::mt19937 rng(17);
  std::uniform_int_distribution<int> byte(0, 255);
  for (TensorType type : {TensorType::Q5_0, TensorType::Q5_1, TensorType::Q5_K, TensorType::Q6_K}) {
    const PackedTypeInfo* fields = find_field_packed_info(type);
    const PackedTypeInfo* native = find_packed_info(type);
    ASSERT_NE(fields, nullptr) << type_info(type).name;
    const int64_t cols = type_info(type).block_size == 256 ? 512 : 96, rows = 32;
    Matrix m(type, cols, rows, 19);
    // Random level bytes, the halves (scales, mins) kept: where they sit per block.
    const size_t block_bytes = type_info(type).block_bytes;
    for (size_t i = 0; i < m.row_major.size(); ++i) {
      const size_t at = i % block_bytes;
      const bool half = type == TensorType::Q5_0   ? at < 2
                        : type == TensorType::Q5_1 ? at < 4
                        : type == TensorType::Q5_K ? at < 16  // d, dmin and the 12 scale bytes
                                                   : at >= 192;  // Q6_K: its 16 scales and d
      if (!half) m.row_major[i] = uint8_t(byte(rng));
    }
    const size_t row_bytes = m.view.bytes_per_row(), group_bytes = 16 * row_bytes;
    std::vector<uint8_t> packed(m.row_major.size()), native_packed(m.row_major.size());
    for (int64_t g = 0; g < rows / 16; ++g) {
      fields->pack_group(m.row_major.data() + g * group_bytes, row_bytes, cols, packed.data() + g * group_bytes);
      native->pack_group(m.row_major.data() + g * group_bytes, row_bytes, cols, native_packed.data() + g * group_bytes);
      for (int lane = 0; lane < 16; ++lane) {
        std::vector<uint8_t> row(row_bytes);
        fields->unpack_row(packed.data() + g * group_bytes, cols, lane, row.data());
        ASSERT_EQ(0, std::memcmp(row.data(), m.row_major.data() + (g * 16 + lane) * row_bytes, row_bytes))
            << type_info(type).name << " row " << g * 16 + lane;
      }
    }
    for (int n_tokens : {1, 3}) {
      const std::vector<float> in = random_normal(size_t(cols * n_tokens), 20);
      const size_t partner_bytes = packed_partner_row_bytes(type, cols);
      std::vector<uint8_t> partner(partner_bytes * size_t(n_tokens));
      for (int t = 0; t < n_tokens; ++t) fields->quantize(in.data() + t * cols, partner.data() + t * partner_bytes, cols);
      std::vector<float> got(size_t(rows * n_tokens)), expected(got.size());
      fields->tile(packed.data(), group_bytes, int(rows / 16), cols, partner.data(), partner_bytes, n_tokens, got.data(), size_t(rows));
      native->tile(native_packed.data(), group_bytes, int(rows / 16), cols, partner.data(), partner_bytes, n_tokens,
                   expected.data(), size_t(rows));
      EXPECT_EQ(got, expected) << type_info(type).name << " tokens=" << n_tokens;
    }
  }
  EXPECT_EQ(find_field_packed_info(TensorType::Q4_0), nullptr);
}

// Each instruction set's packed kernels against its own row-major ones: the same bits for
// the Q8_0 and Q8_1 families (the same chain), float rounding for the float types (a lane runs
// one chain over the columns, the row-major dot eight).
TEST_F(PackedTest, FastPackedMatchesRowMajor) {
  for (KernelIsa isa : supported_isas()) {
    ASSERT_TRUE(set_kernel_isa(isa));
    for (TensorType type : kPackedTypes) {
      const bool exact = type == TensorType::Q8_0 || type == TensorType::Q4_0 || type == TensorType::Q5_0 ||
                         type == TensorType::Q4_1 || type == TensorType::Q5_1;
      const int64_t cols = type_info(type).block_size == 1 ? 77 : type_info(type).block_size == 256 ? 768 : 576;
      Matrix m(type, cols, 53, 5);  // three groups and 5 rows after them
      for (int n_tokens : {1, 2, 3, 5, 8, 13}) {
        const std::vector<float> in = random_normal(size_t(cols * n_tokens), 6);
        std::vector<float> row_major(size_t(53 * n_tokens)), packed(row_major.size());
        matmul(m.view, in.data(), n_tokens, row_major.data());
        matmul(m.packed, in.data(), n_tokens, packed.data());
        for (size_t i = 0; i < packed.size(); ++i) {
          if (exact)
            ASSERT_EQ(packed[i], row_major[i]) << kernel_isa_name(isa) << " " << type_info(type).name << " i=" << i;
          else
            ASSERT_NEAR(packed[i], row_major[i], 2e-5 * (1 + std::fabs(row_major[i])))
                << kernel_isa_name(isa) << " " << type_info(type).name << " i=" << i;
        }
      }
    }
  }
}

// The K-quant kernels evaluate the reference's expression lane by lane, without fma.
// Token counts: every few-token kernel (1 to 3) and passes of one and two (SIMD128).
void expect_k_quant_reference_bits(const Matrix& m, const std::vector<float>& in, int max_tokens) {
  const int64_t rows = m.view.rows(), cols = m.view.row_length();
  ASSERT_TRUE(set_kernel_isa(KernelIsa::Scalar));
  std::vector<float> reference(size_t(rows * max_tokens));
  matmul(m.view, in.data(), max_tokens, reference.data());
  for (KernelIsa isa : supported_isas()) {
    ASSERT_TRUE(set_kernel_isa(isa));
    for (int n_tokens : {1, 2, 3, 4, max_tokens}) {
      std::vector<float> packed(size_t(rows * n_tokens));
      matmul(m.packed, in.data(), n_tokens, packed.data());
      for (size_t i = 0; i < packed.size(); ++i)
        ASSERT_EQ(packed[i], reference[i]) << kernel_isa_name(isa) << " " << type_info(m.view.type).name
                                           << " tokens=" << n_tokens << " i=" << i;
    }
  }
  ASSERT_EQ(int64_t(in.size()), cols * max_tokens);
}

TEST_F(PackedTest, KQuantsGiveTheReferenceBitsOnEveryIsa) {
  for (TensorType type : {TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K}) {
    Matrix m(type, 768, 48, 12);
    expect_k_quant_reference_bits(m, random_normal(768 * 7, 13), 7);
  }
}

// Random bytes as K-quant scales and levels (every 6-bit scale and min, Q6_K scales down
// to -128, levels 0 and 63, every Q5_K high bit) with sane f16 scales, and activation levels of +-127: still
// the reference's bits, so no integer sum overflows.
TEST_F(PackedTest, KQuantRandomBytesGiveTheReferenceBits) {
  std::mt19937 rng(21);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> unit(0.01f, 1.0f);
  for (TensorType type : {TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K}) {
    Matrix m(type, 512, 32, 22);
    const size_t block_bytes = type_info(type).block_bytes;
    for (size_t i = 0; i < m.row_major.size(); ++i) m.row_major[i] = uint8_t(byte(rng));
    for (size_t b = 0; b < m.row_major.size() / block_bytes; ++b)
      for (size_t offset : type == TensorType::Q6_K ? std::vector<size_t>{208} : std::vector<size_t>{0, 2}) {
        const uint16_t h = f32_to_f16(unit(rng) * 0.01f);
        std::memcpy(m.row_major.data() + b * block_bytes + offset, &h, 2);
      }
    m.packed_bytes = m.row_major;
    m.packed = m.view;
    m.packed.data = m.packed_bytes.data();
    pack_in_place(m.packed, m.packed_bytes.data());
    std::vector<float> in = random_normal(512 * 6, 23);
    for (size_t i = 0; i < in.size(); i += 97) in[i] = i % 2 ? 40.0f : -40.0f;  // blocks' largest magnitudes
    expect_k_quant_reference_bits(m, in, 6);
  }
}

// Any number of tokens at once gives each token the bits it gets alone, and 1, 2 or 3
// threads give the same bits.
TEST_F(PackedTest, TokensAndThreadsDoNotChangeTheBits) {
  for (KernelIsa isa : supported_isas()) {
    ASSERT_TRUE(set_kernel_isa(isa));
    for (TensorType type : kPackedTypes) {
      const int64_t cols = cols_for(type);
      Matrix m(type, cols, 83, 7);
      const int n_tokens = 19;
      const std::vector<float> in = random_normal(size_t(cols * n_tokens), 8);
      std::vector<float> together(size_t(83 * n_tokens));
      set_thread_count(1);
      matmul(m.packed, in.data(), n_tokens, together.data());
      for (int t = 0; t < n_tokens; ++t) {
        std::vector<float> alone(83);
        matmul(m.packed, in.data() + t * cols, 1, alone.data());
        EXPECT_TRUE(std::equal(alone.begin(), alone.end(), together.begin() + t * 83))
            << kernel_isa_name(isa) << " " << type_info(type).name << " token " << t;
      }
      for (int threads : {2, 3}) {
        set_thread_count(threads);
        std::vector<float> threaded(together.size());
        matmul(m.packed, in.data(), n_tokens, threaded.data());
        EXPECT_EQ(threaded, together) << kernel_isa_name(isa) << " " << type_info(type).name << " threads=" << threads;
      }
    }
  }
}

// Packed and row-major products of one input in one call (a model may mix them), with
// 1, 2 and 3 threads: a thread's share then starts or ends inside a matrix, packed or not.
TEST_F(PackedTest, SharedInputMixesPackedAndRowMajor) {
  Matrix a(TensorType::Q8_0, 128, 40, 1), b(TensorType::Q4_0, 128, 32, 2), c(TensorType::Q4_1, 128, 17, 3);
  for (int n_tokens : {1, 3}) {
    const std::vector<float> in = random_normal(size_t(128 * n_tokens), 6);
    std::vector<float> sa(size_t(40 * n_tokens)), sb(size_t(32 * n_tokens)), sc(size_t(17 * n_tokens));
    set_thread_count(1);
    matmul(a.packed, in.data(), n_tokens, sa.data());
    matmul(b.view, in.data(), n_tokens, sb.data());
    matmul(c.view, in.data(), n_tokens, sc.data());
    for (int threads : {1, 2, 3}) {
      set_thread_count(threads);
      std::vector<float> ta(sa.size()), tb(sb.size()), tc(sc.size());
      const MatmulTarget targets[] = {{&a.packed, ta.data()}, {&b.view, tb.data()}, {&c.view, tc.data()}};
      matmul_shared_input(targets, in.data(), n_tokens);
      EXPECT_EQ(ta, sa) << "threads=" << threads << " tokens=" << n_tokens;
      EXPECT_EQ(tb, sb) << "threads=" << threads << " tokens=" << n_tokens;
      EXPECT_EQ(tc, sc) << "threads=" << threads << " tokens=" << n_tokens;
    }
  }
  set_thread_count(1);
}

// Random bytes as Q8_0/Q4_0/Q5_0/Q4_1/Q5_1 levels (every pattern, including -128 in Q8_0)
// with sane scales and mins: the packed kernels still agree with the reference.
TEST_F(PackedTest, RandomLevelBytes) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> unit(0.01f, 1.0f);
  for (TensorType type : {TensorType::Q8_0, TensorType::Q4_0, TensorType::Q5_0, TensorType::Q4_1, TensorType::Q5_1}) {
    Matrix m(type, 256, 32, 9);
    const size_t block_bytes = type_info(type).block_bytes;
    const size_t halves_bytes = type == TensorType::Q4_1 || type == TensorType::Q5_1 ? 4 : 2;  // d (and m)
    for (size_t i = 0; i < m.row_major.size(); ++i) {
      if (i % block_bytes < halves_bytes) continue;
      m.row_major[i] = uint8_t(byte(rng));
    }
    m.packed_bytes = m.row_major;
    m.packed = m.view;
    m.packed.data = m.packed_bytes.data();
    pack_in_place(m.packed, m.packed_bytes.data());
    const std::vector<float> in = random_normal(256 * 4, 10);
    for (KernelIsa isa : supported_isas()) {
      ASSERT_TRUE(set_kernel_isa(isa));
      std::vector<float> row_major(32 * 4), packed(row_major.size());
      matmul(m.view, in.data(), 4, row_major.data());
      matmul(m.packed, in.data(), 4, packed.data());
      for (size_t i = 0; i < packed.size(); ++i)
        EXPECT_NEAR(packed[i], row_major[i], 1e-4 * (1 + std::fabs(row_major[i])))
            << kernel_isa_name(isa) << " " << type_info(type).name << " i=" << i;
    }
  }
}

// Every instruction set's partner writer against the scalar one: the same bytes for the
// block types, the same values (NaN for NaN) for the float types, over values that reach
// f16's subnormals, its overflow, ties, and NaN.
TEST_F(PackedTest, PartnerWritersMatchTheScalarOnes) {
  std::vector<float> x = random_normal(4096, 12);
  std::mt19937 rng(13);
  std::uniform_int_distribution<int> exponent(-30, 20);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::ldexp(x[i], exponent(rng));  // tiny to huge
  for (size_t i = 0; i < 64; ++i) x[i * 7] = 1.0f + float(i) * 0x1p-11f;          // f16 ties and near-ties
  x[100] = 65504.0f;
  x[101] = 65519.0f;
  x[102] = -65520.0f;
  x[103] = 0x1p-25f;
  x[104] = -0x1.8p-24f;
  x[105] = std::nanf("");
  x[106] = -std::numeric_limits<float>::infinity();
  x[107] = -0.0f;
  x[108] = 0x1.fffffep127f;
  ASSERT_TRUE(set_kernel_isa(KernelIsa::Scalar));
  for (TensorType type : kPackedTypes) {
    const int64_t n = int64_t(x.size()) - (type_info(type).block_size == 1 ? 3 : 0);  // odd lengths for floats
    const size_t bytes = packed_partner_row_bytes(type, n);
    std::vector<uint8_t> expected(bytes);
    type_kernels(type).packed_quantize(x.data(), expected.data(), n);
    for (KernelIsa isa : supported_isas()) {
      ASSERT_TRUE(set_kernel_isa(isa));
      std::vector<uint8_t> got(bytes, 0xcd);
      type_kernels(type).packed_quantize(x.data(), got.data(), n);
      if (type_info(type).block_size != 1) {
        EXPECT_EQ(got, expected) << kernel_isa_name(isa) << " " << type_info(type).name;
      } else {
        for (int64_t i = 0; i < n; ++i) {
          float a, b;
          std::memcpy(&a, got.data() + 4 * i, 4);
          std::memcpy(&b, expected.data() + 4 * i, 4);
          if (std::isnan(b)) {
            EXPECT_TRUE(std::isnan(a)) << kernel_isa_name(isa) << " " << type_info(type).name << " i=" << i;
          } else {
            ASSERT_EQ(std::memcmp(&a, &b, 4), 0) << kernel_isa_name(isa) << " " << type_info(type).name << " i=" << i << ": " << a << " vs " << b;
          }
        }
      }
    }
    ASSERT_TRUE(set_kernel_isa(KernelIsa::Scalar));
  }
}

// A matrix with an f16 weight or block scale that is inf or NaN stays row-major (packed
// kernels may convert halves assuming they are finite), and its products still carry
// the inf or NaN.
TEST_F(PackedTest, MatricesWithInfOrNanHalvesStayRowMajor) {
  for (TensorType type : {TensorType::Q8_0, TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_1, TensorType::Q4_K,
                          TensorType::Q5_K, TensorType::Q6_K, TensorType::F16}) {
    const bool blocks = type_info(type).block_size != 1;
    const int64_t cols = blocks ? 4 * type_info(type).block_size : 40;
    // Where the block's f16 scale d sits (Q5_1: its min m, the other half it carries).
    const size_t scale_offset = type == TensorType::Q6_K ? 208 : type == TensorType::Q5_1 ? 2 : 0;
    for (uint16_t special : {uint16_t(0x7c00), uint16_t(0xfe01), uint16_t(0xfc00)}) {  // +inf, NaN, -inf
      Matrix m(type, cols, 32, 14);
      ASSERT_TRUE(m.packed.packed);
      const size_t offset = 17 * m.view.bytes_per_row() + (blocks ? 2 * type_info(type).block_bytes + scale_offset : 2 * 7);
      std::memcpy(m.row_major.data() + offset, &special, 2);
      EXPECT_FALSE(can_pack(m.view)) << type_info(type).name;
      std::vector<uint8_t> copy = m.row_major;
      TensorView v = m.view;
      v.data = copy.data();
      EXPECT_THROW(pack_in_place(v, copy.data()), Error);
      const std::vector<float> in = random_normal(size_t(cols), 15);
      std::vector<float> out(32);
      matmul(m.view, in.data(), 1, out.data());
      EXPECT_FALSE(std::isfinite(out[17])) << type_info(type).name;
      EXPECT_TRUE(std::isfinite(out[16])) << type_info(type).name;
    }
  }
}

TEST_F(PackedTest, VectorKernelsMatchThePlainOnes) {
  const VectorKernels plain = scalar_vector_kernels();
  for (KernelIsa isa : supported_isas()) {
    ASSERT_TRUE(set_kernel_isa(isa));
    const VectorKernels& k = vector_kernels();
    for (int n : {1, 3, 8, 15, 16, 17, 24, 31, 64, 100, 128, 1536}) {
      const std::vector<float> a = random_normal(size_t(n), uint32_t(n), 2.0f), b = random_normal(size_t(n), uint32_t(n + 1));
      double magnitude = 0;
      for (int i = 0; i < n; ++i) magnitude += std::fabs(double(a[size_t(i)]) * b[size_t(i)]);
      EXPECT_NEAR(k.dot(a.data(), b.data(), n), plain.dot(a.data(), b.data(), n), 1e-6 * magnitude + 1e-30)
          << kernel_isa_name(isa) << " n=" << n;

      std::vector<float> y1 = b, y2 = b;
      k.axpy(y1.data(), 0.75f, a.data(), n);
      plain.axpy(y2.data(), 0.75f, a.data(), n);
      for (int i = 0; i < n; ++i) EXPECT_NEAR(y1[size_t(i)], y2[size_t(i)], 1e-6f * (1 + std::fabs(y2[size_t(i)])));

      // Many rows at once (attention's keys and values, `stride` apart): each row with
      // the single kernel's bits.
      for (int count : {1, 3, 4, 9, 13}) {
        const size_t stride = size_t(n) + 5;
        const std::vector<float> rows = random_normal(stride * size_t(count), uint32_t(n + count));
        std::vector<float> dots(static_cast<size_t>(count)), alphas(static_cast<size_t>(count));
        k.dots(a.data(), rows.data(), stride, n, count, dots.data());
        std::vector<float> y_rows = b, y_one = b;
        for (int j = 0; j < count; ++j) {
          EXPECT_EQ(dots[size_t(j)], k.dot(a.data(), rows.data() + size_t(j) * stride, n)) << kernel_isa_name(isa) << " n=" << n;
          alphas[size_t(j)] = 0.1f * float(j) - 0.3f;
          k.axpy(y_one.data(), alphas[size_t(j)], rows.data() + size_t(j) * stride, n);
        }
        k.axpys(y_rows.data(), alphas.data(), rows.data(), stride, n, count);
        EXPECT_EQ(y_rows, y_one) << kernel_isa_name(isa) << " n=" << n << " count=" << count;
      }

      // Exponentials over the range softmax meets (shifted by the maximum), and beyond.
      std::vector<float> e1(static_cast<size_t>(n)), e2(static_cast<size_t>(n));
      for (int i = 0; i < n; ++i) e1[size_t(i)] = e2[size_t(i)] = -100.0f + 100.0f * float(i) / float(n);
      const float s1 = k.exp_shifted(e1.data(), n, 0.0f), s2 = plain.exp_shifted(e2.data(), n, 0.0f);
      EXPECT_NEAR(s1, s2, 1e-6f * s2) << kernel_isa_name(isa) << " n=" << n;
      for (int i = 0; i < n; ++i) EXPECT_NEAR(e1[size_t(i)], e2[size_t(i)], 3e-7f * e2[size_t(i)] + 1e-37f);

      std::vector<float> g1 = a, g2 = a;
      for (int i = 0; i < n; i += 7) g1[size_t(i)] = g2[size_t(i)] = (i % 2 ? 1.0f : -1.0f) * 150.0f;
      k.swiglu(g1.data(), b.data(), n);
      plain.swiglu(g2.data(), b.data(), n);
      for (int i = 0; i < n; ++i)
        EXPECT_NEAR(g1[size_t(i)], g2[size_t(i)], 1e-6f * (1 + std::fabs(g2[size_t(i)]))) << kernel_isa_name(isa) << " i=" << i;
    }
  }
}

}  // namespace
}  // namespace loupe
