// The packed layouts (kernels/packed.h): packing and unpacking, the partner formats, and
// the plain scalar kernels. Each scalar kernel computes every output exactly as the
// scalar reference dot of core/tensor_types.cpp does, term for term, so a packed matrix
// gives the reference's bits. This is reference code, written to be read.
#include "kernels/packed.h"

#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "kernels/thread_pool.h"

namespace loupe {
namespace {

constexpr int R = kPackedRows;

float load_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}
float load_bf16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return bf16_to_f32(h);
}
float load_f32(const uint8_t* p) {
  float f;
  std::memcpy(&f, p, 4);
  return f;
}
int32_t load_i32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// True if none of the halves at data, data + stride, ... (within `bytes`) is an inf or
// NaN (exponent bits all ones).
bool halves_finite_every(const uint8_t* data, size_t bytes, size_t stride) {
  bool special = false;
  for (size_t i = 0; i + 2 <= bytes; i += stride) special |= (data[i + 1] & 0x7c) == 0x7c;
  return !special;
}
// Every f16 of an F16 tensor, four at a time: a lane is inf or NaN when its exponent bits
// are all ones, i.e. when (h & 0x7c00) ^ 0x7c00 is zero, which the usual zero-lane test
// (x - 1) & ~x & top bit finds exactly.
bool f16_values_finite(const uint8_t* data, size_t bytes) {
  constexpr uint64_t kExponents = 0x7c007c007c007c00ull, kOnes = 0x0001000100010001ull, kTops = 0x8000800080008000ull;
  uint64_t any = 0;
  size_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    uint64_t w;
    std::memcpy(&w, data + i, 8);
    const uint64_t x = (w & kExponents) ^ kExponents;
    any |= (x - kOnes) & ~x & kTops;
  }
  return any == 0 && halves_finite_every(data + i, bytes - i, 2);
}

// ---------------------------------------------------------------------------
// The Q8_0 family: 32-value blocks, 8-bit activations in partner blocks of
//   {f32 d (the f16 scale, widened); i32 -offset * sum(q); i8 q[32]}   40 bytes
// ---------------------------------------------------------------------------

constexpr int kBlock = 32;
constexpr size_t kPartnerBlockBytes = 40;

// f32 -> partner blocks: the same levels and scale as the reference Q8_0 quantizer,
// plus the offset term for weights stored with `kOffset` added.
template <int kOffset>
void quantize_q8_partner(const float* in, uint8_t* out, int64_t n) {
  const TensorTypeInfo& q8_0 = type_info(TensorType::Q8_0);
  uint8_t block[34];
  for (int64_t b = 0; b < n / kBlock; ++b, in += kBlock, out += kPartnerBlockBytes) {
    q8_0.from_float(in, block, kBlock);
    const float d = load_f16(block);
    int32_t sum = 0;
    for (int i = 0; i < kBlock; ++i) sum += int8_t(block[2 + i]);
    const int32_t offset_term = -kOffset * sum;
    std::memcpy(out, &d, 4);
    std::memcpy(out + 4, &offset_term, 4);
    std::memcpy(out + 8, block + 2, kBlock);
  }
}

// Q8_0: {f16 d; i8 q[32]} per row-major block.
struct Q8_0Layout {
  static constexpr int kBlockValues = kBlock;
  static constexpr int kOffset = 128;
  static constexpr size_t kRowBlockBytes = 34;
  static constexpr size_t kGroupBlockBytes = R * kRowBlockBytes;
  // 4 levels at a time, each byte's top bit flipped: level + 128 as an unsigned byte.
  static void move_flipped(const uint8_t* from, uint8_t* to) {
    uint32_t four;
    std::memcpy(&four, from, 4);
    four ^= 0x80808080u;
    std::memcpy(to, &four, 4);
  }
  static void pack_block(const uint8_t* row_block, int lane, uint8_t* group_block) {
    std::memcpy(group_block + 2 * lane, row_block, 2);
    for (int step = 0; step < 8; ++step) move_flipped(row_block + 2 + 4 * step, group_block + 32 + 64 * step + 4 * lane);
  }
  static void unpack_block(const uint8_t* group_block, int lane, uint8_t* row_block) {
    std::memcpy(row_block, group_block + 2 * lane, 2);
    for (int step = 0; step < 8; ++step) move_flipped(group_block + 32 + 64 * step + 4 * lane, row_block + 2 + 4 * step);
  }
  // sum over the block of (level + 128) * a
  static int32_t offset_sum(const uint8_t* group_block, int lane, const int8_t* a) {
    int32_t sum = 0;
    for (int step = 0; step < 8; ++step)
      for (int i = 0; i < 4; ++i) sum += int32_t(group_block[32 + 64 * step + 4 * lane + i]) * a[4 * step + i];
    return sum;
  }
  static int32_t row_sum(const uint8_t* row_block, const int8_t* a) {
    int32_t sum = 0;
    for (int i = 0; i < kBlock; ++i) sum += int8_t(row_block[2 + i]) * a[i];
    return sum;
  }
};

// Q4_0: {f16 d; u8 qs[16]}, value j = low nibble of qs[j] (j < 16) or high of qs[j-16].
struct Q4_0Layout {
  static constexpr int kBlockValues = kBlock;
  static constexpr int kOffset = 8;
  static constexpr size_t kRowBlockBytes = 18;
  static constexpr size_t kGroupBlockBytes = R * kRowBlockBytes;
  static void pack_block(const uint8_t* row_block, int lane, uint8_t* group_block) {
    std::memcpy(group_block + 2 * lane, row_block, 2);
    for (int step = 0; step < 4; ++step) std::memcpy(group_block + 32 + 64 * step + 4 * lane, row_block + 2 + 4 * step, 4);
  }
  static void unpack_block(const uint8_t* group_block, int lane, uint8_t* row_block) {
    std::memcpy(row_block, group_block + 2 * lane, 2);
    for (int step = 0; step < 4; ++step) std::memcpy(row_block + 2 + 4 * step, group_block + 32 + 64 * step + 4 * lane, 4);
  }
  static int32_t offset_sum(const uint8_t* group_block, int lane, const int8_t* a) {
    int32_t sum = 0;
    for (int step = 0; step < 4; ++step)
      for (int i = 0; i < 4; ++i) {
        const uint8_t q = group_block[32 + 64 * step + 4 * lane + i];
        sum += int32_t(q & 15) * a[4 * step + i] + int32_t(q >> 4) * a[16 + 4 * step + i];
      }
    return sum;
  }
  static int32_t row_sum(const uint8_t* row_block, const int8_t* a) {
    int32_t sum = 0;
    for (int j = 0; j < 16; ++j)
      sum += (int32_t(row_block[2 + j] & 15) - 8) * a[j] + (int32_t(row_block[2 + j] >> 4) - 8) * a[16 + j];
    return sum;
  }
};

// Q5_0: {f16 d; u32 qh; u8 qs[16]}: value j = nibble j (as Q4_0) + 16 * bit j of qh.
// Packed, each row's 32 high bits are regrouped into one word H so that byte i holds, in
// bit s, the high bit of value 4s+i and, in bit 4+s, that of value 16+4s+i: a kernel gets
// step s's high bits for 16 rows with one shift and one mask (see high_bits_of_step).
struct Q5_0Layout {
  static constexpr int kBlockValues = kBlock;
  static constexpr int kOffset = 16;
  static constexpr size_t kRowBlockBytes = 22;
  static constexpr size_t kGroupBlockBytes = R * kRowBlockBytes;  // [32 d][64 H][256 qs]
  static uint32_t regroup(uint32_t qh) {
    uint32_t h = 0;
    for (int i = 0; i < 4; ++i)
      for (int s = 0; s < 4; ++s) {
        h |= ((qh >> (4 * s + i)) & 1u) << (8 * i + s);
        h |= ((qh >> (16 + 4 * s + i)) & 1u) << (8 * i + 4 + s);
      }
    return h;
  }
  static uint32_t ungroup(uint32_t h) {
    uint32_t qh = 0;
    for (int i = 0; i < 4; ++i)
      for (int s = 0; s < 4; ++s) {
        qh |= ((h >> (8 * i + s)) & 1u) << (4 * s + i);
        qh |= ((h >> (8 * i + 4 + s)) & 1u) << (16 + 4 * s + i);
      }
    return qh;
  }
  static void pack_block(const uint8_t* row_block, int lane, uint8_t* group_block) {
    std::memcpy(group_block + 2 * lane, row_block, 2);
    uint32_t qh;
    std::memcpy(&qh, row_block + 2, 4);
    const uint32_t h = regroup(qh);
    std::memcpy(group_block + 32 + 4 * lane, &h, 4);
    for (int step = 0; step < 4; ++step) std::memcpy(group_block + 96 + 64 * step + 4 * lane, row_block + 6 + 4 * step, 4);
  }
  static void unpack_block(const uint8_t* group_block, int lane, uint8_t* row_block) {
    std::memcpy(row_block, group_block + 2 * lane, 2);
    uint32_t h;
    std::memcpy(&h, group_block + 32 + 4 * lane, 4);
    const uint32_t qh = ungroup(h);
    std::memcpy(row_block + 2, &qh, 4);
    for (int step = 0; step < 4; ++step) std::memcpy(row_block + 6 + 4 * step, group_block + 96 + 64 * step + 4 * lane, 4);
  }
  static int32_t offset_sum(const uint8_t* group_block, int lane, const int8_t* a) {
    uint32_t h;
    std::memcpy(&h, group_block + 32 + 4 * lane, 4);
    int32_t sum = 0;
    for (int step = 0; step < 4; ++step)
      for (int i = 0; i < 4; ++i) {
        const uint8_t q = group_block[96 + 64 * step + 4 * lane + i];
        const int low = (q & 15) | int((h >> (8 * i + step)) & 1u) << 4;
        const int high = (q >> 4) | int((h >> (8 * i + 4 + step)) & 1u) << 4;
        sum += low * a[4 * step + i] + high * a[16 + 4 * step + i];
      }
    return sum;
  }
  // Level j (0..31, stored: value + 16) of a row-major block.
  static int row_level(const uint8_t* row_block, int j) {
    uint32_t qh;
    std::memcpy(&qh, row_block + 2, 4);
    const int nibble = j < 16 ? row_block[6 + j] & 15 : row_block[6 + j - 16] >> 4;
    return nibble | int((qh >> j) & 1u) << 4;
  }
  static int32_t row_sum(const uint8_t* row_block, const int8_t* a) {
    int32_t sum = 0;
    for (int j = 0; j < kBlock; ++j) sum += (row_level(row_block, j) - 16) * a[j];
    return sum;
  }
};

// Q5_0 in 5-bit fields: the WebAssembly build's layout (kernels/wasm_packed.inc). SIMD128
// has no byte dot product; its kernels multiply 16-bit lanes, where a level kept whole in
// a lane takes one AND or shift to use, and a nibble plus a separate fifth bit takes
// three or four. Per block, [16 d][5 vectors k x 4 quads x 8 lanes of 16 bits]: lane j of
// quad q's vector k belongs to row 4q + j/2 and holds, for column `second` = j % 2 of
// column pairs 3k, 3k+1 and 3k+2 (the kernels' pair numbering, pair_column), their
// levels in bits 1-5, 6-10 and 11-15, and in bit 0 bit 4-k of its level in pair 15. Still
// 16 x 22 bytes, so it packs in place; the row-major side (row_sum) is Q5_0's.
struct Q5_0FieldLayout : Q5_0Layout {
  // Pair p of a block's columns as the wasm kernels widen activations (widen_pairs):
  // p = s: (4s, 4s+2); 4+s: (4s+1, 4s+3); 8+s and 12+s: the same 16 columns on.
  static int pair_column(int pair, int second) { return 16 * (pair / 8) + 4 * (pair % 4) + (pair / 4) % 2 + 2 * second; }
  // Where lane (row `lane`, column `second`) of vector k sits after the block's halves.
  static size_t word_offset(int k, int lane, int second) {
    return 64 * size_t(k) + 16 * size_t(lane / 4) + 4 * size_t(lane % 4) + 2 * size_t(second);
  }
  // One row's and column's five lanes from its 16 pairs' levels, and a level back (so
  // Q5_K's sub-blocks, also 32 five-bit levels, reuse them).
  static void write_words(const int* pair_levels, uint8_t* fields, int lane, int second) {
    for (int k = 0; k < 5; ++k) {
      int word = (pair_levels[15] >> (4 - k)) & 1;
      for (int f = 0; f < 3; ++f) word |= pair_levels[3 * k + f] << (1 + 5 * f);
      const uint16_t v = uint16_t(word);
      std::memcpy(fields + word_offset(k, lane, second), &v, 2);
    }
  }
  static int read_level(const uint8_t* fields, int lane, int pair, int second) {
    auto word = [&](int k) {
      uint16_t v;
      std::memcpy(&v, fields + word_offset(k, lane, second), 2);
      return int(v);
    };
    if (pair < 15) return (word(pair / 3) >> (1 + 5 * (pair % 3))) & 31;
    int level = 0;
    for (int k = 0; k < 5; ++k) level |= (word(k) & 1) << (4 - k);
    return level;
  }
  static int group_level(const uint8_t* group_block, int lane, int pair, int second) {
    return read_level(group_block + 32, lane, pair, second);
  }
  static void pack_block(const uint8_t* row_block, int lane, uint8_t* group_block) {
    std::memcpy(group_block + 2 * lane, row_block, 2);
    for (int second = 0; second < 2; ++second) {
      int pair_levels[16];
      for (int pair = 0; pair < 16; ++pair) pair_levels[pair] = row_level(row_block, pair_column(pair, second));
      write_words(pair_levels, group_block + 32, lane, second);
    }
  }
  static void unpack_block(const uint8_t* group_block, int lane, uint8_t* row_block) {
    std::memcpy(row_block, group_block + 2 * lane, 2);
    uint32_t qh = 0;
    uint8_t qs[16] = {};
    for (int pair = 0; pair < 16; ++pair)
      for (int second = 0; second < 2; ++second) {
        const int j = pair_column(pair, second), level = group_level(group_block, lane, pair, second);
        qh |= uint32_t(level >> 4) << j;
        qs[j % 16] |= uint8_t((level & 15) << (j < 16 ? 0 : 4));
      }
    std::memcpy(row_block + 2, &qh, 4);
    std::memcpy(row_block + 6, qs, 16);
  }
  static int32_t offset_sum(const uint8_t* group_block, int lane, const int8_t* a) {
    int32_t sum = 0;
    for (int pair = 0; pair < 16; ++pair)
      for (int second = 0; second < 2; ++second)
        sum += group_level(group_block, lane, pair, second) * a[pair_column(pair, second)];
    return sum;
  }
};

// Q5_0 and Q5_1 (and Q5_K and Q6_K, below) pack in fields for WebAssembly, as nibbles
// plus separate high bits elsewhere (x86's byte dot products want whole bytes).
#ifdef __wasm__
using Q5_0Packed = Q5_0FieldLayout;
#else
using Q5_0Packed = Q5_0Layout;
#endif

// The Q8_0 family's per-block term in the reference's chain,
//   sum += float(integer block sum) * (dx * dy), block after block,
// for the generic kernels (tile_blocks, tail_dot_blocks).
template <class L>
struct Q8_0Terms : L {
  static constexpr size_t kPartnerBytes = kPartnerBlockBytes;
  static float group_term(const uint8_t* block, int lane, const uint8_t* a) {
    const int32_t integer = load_i32(a + 4) + L::offset_sum(block, lane, reinterpret_cast<const int8_t*>(a + 8));
    return float(integer) * (load_f16(block + 2 * lane) * load_f32(a));
  }
  static float row_term(const uint8_t* row, const uint8_t* a) {
    return float(L::row_sum(row, reinterpret_cast<const int8_t*>(a + 8))) * (load_f16(row) * load_f32(a));
  }
};

// The generic kernels of the block types: each output is the sum, block after block, of
// the layout's term (the reference's, term for term).
template <class L>
void tile_blocks(const uint8_t* groups, size_t group_bytes, int n_groups, int64_t cols, const uint8_t* acts,
                 size_t act_bytes, int n_tokens, float* out, size_t out_stride) {
  for (int g = 0; g < n_groups; ++g)
    for (int t = 0; t < n_tokens; ++t)
      for (int lane = 0; lane < R; ++lane) {
        float sum = 0;
        for (int64_t b = 0; b < cols / L::kBlockValues; ++b)
          sum += L::group_term(groups + size_t(g) * group_bytes + size_t(b) * L::kGroupBlockBytes, lane,
                               acts + size_t(t) * act_bytes + size_t(b) * L::kPartnerBytes);
        out[size_t(t) * out_stride + size_t(R * g + lane)] = sum;
      }
}

template <class L>
float tail_dot_blocks(const uint8_t* row, const uint8_t* act, int64_t cols) {
  float sum = 0;
  for (int64_t b = 0; b < cols / L::kBlockValues; ++b)
    sum += L::row_term(row + size_t(b) * L::kRowBlockBytes, act + size_t(b) * L::kPartnerBytes);
  return sum;
}

// ---------------------------------------------------------------------------
// The Q8_1 family (Q4_1, Q5_1): value = d * q + m with unsigned levels q, against the
// reference's Q8_1 activations, whose s = dy * sum(qy) carries the m term. Partner blocks
//   {f32 d; f32 s (the reference's halves, widened); i8 q[32]}   40 bytes
// and the reference chain: sum += (dx * dy) * float(sum(q * qy)) + m * s, block by block.
// ---------------------------------------------------------------------------

void quantize_q8_1_partner(const float* in, uint8_t* out, int64_t n) {
  const TensorTypeInfo& q8_1 = type_info(TensorType::Q8_1);
  uint8_t block[36];  // {f16 d; f16 s; i8 q[32]}
  for (int64_t b = 0; b < n / kBlock; ++b, in += kBlock, out += kPartnerBlockBytes) {
    q8_1.from_float(in, block, kBlock);
    const float d = load_f16(block), s = load_f16(block + 2);
    std::memcpy(out, &d, 4);
    std::memcpy(out + 4, &s, 4);
    std::memcpy(out + 8, block + 4, kBlock);
  }
}

// A Q8_1-family block is the block of the same levels without a min (Q4_0, Q5_0) with the
// half m put after d: row {f16 d; f16 m; Base's row block after its d}, group [16 d][16 m]
// [Base's group block after its 16 d]. So Base packs what follows d, and its sum of
// stored levels times activations is this type's sum of q * qy.
template <class Base>
struct WithMinLayout {
  static constexpr int kBlockValues = kBlock;
  static constexpr size_t kRowBlockBytes = Base::kRowBlockBytes + 2;
  static constexpr size_t kGroupBlockBytes = R * kRowBlockBytes;
  static void pack_block(const uint8_t* row_block, int lane, uint8_t* group_block) {
    std::memcpy(group_block + 2 * lane, row_block, 2);
    Base::pack_block(row_block + 2, lane, group_block + 2 * R);
  }
  static void unpack_block(const uint8_t* group_block, int lane, uint8_t* row_block) {
    std::memcpy(row_block, group_block + 2 * lane, 2);
    Base::unpack_block(group_block + 2 * R, lane, row_block + 2);
  }
  static constexpr size_t kPartnerBytes = kPartnerBlockBytes;
  static float group_term(const uint8_t* block, int lane, const uint8_t* a) {
    const int32_t integer = Base::offset_sum(block + 2 * R, lane, reinterpret_cast<const int8_t*>(a + 8));
    return (load_f16(block + 2 * lane) * load_f32(a)) * float(integer) + load_f16(block + 2 * R + 2 * lane) * load_f32(a + 4);
  }
  static float row_term(const uint8_t* row, const uint8_t* a) {
    const int8_t* levels = reinterpret_cast<const int8_t*>(a + 8);
    int32_t sum_a = 0;
    for (int i = 0; i < kBlock; ++i) sum_a += levels[i];
    const int32_t integer = Base::row_sum(row + 2, levels) + Base::kOffset * sum_a;  // Base's levels are q - offset
    return (load_f16(row) * load_f32(a)) * float(integer) + load_f16(row + 2) * load_f32(a + 4);
  }
};
using Q4_1Layout = WithMinLayout<Q4_0Layout>;
using Q5_1Layout = WithMinLayout<Q5_0Packed>;

// Packing moves block b of each of the 16 rows into the group's block b (any layout).
template <class L>
void pack_group_blocks(const uint8_t* rows, size_t row_bytes, int64_t cols, uint8_t* group) {
  for (int64_t b = 0; b < cols / L::kBlockValues; ++b)
    for (int lane = 0; lane < R; ++lane)
      L::pack_block(rows + size_t(lane) * row_bytes + size_t(b) * L::kRowBlockBytes, lane,
                    group + size_t(b) * L::kGroupBlockBytes);
}

template <class L>
void unpack_row_blocks(const uint8_t* group, int64_t cols, int lane, uint8_t* row) {
  for (int64_t b = 0; b < cols / L::kBlockValues; ++b)
    L::unpack_block(group + size_t(b) * L::kGroupBlockBytes, lane, row + size_t(b) * L::kRowBlockBytes);
}

// ---------------------------------------------------------------------------
// K-quants: 256-value super-blocks. Activations in partner blocks of
//   {f32 d; i32 sums[n_sums]; i8 q[256]}
// (the reference Q8_K's levels and scale), where Q4_K keeps the 8 sums of 32 levels (its
// mins meet them) and Q6_K -32 times the 16 sums of 16 (its levels are q - 32).
// ---------------------------------------------------------------------------

constexpr int kSuper = 256;

template <int kSums, int kFactor>
void quantize_k_partner(const float* in, uint8_t* out, int64_t n) {
  const TensorTypeInfo& q8_k = type_info(TensorType::Q8_K);
  uint8_t block[292];  // {f32 d; i8 q[256]; i16 bsums[16]}
  constexpr size_t bytes = 4 + 4 * kSums + kSuper;
  for (int64_t b = 0; b < n / kSuper; ++b, in += kSuper, out += bytes) {
    q8_k.from_float(in, block, kSuper);
    std::memcpy(out, block, 4);
    for (int k = 0; k < kSums; ++k) {
      int32_t sum = 0;
      for (int i = 0; i < kSuper / kSums; ++i) sum += int8_t(block[4 + k * (kSuper / kSums) + i]);
      sum *= kFactor;
      std::memcpy(out + 4 + 4 * k, &sum, 4);
    }
    std::memcpy(out + 4 + 4 * kSums, block + 4, kSuper);
  }
}

// Q4_K row block: {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]}; 8 sub-blocks of 32, value
// = d * scale_j * q - dmin * min_j, sub-blocks 2p and 2p+1 in the low and high nibbles of
// qs[32p..32p+31]. Packed (2304 bytes): [16 d][16 dmin][3 words x 16 rows of the 12 scale
// bytes][32 steps (pair p, step s) x 16 rows x the 4 bytes qs[32p+4s..]].
struct Q4_KLayout {
  static constexpr int kBlockValues = kSuper;
  static constexpr size_t kRowBlockBytes = 144, kGroupBlockBytes = R * kRowBlockBytes;
  static constexpr size_t kHalfOffsets[] = {0, 2};
  static constexpr int kSums = 8;
  static constexpr size_t kPartnerBytes = 4 + 4 * kSums + kSuper;
  // What packing moves, as piece(offset in the row block, offset in the group block,
  // bytes): the two halves, the 3 words of scales, Q5_K's `fifth_steps` steps of fifth
  // bits, then the 32 steps of nibbles.
  template <class F>
  static void for_each_piece(int lane, int fifth_steps, F&& piece) {
    piece(0, 2 * lane, 2);
    piece(2, 32 + 2 * lane, 2);
    for (int w = 0; w < 3; ++w) piece(4 + 4 * w, 64 + 64 * w + 4 * lane, 4);
    for (int s = 0; s < fifth_steps; ++s) piece(16 + 4 * s, 256 + 64 * s + 4 * lane, 4);
    for (int s = 0; s < 32; ++s) piece(16 + 4 * fifth_steps + 4 * s, 256 + 64 * fifth_steps + 64 * s + 4 * lane, 4);
  }
  static void pack_block(const uint8_t* row, int lane, uint8_t* group) {
    for_each_piece(lane, 0, [&](int r, int g, int n) { std::memcpy(group + g, row + r, size_t(n)); });
  }
  static void unpack_block(const uint8_t* group, int lane, uint8_t* row) {
    for_each_piece(lane, 0, [&](int r, int g, int n) { std::memcpy(row + r, group + g, size_t(n)); });
  }
  static void scale_min(const uint8_t* scales, int j, int* scale, int* min) {
    if (j < 4) {
      *scale = scales[j] & 63;
      *min = scales[j + 4] & 63;
    } else {
      *scale = (scales[j + 4] & 0x0f) | ((scales[j - 4] >> 6) << 4);
      *min = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
    }
  }
  // The reference's per-block term, from the row's scales and each sub-block's sum.
  template <class Level>
  static float block_term(const uint8_t* scales, float d, float dmin, const uint8_t* a, Level level) {
    const float dy = load_f32(a);
    int sum_q = 0, sum_m = 0;
    for (int j = 0; j < 8; ++j) {
      int scale, min;
      scale_min(scales, j, &scale, &min);
      int s = 0;
      for (int l = 0; l < 32; ++l) s += level(j, l) * int8_t(a[4 + 4 * kSums + 32 * j + l]);
      sum_q += scale * s;
      sum_m += min * load_i32(a + 4 + 4 * j);
    }
    return d * dy * float(sum_q) - dmin * dy * float(sum_m);
  }
  static float group_term(const uint8_t* group, int lane, const uint8_t* a) {
    uint8_t scales[12];
    for (int w = 0; w < 3; ++w) std::memcpy(scales + 4 * w, group + 64 + 64 * w + 4 * lane, 4);
    return block_term(scales, load_f16(group + 2 * lane), load_f16(group + 32 + 2 * lane), a, [&](int j, int l) {
      const uint8_t q = group[256 + 64 * (8 * (j / 2) + l / 4) + 4 * lane + l % 4];
      return j % 2 == 0 ? q & 15 : q >> 4;
    });
  }
  static float row_term(const uint8_t* row, const uint8_t* a) {
    return block_term(row + 4, load_f16(row), load_f16(row + 2), a, [&](int j, int l) {
      const uint8_t q = row[16 + 32 * (j / 2) + l];
      return j % 2 == 0 ? q & 15 : q >> 4;
    });
  }
};

// Q5_K row block: {f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}: Q4_K's, with
// a fifth bit for each value, bit j of qh[l] for value l of sub-block j. Packed (2816
// bytes): Q4_K's first 256 bytes, then [8 steps x 16 rows x the 4 bytes qh[4s..]] (the
// high bits of values 4s..4s+3 of every sub-block), then Q4_K's 32 steps of nibbles.
struct Q5_KLayout : Q4_KLayout {
  static constexpr size_t kRowBlockBytes = 176, kGroupBlockBytes = R * kRowBlockBytes;
  static void pack_block(const uint8_t* row, int lane, uint8_t* group) {
    for_each_piece(lane, 8, [&](int r, int g, int n) { std::memcpy(group + g, row + r, size_t(n)); });
  }
  static void unpack_block(const uint8_t* group, int lane, uint8_t* row) {
    for_each_piece(lane, 8, [&](int r, int g, int n) { std::memcpy(row + r, group + g, size_t(n)); });
  }
  static float group_term(const uint8_t* group, int lane, const uint8_t* a) {
    uint8_t scales[12];
    for (int w = 0; w < 3; ++w) std::memcpy(scales + 4 * w, group + 64 + 64 * w + 4 * lane, 4);
    return block_term(scales, load_f16(group + 2 * lane), load_f16(group + 32 + 2 * lane), a, [&](int j, int l) {
      const uint8_t q = group[768 + 64 * (8 * (j / 2) + l / 4) + 4 * lane + l % 4];
      const uint8_t high_bits = group[256 + 64 * (l / 4) + 4 * lane + l % 4];
      return (j % 2 == 0 ? q & 15 : q >> 4) | ((high_bits >> j) & 1) << 4;
    });
  }
  // Value l of sub-block j of a row-major block.
  static int row_level(const uint8_t* row, int j, int l) {
    const uint8_t q = row[48 + 32 * (j / 2) + l];
    return (j % 2 == 0 ? q & 15 : q >> 4) | ((row[16 + l] >> j) & 1) << 4;
  }
  static float row_term(const uint8_t* row, const uint8_t* a) {
    return block_term(row + 4, load_f16(row), load_f16(row + 2), a, [&](int j, int l) { return row_level(row, j, l); });
  }
};

// Q5_K in 5-bit fields: the WebAssembly build's layout. Q4_K's first 256 bytes (halves
// and scales), then sub-block j's 32 levels per row, at 256 + 320 j, laid out as one
// Q5_0FieldLayout block's five vectors per quad. 16 x 176 bytes, in place.
struct Q5_KFieldLayout : Q5_KLayout {
  static size_t fields_at(int j) { return 256 + 320 * size_t(j); }  // sub-block j's fields
  // Value l of sub-block j: pair_column inverted.
  static int group_level(const uint8_t* group, int lane, int j, int l) {
    const int c = l % 16;
    return Q5_0FieldLayout::read_level(group + fields_at(j), lane, 8 * (l / 16) + 4 * (c % 2) + c / 4, (c / 2) % 2);
  }
  template <class F>
  static void for_each_scale_piece(int lane, F&& piece) {  // Q4_K's halves and scales
    for_each_piece(lane, 0, [&](int r, int g, int n) {
      if (r < 16) piece(r, g, n);
    });
  }
  static void pack_block(const uint8_t* row, int lane, uint8_t* group) {
    for_each_scale_piece(lane, [&](int r, int g, int n) { std::memcpy(group + g, row + r, size_t(n)); });
    for (int j = 0; j < 8; ++j)
      for (int second = 0; second < 2; ++second) {
        int pair_levels[16];
        for (int pair = 0; pair < 16; ++pair) pair_levels[pair] = row_level(row, j, Q5_0FieldLayout::pair_column(pair, second));
        Q5_0FieldLayout::write_words(pair_levels, group + fields_at(j), lane, second);
      }
  }
  static void unpack_block(const uint8_t* group, int lane, uint8_t* row) {
    for_each_scale_piece(lane, [&](int r, int g, int n) { std::memcpy(row + r, group + g, size_t(n)); });
    std::memset(row + 16, 0, 160);
    for (int j = 0; j < 8; ++j)
      for (int l = 0; l < 32; ++l) {
        const int level = group_level(group, lane, j, l);
        row[48 + 32 * (j / 2) + l] |= uint8_t((level & 15) << (4 * (j % 2)));
        row[16 + l] |= uint8_t((level >> 4) << j);
      }
  }
  static float group_term(const uint8_t* group, int lane, const uint8_t* a) {
    uint8_t scales[12];
    for (int w = 0; w < 3; ++w) std::memcpy(scales + 4 * w, group + 64 + 64 * w + 4 * lane, 4);
    return block_term(scales, load_f16(group + 2 * lane), load_f16(group + 32 + 2 * lane), a,
                      [&](int j, int l) { return group_level(group, lane, j, l); });
  }
};

#ifdef __wasm__  // as Q5_0Packed
using Q5_KPacked = Q5_KFieldLayout;
#else
using Q5_KPacked = Q5_KLayout;
#endif

// Q6_K row block: {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}; 16 sub-blocks of 16,
// value = d * scale_j * (q - 32), q six bits (see q6_k_level in core/tensor_types.cpp).
// Packed (3360 bytes): [16 d][16 sub-blocks x 16 rows of scales][32 vectors of low
// nibbles: vector v holds steps v (low) and 32+v (high)][16 vectors of high bit pairs:
// vector w holds those of steps w, 16+w, 32+w, 48+w in bits 0-1, 2-3, 4-5, 6-7]; step t
// is values 4t..4t+3 of a row, 4 bytes per row.
struct Q6_KLayout {
  static constexpr int kBlockValues = kSuper;
  static constexpr size_t kRowBlockBytes = 210, kGroupBlockBytes = R * kRowBlockBytes;
  static constexpr size_t kHalfOffsets[] = {208};
  static constexpr int kSums = 16;
  static constexpr size_t kPartnerBytes = 4 + 4 * kSums + kSuper;
  static int row_level(const uint8_t* row, int v) {
    const int half = v / 128, k = (v % 128) / 32, l = v % 32;
    const uint8_t* ql = row + 64 * half;
    const uint8_t* qh = row + 128 + 32 * half;
    int low = k % 2 == 0 ? ql[l] : ql[l + 32];
    low = k < 2 ? (low & 0x0f) : (low >> 4);
    return low | (((qh[l] >> (2 * k)) & 3) << 4);
  }
  static int group_level(const uint8_t* group, int lane, int v) {
    const int step = v / 4, i = v % 4;
    const uint8_t low = group[288 + 64 * (step % 32) + 4 * lane + i];
    const uint8_t high = group[2336 + 64 * (step % 16) + 4 * lane + i];
    return (step < 32 ? low & 15 : low >> 4) | (((high >> (2 * (step / 16))) & 3) << 4);
  }
  static void pack_block(const uint8_t* row, int lane, uint8_t* group) {
    std::memcpy(group + 2 * lane, row + 208, 2);
    for (int j = 0; j < 16; ++j) group[32 + 16 * j + lane] = row[192 + j];
    for (int v = 0; v < 256; ++v) {
      const int q = row_level(row, v), step = v / 4, i = v % 4;
      uint8_t& low = group[288 + 64 * (step % 32) + 4 * lane + i];
      uint8_t& high = group[2336 + 64 * (step % 16) + 4 * lane + i];
      if (step < 32) low = uint8_t((low & 0xf0) | (q & 15));
      else low = uint8_t((low & 0x0f) | ((q & 15) << 4));
      const int shift = 2 * (step / 16);
      high = uint8_t((high & ~(3 << shift)) | ((q >> 4) << shift));
    }
  }
  // The row block back from a group block's halves and scales and its levels as
  // `level(v)` reads them (so the field layout, below, shares it).
  template <class Level>
  static void unpack_levels(const uint8_t* group, int lane, uint8_t* row, Level level) {
    std::memcpy(row + 208, group + 2 * lane, 2);
    for (int j = 0; j < 16; ++j) row[192 + j] = group[32 + 16 * j + lane];
    std::memset(row, 0, 192);
    for (int v = 0; v < 256; ++v) {
      const int q = level(v);
      const int half = v / 128, k = (v % 128) / 32, l = v % 32;
      uint8_t* ql = row + 64 * half;
      uint8_t* qh = row + 128 + 32 * half;
      (k % 2 == 0 ? ql[l] : ql[l + 32]) |= uint8_t(k < 2 ? (q & 15) : (q & 15) << 4);
      qh[l] |= uint8_t((q >> 4) << (2 * k));
    }
  }
  static void unpack_block(const uint8_t* group, int lane, uint8_t* row) {
    unpack_levels(group, lane, row, [&](int v) { return group_level(group, lane, v); });
  }
  template <class Level>
  static float block_term(const int8_t* scales, float d, const uint8_t* a, Level level) {
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      int s = load_i32(a + 4 + 4 * j);  // -32 * (sum of the 16 levels)
      for (int l = 0; l < 16; ++l) s += level(16 * j + l) * int8_t(a[4 + 4 * kSums + 16 * j + l]);
      sumi += scales[j] * s;
    }
    return d * load_f32(a) * float(sumi);
  }
  static float group_term(const uint8_t* group, int lane, const uint8_t* a) {
    int8_t scales[16];
    for (int j = 0; j < 16; ++j) scales[j] = int8_t(group[32 + 16 * j + lane]);
    return block_term(scales, load_f16(group + 2 * lane), a, [&](int v) { return group_level(group, lane, v); });
  }
  static float row_term(const uint8_t* row, const uint8_t* a) {
    return block_term(reinterpret_cast<const int8_t*>(row + 192), load_f16(row + 208), a,
                      [&](int v) { return row_level(row, v); });
  }
};

// Q6_K in 6-bit fields: the WebAssembly build's layout, for SIMD128's 16-bit lanes as
// Q5_0FieldLayout. Per super-block [16 d][16 sub-blocks x 16 rows of scales], then per
// sub-block j [3 vectors k x 4 quads x 8 lanes of 16 bits]: lane l of quad q's vector k
// belongs to row 4q + l/2 and to column `second` = l % 2 of the sub-block's column pairs
// (the kernels' numbering, pair_column); it holds pair 2k's level in bits 4-9 and pair
// 2k+1's in bits 10-15, and in bits 0-3 vectors 0 and 1 hold the low four bits of pairs
// 6 and 7, vector 2 their top two (bits 0-1 and 2-3). Still 16 x 210 bytes, in place.
struct Q6_KFieldLayout : Q6_KLayout {
  // Pair p of a sub-block's 16 columns as widen_k_pairs numbers them: p = i: (4i, 4i+2);
  // p = 4+i: (4i+1, 4i+3).
  static int pair_column(int pair, int second) { return 4 * (pair % 4) + pair / 4 + 2 * second; }
  static size_t lane_offset(int j, int k, int lane, int second) {
    return 288 + 192 * size_t(j) + 64 * size_t(k) + 16 * size_t(lane / 4) + 4 * size_t(lane % 4) + 2 * size_t(second);
  }
  static int word(const uint8_t* group, int j, int k, int lane, int second) {
    uint16_t v;
    std::memcpy(&v, group + lane_offset(j, k, lane, second), 2);
    return v;
  }
  static int group_level(const uint8_t* group, int lane, int v) {
    const int j = v / 16, c = v % 16, pair = 4 * (c % 2) + c / 4, second = (c / 2) % 2;  // pair_column inverted
    if (pair < 6) return (word(group, j, pair / 2, lane, second) >> (4 + 6 * (pair % 2))) & 63;
    const int top = (word(group, j, 2, lane, second) >> (2 * (pair - 6))) & 3;
    return (word(group, j, pair - 6, lane, second) & 15) | top << 4;
  }
  static void pack_block(const uint8_t* row, int lane, uint8_t* group) {
    std::memcpy(group + 2 * lane, row + 208, 2);
    for (int j = 0; j < 16; ++j) group[32 + 16 * j + lane] = row[192 + j];
    for (int j = 0; j < 16; ++j)
      for (int second = 0; second < 2; ++second) {
        int level[8];
        for (int pair = 0; pair < 8; ++pair) level[pair] = row_level(row, 16 * j + pair_column(pair, second));
        for (int k = 0; k < 3; ++k) {
          const int spare = k < 2 ? level[6 + k] & 15 : (level[6] >> 4) | (level[7] >> 4) << 2;
          const uint16_t v = uint16_t(spare | level[2 * k] << 4 | level[2 * k + 1] << 10);
          std::memcpy(group + lane_offset(j, k, lane, second), &v, 2);
        }
      }
  }
  static void unpack_block(const uint8_t* group, int lane, uint8_t* row) {
    unpack_levels(group, lane, row, [&](int v) { return group_level(group, lane, v); });
  }
  static float group_term(const uint8_t* group, int lane, const uint8_t* a) {
    int8_t scales[16];
    for (int j = 0; j < 16; ++j) scales[j] = int8_t(group[32 + 16 * j + lane]);
    return block_term(scales, load_f16(group + 2 * lane), a, [&](int v) { return group_level(group, lane, v); });
  }
};

#ifdef __wasm__  // as Q5_0Packed
using Q6_KPacked = Q6_KFieldLayout;
#else
using Q6_KPacked = Q6_KLayout;
#endif

// ---------------------------------------------------------------------------
// Float types: one column of 16 rows after another; partner rows are f32 values
// rounded through the weight type (what the reference's partner type holds).
// ---------------------------------------------------------------------------

struct F32Values {
  static constexpr size_t kBytes = 4;
  static constexpr bool kHalves = false;
  static float load(const uint8_t* p) { return load_f32(p); }
  static float round(float v) { return v; }
};
struct F16Values {
  static constexpr size_t kBytes = 2;
  static constexpr bool kHalves = true;
  static float load(const uint8_t* p) { return load_f16(p); }
  static float round(float v) { return f16_to_f32(f32_to_f16(v)); }
};
struct BF16Values {
  static constexpr size_t kBytes = 2;
  static constexpr bool kHalves = false;
  static float load(const uint8_t* p) { return load_bf16(p); }
  static float round(float v) { return bf16_to_f32(f32_to_bf16(v)); }
};

template <class V>
void quantize_float_partner(const float* in, uint8_t* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = V::round(in[i]);
    std::memcpy(out + 4 * i, &v, 4);
  }
}

template <class V>
void pack_group_columns(const uint8_t* rows, size_t row_bytes, int64_t cols, uint8_t* group) {
  for (int64_t k = 0; k < cols; ++k)
    for (int lane = 0; lane < R; ++lane)
      std::memcpy(group + (size_t(k) * R + lane) * V::kBytes, rows + size_t(lane) * row_bytes + size_t(k) * V::kBytes,
                  V::kBytes);
}

template <class V>
void unpack_row_columns(const uint8_t* group, int64_t cols, int lane, uint8_t* row) {
  for (int64_t k = 0; k < cols; ++k)
    std::memcpy(row + size_t(k) * V::kBytes, group + (size_t(k) * R + lane) * V::kBytes, V::kBytes);
}

// The reference float dots sum the products in double.
template <class V>
void tile_float(const uint8_t* groups, size_t group_bytes, int n_groups, int64_t cols, const uint8_t* acts,
                size_t act_bytes, int n_tokens, float* out, size_t out_stride) {
  for (int g = 0; g < n_groups; ++g) {
    const uint8_t* group = groups + size_t(g) * group_bytes;
    for (int t = 0; t < n_tokens; ++t) {
      const uint8_t* act = acts + size_t(t) * act_bytes;
      for (int lane = 0; lane < R; ++lane) {
        double sum = 0;
        for (int64_t k = 0; k < cols; ++k)
          sum += double(V::load(group + (size_t(k) * R + lane) * V::kBytes) * load_f32(act + 4 * k));
        out[size_t(t) * out_stride + size_t(R * g + lane)] = float(sum);
      }
    }
  }
}

template <class V>
float tail_dot_float(const uint8_t* row, const uint8_t* act, int64_t cols) {
  double sum = 0;
  for (int64_t k = 0; k < cols; ++k) sum += double(V::load(row + size_t(k) * V::kBytes) * load_f32(act + 4 * k));
  return float(sum);
}

// ---------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------

using T = TensorType;
template <class L>
bool block_scales_finite(const uint8_t* data, size_t bytes) {
  return halves_finite_every(data, bytes, L::kRowBlockBytes);  // each block starts with its f16 scale
}
template <class L>
constexpr PackedTypeInfo q8_family(TensorType type) {
  return {type, kBlock, kPartnerBlockBytes, pack_group_blocks<L>, unpack_row_blocks<L>,
          quantize_q8_partner<L::kOffset>, tile_blocks<Q8_0Terms<L>>, tail_dot_blocks<Q8_0Terms<L>>,
          block_scales_finite<L>};
}
// Q4_1 and Q5_1 blocks start with two halves (d, m).
template <class L>
bool block_scale_and_min_finite(const uint8_t* data, size_t bytes) {
  return halves_finite_every(data, bytes, L::kRowBlockBytes) && halves_finite_every(data + 2, bytes - 2, L::kRowBlockBytes);
}
template <class L>
constexpr PackedTypeInfo q8_1_family(TensorType type) {
  return {type, kBlock, kPartnerBlockBytes, pack_group_blocks<L>, unpack_row_blocks<L>,
          quantize_q8_1_partner, tile_blocks<L>, tail_dot_blocks<L>, block_scale_and_min_finite<L>};
}
// Q4_K blocks start with two halves (d, dmin); Q6_K blocks end with one (d).
template <class L>
bool super_block_scales_finite(const uint8_t* data, size_t bytes) {
  for (size_t offset : L::kHalfOffsets)
    if (!halves_finite_every(data + offset, bytes - offset, L::kRowBlockBytes)) return false;
  return true;
}
template <class L, int kFactor>
constexpr PackedTypeInfo k_quant(TensorType type) {
  return {type, kSuper, L::kPartnerBytes, pack_group_blocks<L>, unpack_row_blocks<L>,
          quantize_k_partner<L::kSums, kFactor>, tile_blocks<L>, tail_dot_blocks<L>,
          super_block_scales_finite<L>};
}
template <class V>
constexpr PackedTypeInfo float_type(TensorType type) {
  return {type, 1, 4, pack_group_columns<V>, unpack_row_columns<V>, quantize_float_partner<V>, tile_float<V>,
          tail_dot_float<V>, V::kHalves ? f16_values_finite : nullptr};
}

const PackedTypeInfo kPackedTypes[] = {
    q8_family<Q8_0Layout>(T::Q8_0),
    q8_family<Q4_0Layout>(T::Q4_0),
    q8_family<Q5_0Packed>(T::Q5_0),
    q8_1_family<Q4_1Layout>(T::Q4_1),
    q8_1_family<Q5_1Layout>(T::Q5_1),
    k_quant<Q4_KLayout, 1>(T::Q4_K),
    k_quant<Q5_KPacked, 1>(T::Q5_K),
    k_quant<Q6_KPacked, -32>(T::Q6_K),
    float_type<F32Values>(T::F32),
    float_type<F16Values>(T::F16),
    float_type<BF16Values>(T::BF16),
};

// The field layouts, whichever build this is (the web build's table holds them too).
const PackedTypeInfo kFieldTypes[] = {
    q8_family<Q5_0FieldLayout>(T::Q5_0),
    q8_1_family<WithMinLayout<Q5_0FieldLayout>>(T::Q5_1),
    k_quant<Q5_KFieldLayout, 1>(T::Q5_K),
    k_quant<Q6_KFieldLayout, -32>(T::Q6_K),
};

}  // namespace

const PackedTypeInfo* find_field_packed_info(TensorType type) {
  for (const PackedTypeInfo& info : kFieldTypes)
    if (info.type == type) return &info;
  return nullptr;
}

const PackedTypeInfo* find_packed_info(TensorType type) {
  for (const PackedTypeInfo& info : kPackedTypes)
    if (info.type == type) return &info;
  return nullptr;
}

size_t packed_partner_row_bytes(TensorType type, int64_t cols) {
  const PackedTypeInfo* info = find_packed_info(type);
  if (!info) fail(std::string("no packed layout for ") + type_info(type).name);
  return size_t(cols / info->partner_block) * info->partner_block_bytes;
}

bool can_pack(const TensorView& tensor) {
  if (tensor.packed || tensor.empty() || tensor.n_dims != 2 || tensor.rows() < R) return false;
  const PackedTypeInfo* info = find_packed_info(tensor.type);
  return info && (!info->halves_finite || info->halves_finite(tensor.data, tensor.bytes));
}

void pack_in_place(TensorView& tensor, uint8_t* data) {
  if (!can_pack(tensor)) fail("tensor '" + tensor.name + "' cannot be packed");
  const PackedTypeInfo& info = *find_packed_info(tensor.type);
  const size_t row_bytes = tensor.bytes_per_row();
  const size_t group_bytes = R * row_bytes;
  thread_pool().parallel_for(tensor.rows() / R, [&](int64_t begin, int64_t end) {
    std::vector<uint8_t> rows(group_bytes);
    for (int64_t g = begin; g < end; ++g) {
      uint8_t* group = data + size_t(g) * group_bytes;
      std::memcpy(rows.data(), group, group_bytes);
      info.pack_group(rows.data(), row_bytes, tensor.row_length(), group);
    }
  });
  tensor.packed = true;
}

void copy_row_bytes(const TensorView& tensor, int64_t r, uint8_t* out) {
  if (r < 0 || r >= tensor.rows()) fail("row " + std::to_string(r) + " out of range for " + tensor.name);
  const size_t row_bytes = tensor.bytes_per_row();
  const int64_t full_groups = tensor.rows() / R;
  if (!tensor.packed || r >= full_groups * R) {
    std::memcpy(out, tensor.data + size_t(r) * row_bytes, row_bytes);
    return;
  }
  find_packed_info(tensor.type)->unpack_row(tensor.data + size_t(r / R) * R * row_bytes, tensor.row_length(), int(r % R),
                                            out);
}

}  // namespace loupe
