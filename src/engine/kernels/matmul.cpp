// Matrix products through the dispatched kernels (kernels/dispatch.h).
#include "kernels/matmul.h"

#include <algorithm>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/dispatch.h"
#include "kernels/packed.h"
#include "kernels/thread_pool.h"

namespace loupe {

namespace {

// Rows per unit of work, the grain at which a product is split between threads: 16
// rows (a tile of row-major weights, a group of packed ones). A thread's share of a
// product is one contiguous range of units, which it runs in one kernel call per matrix
// (so a kernel's per-call set-up, e.g. widening a token's activations, is paid once).
constexpr int64_t kTileRows = 16;
static_assert(kTileRows == kPackedRows);
// Activation rows converted to the partner type per chunk of a prompt's conversion.
constexpr int64_t kRowsPerConversionChunk = 8;

struct PreparedTarget {
  const TensorView* weight;
  float* out;
  const float* bias;          // null when none
  const uint8_t* partner;     // (n_tokens) activation rows in the partner type
  size_t partner_row_bytes;
  const TypeKernels* kernels;
  int64_t first_unit;         // index of this target's first unit in the whole job
  int64_t n_units;
};

void add_bias(const PreparedTarget& target, int64_t r0, int64_t r1, int n_tokens) {
  if (!target.bias) return;
  const int64_t n_out = target.weight->rows();
  for (int t = 0; t < n_tokens; ++t)
    for (int64_t r = r0; r < r1; ++r) target.out[int64_t(t) * n_out + r] += target.bias[r];
}

// Row-major weights, rows [r0, r1), one tile of 16 rows after another (a tile's rows
// stay in L1 for all the tokens): tiles of the tile kernels, the rest one by one.
void run_row_major(const PreparedTarget& target, int64_t r0, int64_t r1, int n_tokens) {
  const TensorView& weight = *target.weight;
  const TypeKernels& k = *target.kernels;
  const int64_t n_in = weight.row_length(), n_out = weight.rows();
  const size_t weight_row_bytes = weight.bytes_per_row();
  for (int64_t tile0 = r0; tile0 < r1; tile0 += kTileRows) {
    const int64_t tile1 = std::min(r1, tile0 + kTileRows);
    int t = 0;
    if (k.tile && n_tokens >= k.tile_cols) {
      const size_t act_bytes = target.partner_row_bytes;
      for (; t + k.tile_cols <= n_tokens; t += k.tile_cols) {
        const uint8_t* acts = target.partner + act_bytes * size_t(t);
        float* out = target.out + int64_t(t) * n_out;
        int64_t r = tile0;
        for (; r + k.tile_rows <= tile1; r += k.tile_rows)
          k.tile(weight.data + weight_row_bytes * size_t(r), weight_row_bytes, acts, act_bytes, n_in, out + r,
                 size_t(n_out));
        for (; r < tile1; ++r)
          for (int c = 0; c < k.tile_cols; ++c)
            out[c * n_out + r] = k.dot(weight.data + weight_row_bytes * size_t(r), acts + act_bytes * size_t(c), n_in);
      }
    }
    for (; t < n_tokens; ++t) {
      const uint8_t* act = target.partner + target.partner_row_bytes * size_t(t);
      float* out = target.out + int64_t(t) * n_out;
      int64_t r = tile0;
      if (k.tile1)
        for (; r + k.tile1_rows <= tile1; r += k.tile1_rows)
          k.tile1(weight.data + weight_row_bytes * size_t(r), weight_row_bytes, act, 0, n_in, out + r, 0);
      for (; r < tile1; ++r) out[r] = k.dot(weight.data + weight_row_bytes * size_t(r), act, n_in);
    }
  }
  add_bias(target, r0, r1, n_tokens);
}

// Packed weights, rows [r0, r1): the whole groups in one call of the packed kernel;
// rows after the last whole group are still row-major.
void run_packed(const PreparedTarget& target, int64_t r0, int64_t r1, int n_tokens) {
  const TensorView& weight = *target.weight;
  const TypeKernels& k = *target.kernels;
  const int64_t n_in = weight.row_length(), n_out = weight.rows();
  const int64_t grouped_end = std::min(r1, n_out / kPackedRows * kPackedRows);
  if (r0 < grouped_end) {
    const size_t group_bytes = size_t(kPackedRows) * weight.bytes_per_row();
    k.packed_tile(weight.data + size_t(r0 / kPackedRows) * group_bytes, group_bytes, int((grouped_end - r0) / kPackedRows),
                  n_in, target.partner, target.partner_row_bytes, n_tokens, target.out + r0, size_t(n_out));
  }
  const size_t row_bytes = weight.bytes_per_row();
  for (int t = 0; t < n_tokens; ++t)
    for (int64_t r = std::max(r0, grouped_end); r < r1; ++r)
      target.out[int64_t(t) * n_out + r] = k.packed_tail_dot(
          weight.data + size_t(r) * row_bytes, target.partner + target.partner_row_bytes * size_t(t), n_in);
  add_bias(target, r0, r1, n_tokens);
}

}  // namespace

void matmul_shared_input(std::span<const MatmulTarget> targets, const float* in, int n_tokens) {
  if (targets.empty() || n_tokens <= 0) return;
  const int64_t n_in = targets[0].weight->row_length();

  // Convert the activations once per distinct partner format (named by its converter).
  constexpr int kSlots = 4;
  thread_local std::vector<uint8_t> converted[kSlots];
  thread_local std::vector<float> bias_scratch[kSlots];
  const void* converted_by[kSlots];
  int n_converted = 0;
  auto convert = [&](const void* converter, size_t row_bytes, auto&& run) -> const uint8_t* {
    for (int c = 0; c < n_converted; ++c)
      if (converted_by[c] == converter) return converted[c].data();
    if (n_converted == kSlots) fail("matmul: too many partner types in one call");
    const int slot = n_converted++;
    converted_by[slot] = converter;
    converted[slot].resize(row_bytes * size_t(n_tokens));
    uint8_t* rows = converted[slot].data();
    thread_pool().parallel_for(n_tokens, [&](int64_t begin, int64_t end) {  // a prompt's rows: on every thread
      for (int64_t t = begin; t < end; ++t) run(in + t * n_in, rows + row_bytes * size_t(t));
    }, kRowsPerConversionChunk);
    return rows;
  };

  std::vector<PreparedTarget> prepared;
  prepared.reserve(targets.size());
  int64_t n_units = 0;
  for (size_t i = 0; i < targets.size(); ++i) {
    const MatmulTarget& target = targets[i];
    const TensorView& weight = *target.weight;
    if (weight.row_length() != n_in) fail("matmul: weights sharing an input must have the same row length");
    const TypeKernels& kernels = type_kernels(weight.type);
    PreparedTarget p{&weight, target.out, nullptr, nullptr, 0, &kernels, n_units, 0};
    if (weight.packed) {
      if (!kernels.packed_tile) fail("matmul: '" + weight.name + "' is packed, but its type has no packed kernels");
      p.partner_row_bytes = packed_partner_row_bytes(weight.type, n_in);
      const PackedQuantizeFn quantize = kernels.packed_quantize;
      p.partner = convert(reinterpret_cast<const void*>(quantize), p.partner_row_bytes,
                          [&](const float* row, uint8_t* out) { quantize(row, out, n_in); });
    } else {
      p.partner_row_bytes = row_bytes(kernels.partner, n_in);
      p.partner = reinterpret_cast<const uint8_t*>(in);
      if (kernels.partner != TensorType::F32) {
        const FromFloatFn quantize = kernels.quantize;
        p.partner = convert(reinterpret_cast<const void*>(quantize), p.partner_row_bytes,
                            [&](const float* row, uint8_t* out) { quantize(row, out, n_in); });
      }
    }
    p.n_units = (weight.rows() + kTileRows - 1) / kTileRows;
    if (target.bias && !target.bias->empty()) p.bias = f32_data(*target.bias, bias_scratch[std::min<size_t>(i, kSlots - 1)]);
    prepared.push_back(p);
    n_units += p.n_units;
  }

  // A chunk [begin, end) of units may span several targets: each gets one call.
  thread_pool().parallel_for(n_units, [&](int64_t begin, int64_t end) {
    for (const PreparedTarget& target : prepared) {
      const int64_t u0 = std::max(begin, target.first_unit), u1 = std::min(end, target.first_unit + target.n_units);
      if (u0 >= u1) continue;
      const int64_t r0 = (u0 - target.first_unit) * kTileRows;
      const int64_t r1 = std::min(target.weight->rows(), (u1 - target.first_unit) * kTileRows);
      if (target.weight->packed) run_packed(target, r0, r1, n_tokens);
      else run_row_major(target, r0, r1, n_tokens);
    }
  });
}

void matmul(const TensorView& weight, const float* in, int n_tokens, float* out) {
  const MatmulTarget target{&weight, out, nullptr};
  matmul_shared_input(std::span<const MatmulTarget>(&target, 1), in, n_tokens);
}

void matmul_bias(const TensorView& weight, const TensorView& bias, const float* in, int n_tokens,
                 float* out) {
  const MatmulTarget target{&weight, out, &bias};
  matmul_shared_input(std::span<const MatmulTarget>(&target, 1), in, n_tokens);
}

void read_row(const TensorView& tensor, int64_t r, float* out) {
  if (r < 0 || r >= tensor.rows()) fail("row " + std::to_string(r) + " out of range for " + tensor.name);
  if (!tensor.packed) {
    type_info(tensor.type).to_float(tensor.row(r), out, tensor.row_length());
    return;
  }
  thread_local std::vector<uint8_t> row_bytes;
  row_bytes.resize(tensor.bytes_per_row());
  copy_row_bytes(tensor, r, row_bytes.data());
  type_info(tensor.type).to_float(row_bytes.data(), out, tensor.row_length());
}

std::vector<float> dequantize_rows(const TensorView& tensor) {
  std::vector<float> out(size_t(tensor.elements()));
  for (int64_t r = 0; r < tensor.rows(); ++r) read_row(tensor, r, out.data() + r * tensor.row_length());
  return out;
}

const float* f32_data(const TensorView& tensor, std::vector<float>& scratch) {
  if (tensor.type == TensorType::F32 && !tensor.packed) return reinterpret_cast<const float*>(tensor.data);
  if (tensor.packed) {
    scratch = dequantize_rows(tensor);
    return scratch.data();
  }
  scratch.resize(size_t(tensor.elements()));
  type_info(tensor.type).to_float(tensor.data, scratch.data(), tensor.elements());
  return scratch.data();
}

}  // namespace loupe
