// A model whose weights were packed at load (kernels/packed.h) computes what the same
// model left row-major computes: the same bits for the Q8_0 family and K-quants (their
// packed kernels keep each instruction set's dot or the reference's expression), float
// rounding for f32/f16 — through every architecture's forward pass, prompt and KV cache.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "kernels/dispatch.h"
#include "model/forward.h"
#include "test_models.h"

namespace loupe {
namespace {

// Loads the tiny model twice: as the loader leaves it, and with packing switched off.
struct PackedAndRowMajor {
  Model packed, row_major;
  explicit PackedAndRowMajor(const test::TinyModelSpec& spec) {
    const std::vector<uint8_t> bytes = test::tiny_model_gguf(spec);
    packed = load_model_from_bytes(bytes, "packed");
    setenv("LOUPE_PACKED", "0", 1);
    row_major = load_model_from_bytes(bytes, "row-major");
    unsetenv("LOUPE_PACKED");
  }
};

std::vector<float> logits_of(const Model& model, const std::vector<int32_t>& ids, bool one_by_one) {
  InferenceState state = make_state(model);
  if (!one_by_one) {
    forward(model, state, ids, /*all_logits=*/true);
    return state.logits;
  }
  std::vector<float> rows;
  for (int32_t id : ids) {
    forward(model, state, std::span<const int32_t>(&id, 1));
    rows.insert(rows.end(), state.logits.begin(), state.logits.end());
  }
  return rows;
}

TEST(PackedModel, SameLogitsAsRowMajor) {
  struct Case { Architecture arch; TensorType type; bool exact; };
  const Case cases[] = {
      {Architecture::Llama, TensorType::Q8_0, true}, {Architecture::Llama, TensorType::Q4_0, true},
      {Architecture::Qwen2, TensorType::Q5_0, true}, {Architecture::Gpt2, TensorType::Q8_0, true},
      {Architecture::Llama, TensorType::F16, false}, {Architecture::Llama, TensorType::F32, false},
      {Architecture::Gpt2, TensorType::F32, false},
  };
  for (const Case& c : cases) {
    test::TinyModelSpec spec;
    spec.arch = c.arch;
    spec.type = c.type;
    spec.dim = 64;
    spec.n_heads = 4;
    spec.n_kv_heads = c.arch == Architecture::Gpt2 ? 0 : 2;
    spec.ff_dim = 96;
    spec.vocab_size = 50;
    spec.tied_output = c.arch == Architecture::Llama;
    spec.weight_scale = 0.125f;  // 1/sqrt(dim): activations stay O(1), so rounding is not amplified
    PackedAndRowMajor models(spec);
    // Packed where this build has packed kernels for the type (kernels/dispatch.h).
    const bool packs = type_kernels(c.type).packed_isa == kernel_isa();
    ASSERT_EQ(models.packed.weights.layers[0].w_up.packed, packs) << type_info(c.type).name;
    ASSERT_FALSE(models.row_major.weights.layers[0].w_up.packed);
    const std::vector<int32_t> ids = {1, 7, 12, 5, 30, 2, 9, 17, 44, 3, 8, 21};
    for (bool one_by_one : {false, true}) {
      const std::vector<float> a = logits_of(models.packed, ids, one_by_one);
      const std::vector<float> b = logits_of(models.row_major, ids, one_by_one);
      ASSERT_EQ(a.size(), b.size());
      // Rounding is judged against the largest logit, as the reference-logit tests do. F16
      // weights meet activations rounded to f16, where a last-bit difference upstream can
      // move a value by a whole f16 step (as 8-bit activations do for quantized types);
      // GPT-2's GELU reads an f16 table (as llama.cpp's does), with the same effect.
      const double tolerance = c.type == TensorType::F16 || c.arch == Architecture::Gpt2 ? 1e-3 : 1e-5;
      float largest = 0;
      for (float v : b) largest = std::max(largest, std::fabs(v));
      for (size_t i = 0; i < a.size(); ++i) {
        if (c.exact)
          ASSERT_EQ(a[i], b[i]) << architecture_name(c.arch) << " " << type_info(c.type).name << " i=" << i;
        else
          ASSERT_NEAR(a[i], b[i], tolerance * largest) << architecture_name(c.arch) << " " << type_info(c.type).name;
      }
    }
  }
}

}  // namespace
}  // namespace loupe
