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

// The reference chain: sum += float(integer block sum) * (dx * dy), block after block.
template <class L>
void tile_q8_family(const uint8_t* groups, size_t group_bytes, int n_groups, int64_t cols, const uint8_t* acts,
                    size_t act_bytes, int n_tokens, float* out, size_t out_stride) {
  const int64_t nb = cols / kBlock;
  for (int g = 0; g < n_groups; ++g) {
    const uint8_t* group = groups + size_t(g) * group_bytes;
    for (int t = 0; t < n_tokens; ++t) {
      const uint8_t* act = acts + size_t(t) * act_bytes;
      for (int lane = 0; lane < R; ++lane) {
        float sum = 0;
        for (int64_t b = 0; b < nb; ++b) {
          const uint8_t* block = group + size_t(b) * L::kGroupBlockBytes;
          const uint8_t* a = act + size_t(b) * kPartnerBlockBytes;
          const int32_t integer = load_i32(a + 4) + L::offset_sum(block, lane, reinterpret_cast<const int8_t*>(a + 8));
          sum += float(integer) * (load_f16(block + 2 * lane) * load_f32(a));
        }
        out[size_t(t) * out_stride + size_t(R * g + lane)] = sum;
      }
    }
  }
}

template <class L>
float tail_dot_q8_family(const uint8_t* row, const uint8_t* act, int64_t cols) {
  float sum = 0;
  for (int64_t b = 0; b < cols / kBlock; ++b, row += L::kRowBlockBytes, act += kPartnerBlockBytes)
    sum += float(L::row_sum(row, reinterpret_cast<const int8_t*>(act + 8))) * (load_f16(row) * load_f32(act));
  return sum;
}

template <class L>
void pack_group_blocks(const uint8_t* rows, size_t row_bytes, int64_t cols, uint8_t* group) {
  for (int64_t b = 0; b < cols / kBlock; ++b)
    for (int lane = 0; lane < R; ++lane)
      L::pack_block(rows + size_t(lane) * row_bytes + size_t(b) * L::kRowBlockBytes, lane,
                    group + size_t(b) * L::kGroupBlockBytes);
}

template <class L>
void unpack_row_blocks(const uint8_t* group, int64_t cols, int lane, uint8_t* row) {
  for (int64_t b = 0; b < cols / kBlock; ++b)
    L::unpack_block(group + size_t(b) * L::kGroupBlockBytes, lane, row + size_t(b) * L::kRowBlockBytes);
}

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
          quantize_q8_partner<L::kOffset>, tile_q8_family<L>, tail_dot_q8_family<L>, block_scales_finite<L>};
}
template <class V>
constexpr PackedTypeInfo float_type(TensorType type) {
  return {type, 1, 4, pack_group_columns<V>, unpack_row_columns<V>, quantize_float_partner<V>, tile_float<V>,
          tail_dot_float<V>, V::kHalves ? f16_values_finite : nullptr};
}

const PackedTypeInfo kPackedTypes[] = {
    q8_family<Q8_0Layout>(T::Q8_0),
    q8_family<Q4_0Layout>(T::Q4_0),
    float_type<F32Values>(T::F32),
    float_type<F16Values>(T::F16),
    float_type<BF16Values>(T::BF16),
};

}  // namespace

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
