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

// Weight rows per tile: 16 rows of a 576-wide Q8_0 matrix are ~10 KB, well inside L1.
constexpr int64_t kTileRows = 16;
// Packed groups (of 16 rows) per unit of work: each unit runs every token over its rows
// while they sit in L1/L2. Four let a kernel keep several rows' chains in flight when
// generating (one token), two when reading a prompt.
int64_t groups_per_unit(int n_tokens) { return n_tokens == 1 ? 4 : 2; }

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

// Row-major weights: tiles of kTileRows rows, each through the tile kernels.
void run_row_major(const PreparedTarget& target, int64_t unit, int n_tokens) {
  const TensorView& weight = *target.weight;
  const TypeKernels& k = *target.kernels;
  const int64_t n_in = weight.row_length(), n_out = weight.rows();
  const int64_t r0 = unit * kTileRows;
  const int64_t r1 = std::min(n_out, r0 + kTileRows);
  const size_t weight_row_bytes = weight.bytes_per_row();
  int t = 0;
  if (k.tile && n_tokens >= k.tile_cols) {
    // Tiles of tile_rows x tile_cols; the rows and tokens left over go one by one.
    const size_t act_bytes = target.partner_row_bytes;
    for (; t + k.tile_cols <= n_tokens; t += k.tile_cols) {
      const uint8_t* acts = target.partner + act_bytes * size_t(t);
      float* out = target.out + int64_t(t) * n_out;
      int64_t r = r0;
      for (; r + k.tile_rows <= r1; r += k.tile_rows)
        k.tile(weight.data + weight_row_bytes * size_t(r), weight_row_bytes, acts, act_bytes, n_in, out + r,
               size_t(n_out));
      for (; r < r1; ++r)
        for (int c = 0; c < k.tile_cols; ++c)
          out[c * n_out + r] = k.dot(weight.data + weight_row_bytes * size_t(r), acts + act_bytes * size_t(c), n_in);
    }
  }
  for (; t < n_tokens; ++t) {
    const uint8_t* act = target.partner + target.partner_row_bytes * size_t(t);
    float* out = target.out + int64_t(t) * n_out;
    int64_t r = r0;
    if (k.tile1)
      for (; r + k.tile1_rows <= r1; r += k.tile1_rows)
        k.tile1(weight.data + weight_row_bytes * size_t(r), weight_row_bytes, act, 0, n_in, out + r, 0);
    for (; r < r1; ++r) out[r] = k.dot(weight.data + weight_row_bytes * size_t(r), act, n_in);
  }
  if (target.bias)
    for (int t2 = 0; t2 < n_tokens; ++t2)
      for (int64_t r = r0; r < r1; ++r) target.out[int64_t(t2) * n_out + r] += target.bias[r];
}

// Packed weights: a unit is groups_per_unit groups of 16 rows, or (the last unit) the
// rows after the last whole group, which are still row-major.
void run_packed(const PreparedTarget& target, int64_t unit, int n_tokens) {
  const TensorView& weight = *target.weight;
  const TypeKernels& k = *target.kernels;
  const int64_t n_in = weight.row_length(), n_out = weight.rows();
  const int64_t n_groups = n_out / kPackedRows;
  const size_t group_bytes = size_t(kPackedRows) * weight.bytes_per_row();
  const int64_t per_unit = groups_per_unit(n_tokens);
  const int64_t g0 = unit * per_unit;
  int64_t r0, r1;
  if (g0 < n_groups) {
    const int64_t g1 = std::min(n_groups, g0 + per_unit);
    k.packed_tile(weight.data + size_t(g0) * group_bytes, group_bytes, int(g1 - g0), n_in, target.partner,
                  target.partner_row_bytes, n_tokens, target.out + g0 * kPackedRows, size_t(n_out));
    r0 = g0 * kPackedRows;
    r1 = g1 * kPackedRows;
  } else {
    r0 = n_groups * kPackedRows;
    r1 = n_out;
    const size_t row_bytes = weight.bytes_per_row();
    for (int t = 0; t < n_tokens; ++t)
      for (int64_t r = r0; r < r1; ++r)
        target.out[int64_t(t) * n_out + r] = k.packed_tail_dot(
            weight.data + size_t(r) * row_bytes, target.partner + target.partner_row_bytes * size_t(t), n_in);
  }
  if (target.bias)
    for (int t = 0; t < n_tokens; ++t)
      for (int64_t r = r0; r < r1; ++r) target.out[int64_t(t) * n_out + r] += target.bias[r];
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
    for (int t = 0; t < n_tokens; ++t) run(in + int64_t(t) * n_in, converted[slot].data() + row_bytes * size_t(t));
    return converted[slot].data();
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
      const int64_t n_groups = weight.rows() / kPackedRows;
      const int64_t per_unit = groups_per_unit(n_tokens);
      p.n_units = (n_groups + per_unit - 1) / per_unit + (weight.rows() % kPackedRows ? 1 : 0);
    } else {
      p.partner_row_bytes = row_bytes(kernels.partner, n_in);
      p.partner = reinterpret_cast<const uint8_t*>(in);
      if (kernels.partner != TensorType::F32) {
        const FromFloatFn quantize = kernels.quantize;
        p.partner = convert(reinterpret_cast<const void*>(quantize), p.partner_row_bytes,
                            [&](const float* row, uint8_t* out) { quantize(row, out, n_in); });
      }
      p.n_units = (weight.rows() + kTileRows - 1) / kTileRows;
    }
    if (target.bias && !target.bias->empty()) p.bias = f32_data(*target.bias, bias_scratch[std::min<size_t>(i, kSlots - 1)]);
    prepared.push_back(p);
    n_units += p.n_units;
  }

  thread_pool().parallel_for(n_units, [&](int64_t begin, int64_t end) {
    size_t p = 0;
    for (int64_t unit = begin; unit < end; ++unit) {
      while (p + 1 < prepared.size() && prepared[p + 1].first_unit <= unit) ++p;
      const PreparedTarget& target = prepared[p];
      if (target.weight->packed) run_packed(target, unit - target.first_unit, n_tokens);
      else run_row_major(target, unit - target.first_unit, n_tokens);
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
