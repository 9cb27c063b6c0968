// Loupe's logits against llama.cpp's on the random-weight reference models in
// ../shared/reference/models (see its README): every model, both cases, every position.
// The same test binary runs natively and in wasm under Node.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>

#include "model/forward.h"
#include "model/model.h"
#include "sampling/generate.h"
#include "test_support.h"

namespace loupe {
namespace {

struct Agreement {
  int rows = 0;
  int rows_within_1e4 = 0;          // rows whose max |diff| <= 1e-4 x max|logit|
  double max_abs_diff = 0;
  double max_abs_logit = 0;
  int top1_mismatches = 0;           // anywhere
  int top1_mismatches_clear = 0;     // where the reference's top two are > 0.1 apart
};

Agreement compare_logits(const std::vector<float>& ours, const std::vector<float>& reference, int n_vocab) {
  Agreement a;
  const size_t rows = reference.size() / size_t(n_vocab);
  a.rows = int(rows);
  for (float r : reference) a.max_abs_logit = std::max(a.max_abs_logit, double(std::fabs(r)));
  for (size_t row = 0; row < rows; ++row) {
    const float* x = ours.data() + row * n_vocab;
    const float* r = reference.data() + row * n_vocab;
    double row_max = 0;
    for (int i = 0; i < n_vocab; ++i) row_max = std::max(row_max, double(std::fabs(x[i] - r[i])));
    a.max_abs_diff = std::max(a.max_abs_diff, row_max);
    if (row_max <= 1e-4 * a.max_abs_logit) ++a.rows_within_1e4;
    const int ours_top = int(std::max_element(x, x + n_vocab) - x);
    const int ref_top = int(std::max_element(r, r + n_vocab) - r);
    if (ours_top != ref_top) {
      ++a.top1_mismatches;
      std::vector<float> sorted(r, r + n_vocab);
      std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<float>());
      if (sorted[0] - sorted[1] > 0.1f) ++a.top1_mismatches_clear;
    }
  }
  return a;
}

class ReferenceLogits : public ::testing::TestWithParam<std::string> {};

TEST_P(ReferenceLogits, AgreeAtEveryPosition) {
  const std::string name = GetParam();
  LOUPE_REQUIRE_REFERENCE(model_path, "models/" + name + ".gguf");
  Model model = load_model(model_path);
  const bool quantized = name.find("f32") == std::string::npos;
  for (int case_index = 1; case_index <= 2; ++case_index) {
    const std::string base = model_path.substr(0, model_path.size() - 5) + ".case" + std::to_string(case_index);
    std::ifstream json_file(base + ".json");
    ASSERT_TRUE(json_file) << base;
    const nlohmann::json spec = nlohmann::json::parse(json_file);
    const std::vector<int32_t> ids = spec["tokens"].get<std::vector<int32_t>>();
    const int n_vocab = spec["n_vocab"].get<int>();
    ASSERT_EQ(n_vocab, model.config.vocab_size);

    // Our tokenizer must produce the reference's ids from the prompt (BOS as the file says).
    EXPECT_EQ(prompt_tokens(model, spec["prompt"].get<std::string>(), false, -1), ids) << name << " case " << case_index;

    std::vector<uint8_t> raw = test::read_file_bytes(base + ".f32");
    ASSERT_EQ(raw.size(), ids.size() * size_t(n_vocab) * sizeof(float));
    std::vector<float> reference(raw.size() / sizeof(float));
    std::memcpy(reference.data(), raw.data(), raw.size());

    InferenceState state = make_state(model);
    forward(model, state, ids, /*all_logits=*/true);
    const Agreement a = compare_logits(state.logits, reference, n_vocab);
    const double relative = a.max_abs_diff / a.max_abs_logit;
    std::printf("  %s case %d: max |diff| %.3g = %.3g x max|logit|, %d of %d positions within 1e-4, "
                "top-1 mismatches %d (%d clear)\n", name.c_str(), case_index, a.max_abs_diff, relative,
                a.rows_within_1e4, a.rows, a.top1_mismatches, a.top1_mismatches_clear);
    if (quantized) {
      EXPECT_LE(relative, 5e-2) << name << " case " << case_index;
      EXPECT_EQ(a.top1_mismatches_clear, 0) << name << " case " << case_index;
      // We round activations to Q8_0 blocks as llama.cpp does, so most positions agree to
      // ~1e-6. Not all: a value within ~1e-6 of a rounding boundary (they occur; seen
      // here at 11.5000019) can land on the other side after float sums in another order,
      // and the random weights amplify that one step into ~1% at later positions. So
      // the first positions must agree tightly (without 8-bit activation rounding they
      // differ by ~1e-2 everywhere), and the bars above hold for every position.
      EXPECT_GE(a.rows_within_1e4, std::min(a.rows, 5)) << name << " case " << case_index;
    } else {
      EXPECT_LE(relative, 1e-3) << name << " case " << case_index;
      EXPECT_EQ(a.top1_mismatches, 0) << name << " case " << case_index;
    }

    // Token by token through the KV cache gives the same logits as the whole prompt at once.
    InferenceState stepwise = make_state(model);
    std::vector<float> last_rows;
    for (int32_t id : ids) {
      forward(model, stepwise, std::span<const int32_t>(&id, 1));
      last_rows.insert(last_rows.end(), stepwise.logits.begin(), stepwise.logits.end());
    }
    // A prompt's attention runs as matrix products, one token's dot by dot, so the two
    // round differently. For f32 that is float rounding (GPT-2's GELU goes through an
    // f16 table, as llama.cpp's does, where a last-bit difference of its input can move
    // the output by a whole f16 step). With 8-bit activations it is the boundary effect
    // described above: the first positions agree tightly, later ones within the bar.
    const Agreement s = compare_logits(last_rows, state.logits, n_vocab);
    const bool gpt2 = name.rfind("ref-gpt2", 0) == 0;
    EXPECT_LE(s.max_abs_diff / s.max_abs_logit, quantized ? 5e-2 : gpt2 ? 1e-4 : 1e-5) << "KV cache path differs, " << name;
    if (quantized) {
      EXPECT_GE(s.rows_within_1e4, std::min(s.rows, 5)) << "KV cache path differs early, " << name;
    }
  }
}

// Threads split every product by rows and attention by heads, and each output keeps
// its own chain, so two threads give the very bits of one: the logits of a prompt and of
// token-by-token steps, and so the tokens a seeded sampler draws. (The threaded web
// build runs this too: loupe_engine_tests_mt.)
TEST_P(ReferenceLogits, SameBitsAndTokensWithOneAndTwoThreads) {
  const std::string name = GetParam();
  LOUPE_REQUIRE_REFERENCE(model_path, "models/" + name + ".gguf");
  Model model = load_model(model_path);
  const std::string base = model_path.substr(0, model_path.size() - 5) + ".case2";
  std::ifstream json_file(base + ".json");
  ASSERT_TRUE(json_file) << base;
  const std::vector<int32_t> ids = nlohmann::json::parse(json_file)["tokens"].get<std::vector<int32_t>>();

  struct Run {
    std::vector<float> prompt_logits, step_logits;
    std::vector<int32_t> sampled;
  };
  auto run = [&](int threads) {
    set_thread_count(threads);
    Run r;
    InferenceState state = make_state(model);
    forward(model, state, ids, /*all_logits=*/true);
    r.prompt_logits = state.logits;
    InferenceState stepwise = make_state(model);
    for (int32_t id : ids) {
      forward(model, stepwise, std::span<const int32_t>(&id, 1));
      r.step_logits.insert(r.step_logits.end(), stepwise.logits.begin(), stepwise.logits.end());
    }
    GenerateRequest request;
    request.prompt = "The quick brown fox";
    request.sampling.temperature = 1.0f;
    request.sampling.seed = 42;
    request.max_tokens = 24;
    request.stop_at_end_of_text = false;
    r.sampled = generate(model, request).ids;
    set_thread_count(1);
    return r;
  };
  const Run one = run(1), two = run(2);
  ASSERT_EQ(one.prompt_logits.size(), two.prompt_logits.size());
  EXPECT_EQ(std::memcmp(one.prompt_logits.data(), two.prompt_logits.data(), one.prompt_logits.size() * sizeof(float)), 0)
      << name << ": a prompt's logits differ between 1 and 2 threads";
  EXPECT_EQ(std::memcmp(one.step_logits.data(), two.step_logits.data(), one.step_logits.size() * sizeof(float)), 0)
      << name << ": token-by-token logits differ between 1 and 2 threads";
  EXPECT_EQ(one.sampled, two.sampled) << name << ": seed 42 draws other tokens with 2 threads";
  EXPECT_EQ(one.sampled.size(), 24u);
}

INSTANTIATE_TEST_SUITE_P(Models, ReferenceLogits,
                         ::testing::Values("ref-llama-f32", "ref-llama-q8_0", "ref-llama-q4_0", "ref-gpt2-f32",
                                           "ref-gpt2-q8_0", "ref-gpt2-q4_0"),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
}  // namespace loupe
