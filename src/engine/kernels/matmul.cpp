// Matrix products through the dispatched kernels (kernels/dispatch.h).
#include "kernels/matmul.h"

#include <algorithm>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/dispatch.h"
#include "kernels/thread_pool.h"

namespace loupe {

namespace {

// Weight rows per tile: 16 rows of a 576-wide Q8_0 matrix are ~10 KB, well inside L1.
constexpr int64_t kTileRows = 16;

struct PreparedTarget {
  const TensorView* weight;
  float* out;
  const float* bias;          // null when none
  const uint8_t* partner;     // (n_tokens) activation rows in the partner type
  size_t partner_row_bytes;
  DotFn dot;
  DotTileFn tile;             // null: row by row
  int tile_rows, tile_cols;
  DotTileFn tile1;            // null: row by row
  int tile1_rows;
  int64_t first_tile;         // index of this target's first tile in the whole job
};

}  // namespace

void matmul_shared_input(std::span<const MatmulTarget> targets, const float* in, int n_tokens) {
  if (targets.empty() || n_tokens <= 0) return;
  const int64_t n_in = targets[0].weight->row_length();

  // Convert the activations once per distinct partner type.
  thread_local std::vector<uint8_t> converted[4];
  thread_local std::vector<float> bias_scratch[4];
  TensorType converted_types[4];
  int n_converted = 0;

  std::vector<PreparedTarget> prepared;
  prepared.reserve(targets.size());
  int64_t n_tiles = 0;
  for (size_t i = 0; i < targets.size(); ++i) {
    const MatmulTarget& target = targets[i];
    const TensorView& weight = *target.weight;
    if (weight.row_length() != n_in) fail("matmul: weights sharing an input must have the same row length");
    const TypeKernels& kernels = type_kernels(weight.type);
    const size_t partner_row_bytes = row_bytes(kernels.partner, n_in);
    const uint8_t* partner = reinterpret_cast<const uint8_t*>(in);
    if (kernels.partner != TensorType::F32) {
      int slot = -1;
      for (int c = 0; c < n_converted; ++c)
        if (converted_types[c] == kernels.partner) slot = c;
      if (slot < 0) {
        if (n_converted == 4) fail("matmul: too many partner types in one call");
        slot = n_converted++;
        converted_types[slot] = kernels.partner;
        std::vector<uint8_t>& buffer = converted[slot];
        buffer.resize(partner_row_bytes * size_t(n_tokens));
        for (int t = 0; t < n_tokens; ++t)
          kernels.quantize(in + int64_t(t) * n_in, buffer.data() + partner_row_bytes * size_t(t), n_in);
      }
      partner = converted[slot].data();
    }
    const float* bias = nullptr;
    if (target.bias && !target.bias->empty()) bias = f32_data(*target.bias, bias_scratch[std::min<size_t>(i, 3)]);
    prepared.push_back({&weight, target.out, bias, partner, partner_row_bytes, kernels.dot, kernels.tile,
                        kernels.tile_rows, kernels.tile_cols, kernels.tile1, kernels.tile1_rows, n_tiles});
    n_tiles += (weight.rows() + kTileRows - 1) / kTileRows;
  }

  thread_pool().parallel_for(n_tiles, [&](int64_t begin, int64_t end) {
    size_t p = 0;
    for (int64_t tile = begin; tile < end; ++tile) {
      while (p + 1 < prepared.size() && prepared[p + 1].first_tile <= tile) ++p;
      const PreparedTarget& target = prepared[p];
      const TensorView& weight = *target.weight;
      const int64_t n_out = weight.rows();
      const int64_t r0 = (tile - target.first_tile) * kTileRows;
      const int64_t r1 = std::min(n_out, r0 + kTileRows);
      const size_t weight_row_bytes = weight.bytes_per_row();
      int t = 0;
      if (target.tile && n_tokens >= target.tile_cols) {
        // Tiles of tile_rows x tile_cols; the rows and tokens left over go one by one.
        const size_t act_bytes = target.partner_row_bytes;
        for (; t + target.tile_cols <= n_tokens; t += target.tile_cols) {
          const uint8_t* acts = target.partner + act_bytes * size_t(t);
          float* out = target.out + int64_t(t) * n_out;
          int64_t r = r0;
          for (; r + target.tile_rows <= r1; r += target.tile_rows)
            target.tile(weight.data + weight_row_bytes * size_t(r), weight_row_bytes, acts, act_bytes, n_in, out + r,
                        size_t(n_out));
          for (; r < r1; ++r)
            for (int c = 0; c < target.tile_cols; ++c)
              out[c * n_out + r] = target.dot(weight.data + weight_row_bytes * size_t(r), acts + act_bytes * size_t(c), n_in);
        }
      }
      for (; t < n_tokens; ++t) {
        const uint8_t* act = target.partner + target.partner_row_bytes * size_t(t);
        float* out = target.out + int64_t(t) * n_out;
        int64_t r = r0;
        if (target.tile1)
          for (; r + target.tile1_rows <= r1; r += target.tile1_rows)
            target.tile1(weight.data + weight_row_bytes * size_t(r), weight_row_bytes, act, 0, n_in, out + r, 0);
        for (; r < r1; ++r) out[r] = target.dot(weight.data + weight_row_bytes * size_t(r), act, n_in);
      }
      if (target.bias)
        for (int t2 = 0; t2 < n_tokens; ++t2)
          for (int64_t r = r0; r < r1; ++r) target.out[int64_t(t2) * n_out + r] += target.bias[r];
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
  type_info(tensor.type).to_float(tensor.row(r), out, tensor.row_length());
}

const float* f32_data(const TensorView& tensor, std::vector<float>& scratch) {
  if (tensor.type == TensorType::F32) return reinterpret_cast<const float*>(tensor.data);
  scratch.resize(size_t(tensor.elements()));
  type_info(tensor.type).to_float(tensor.data, scratch.data(), tensor.elements());
  return scratch.data();
}

}  // namespace loupe
