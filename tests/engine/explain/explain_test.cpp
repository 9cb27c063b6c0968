// Explanations on tiny self-made models and on the reference models: attention is a
// causal distribution, the logit lens ends at the model's logits, token statistics agree
// with the logits, comparing a model with itself gives zero, quantization shows as KL,
// hand-set previous-token and induction heads are found, bad requests fail clearly.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/error.h"
#include "explain/explain.h"
#include "explain/explain_json.h"
#include "kernels/matmul.h"
#include "model/forward.h"
#include "sampling/generate.h"
#include "test_models.h"
#include "test_support.h"

namespace loupe {
namespace {

using explain::Trace;

std::vector<int32_t> random_ids(const Model& model, int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> ids;
  for (int i = 0; i < n; ++i) ids.push_back(int32_t(3 + rng() % uint64_t(model.config.vocab_size - 3)));
  return ids;
}

std::vector<test::TinyModelSpec> tiny_specs() {
  test::TinyModelSpec llama;  // defaults: Llama, adjacent RoPE
  test::TinyModelSpec gqa;
  gqa.arch = Architecture::Qwen2;  // q/k/v biases, half-split RoPE
  gqa.n_heads = 4;
  gqa.n_kv_heads = 2;
  gqa.tied_output = true;
  test::TinyModelSpec gpt2;
  gpt2.arch = Architecture::Gpt2;
  gpt2.vocab = test::TinyVocab::Bytes;
  return {llama, gqa, gpt2};
}

void expect_causal_distributions(const Model& model, std::span<const int32_t> ids, const std::string& name) {
  const Trace t = explain::trace(model, ids);
  const ModelConfig& c = model.config;
  const int n = t.n;
  ASSERT_EQ(t.capture.attention.size(), size_t(c.n_layers) * c.n_heads * n * n);
  double worst_sum = 0;
  for (int l = 0; l < c.n_layers; ++l)
    for (int h = 0; h < c.n_heads; ++h)
      for (int q = 0; q < n; ++q) {
        const float* row = t.capture.attention.data() + ((size_t(l) * c.n_heads + h) * n + q) * n;
        double sum = 0;
        for (int k = 0; k <= q; ++k) {
          EXPECT_GE(row[k], 0.0f);
          sum += row[k];
        }
        for (int k = q + 1; k < n; ++k) ASSERT_EQ(row[k], 0.0f) << name << " layer " << l << " head " << h << " query " << q;
        worst_sum = std::max(worst_sum, std::fabs(sum - 1));
      }
  EXPECT_LT(worst_sum, 1e-5) << name;
  // The summaries are distributions too (rollout rows sum to 1, mean rows sum to 1).
  const std::vector<float> rollout = explain::attention_rollout(c, t), mean = explain::attention_mean(c, t);
  for (int l = 0; l < c.n_layers; ++l)
    for (int q = 0; q < n; ++q) {
      const size_t row = (size_t(l) * n + q) * n;
      EXPECT_NEAR(std::accumulate(rollout.begin() + row, rollout.begin() + row + n, 0.0), 1.0, 1e-5) << name;
      EXPECT_NEAR(std::accumulate(mean.begin() + row, mean.begin() + row + n, 0.0), 1.0, 1e-5) << name;
      for (int k = q + 1; k < n; ++k) EXPECT_EQ(rollout[row + k], 0.0f);
    }
  const std::vector<float> weighted = explain::attention_value_weighted(model, t);
  for (size_t i = 0; i < weighted.size(); ++i) {
    const int q = int(i / n % n), k = int(i % n);
    if (k > q) {
      ASSERT_EQ(weighted[i], 0.0f);
    }
    ASSERT_GE(weighted[i], 0.0f);
  }
  // α_qk · ‖W_O^h v_k^h‖ against a plain double loop.
  const int hd = c.head_dim, q_dim = c.n_heads * hd, kv_dim = c.n_kv_heads * hd, group = c.n_heads / c.n_kv_heads;
  double worst = 0;
  for (int l = 0; l < c.n_layers; ++l) {
    std::vector<float> wo(size_t(c.dim) * q_dim);
    for (int r = 0; r < c.dim; ++r) read_row(model.weights.layers[size_t(l)].wo, r, wo.data() + size_t(r) * q_dim);
    for (int h = 0; h < c.n_heads; ++h)
      for (int k = 0; k < n; ++k) {
        double sq = 0;
        for (int r = 0; r < c.dim; ++r) {
          double y = 0;
          for (int i = 0; i < hd; ++i)
            y += double(wo[size_t(r) * q_dim + size_t(h) * hd + i]) * t.values[(size_t(l) * n + k) * kv_dim + size_t(h / group) * hd + i];
          sq += y * y;
        }
        const size_t at = ((size_t(l) * c.n_heads + h) * n + (n - 1)) * n + k;  // the last query's row
        const double expected = t.capture.attention[at] * std::sqrt(sq);
        worst = std::max(worst, std::fabs(weighted[at] - expected) / std::max(1e-6, expected));
      }
  }
  EXPECT_LT(worst, 1e-4) << name;
}

void expect_lens_ends_at_logits(const Model& model, std::span<const int32_t> ids, const std::string& name) {
  const Trace t = explain::trace(model, ids);
  const explain::LogitLens lens = explain::logit_lens(model, t, 5);
  ASSERT_EQ(lens.slots, model.config.n_layers + 1);
  // A separate plain pass: the lens's last slot must give its probabilities.
  InferenceState state = make_state(model);
  forward(model, state, ids, /*all_logits=*/true);
  const int vocab = model.config.vocab_size, n = int(ids.size()), last = lens.slots - 1;
  double worst = 0;
  for (int pos = 0; pos < n; ++pos) {
    const std::vector<explain::TokenProb> top = explain::top_k_probs(state.logits.data() + size_t(pos) * vocab, vocab, 5);
    for (int k = 0; k < 5; ++k) {
      const size_t at = (size_t(last) * n + pos) * lens.k + k;
      EXPECT_EQ(lens.top_ids[at], top[size_t(k)].id) << name << " position " << pos;
      worst = std::max(worst, double(std::fabs(lens.top_probs[at] - top[size_t(k)].prob)));
    }
    EXPECT_EQ(lens.chosen_ids[size_t(pos)], top[0].id);
    EXPECT_FLOAT_EQ(lens.chosen_probs[size_t(last) * n + pos], top[0].prob);
  }
  EXPECT_LT(worst, 1e-6) << name;
}

TEST(ExplainAttention, RowsSumToOneAndFutureIsZeroOnTinyModels) {
  for (const test::TinyModelSpec& spec : tiny_specs()) {
    const Model model = test::tiny_model(spec);
    expect_causal_distributions(model, random_ids(model, 12, 7), model.info.name);
  }
}

TEST(ExplainAttention, RowsSumToOneAndFutureIsZeroOnReferenceModels) {
  LOUPE_REQUIRE_REFERENCE(llama_path, "models/ref-llama-f32.gguf");
  LOUPE_REQUIRE_REFERENCE(gpt2_path, "models/ref-gpt2-f32.gguf");
  for (const std::string& path : {llama_path, gpt2_path}) {
    const Model model = load_model(path);
    const std::vector<int32_t> ids = prompt_tokens(model, "The capital of France is Paris, and the capital of Italy is", false, -1);
    expect_causal_distributions(model, ids, path);
  }
}

TEST(ExplainLens, LastLayerEqualsModelLogits) {
  for (const test::TinyModelSpec& spec : tiny_specs()) {
    const Model model = test::tiny_model(spec);
    expect_lens_ends_at_logits(model, random_ids(model, 10, 3), model.info.name);
  }
}

TEST(ExplainLens, LastLayerEqualsModelLogitsOnReferenceModels) {
  LOUPE_REQUIRE_REFERENCE(llama_path, "models/ref-llama-q8_0.gguf");
  LOUPE_REQUIRE_REFERENCE(gpt2_path, "models/ref-gpt2-f32.gguf");
  for (const std::string& path : {llama_path, gpt2_path}) {
    const Model model = load_model(path);
    expect_lens_ends_at_logits(model, prompt_tokens(model, "Once upon a time there was a little", false, -1), path);
  }
}

TEST(ExplainStats, AgreeWithTheLogits) {
  const Model model = test::tiny_model({});
  const std::vector<int32_t> ids = random_ids(model, 9, 11);
  const Trace t = explain::trace(model, ids);
  const int vocab = model.config.vocab_size;
  const std::vector<explain::TokenStat> stats = explain::token_statistics(t.logits, vocab, ids, 4);
  ASSERT_EQ(stats.size(), ids.size() - 1);
  for (const explain::TokenStat& s : stats) {
    const float* row = t.logits.data() + size_t(s.position - 1) * vocab;
    double sum = 0;
    const float m = *std::max_element(row, row + vocab);
    for (int i = 0; i < vocab; ++i) sum += std::exp(double(row[i]) - m);
    const double p = std::exp(double(row[s.id]) - m) / sum;
    EXPECT_NEAR(s.prob, p, 1e-6);
    EXPECT_NEAR(s.surprisal_bits, -std::log2(p), 1e-4);
    int rank = 1;
    for (int i = 0; i < vocab; ++i) rank += row[i] > row[s.id];
    EXPECT_EQ(s.rank, rank);
    EXPECT_GT(s.entropy_bits, 0.0f);
    EXPECT_LE(s.entropy_bits, std::log2(double(vocab)) + 1e-4);
    ASSERT_EQ(s.top.size(), 4u);
    EXPECT_GE(s.top[0].prob, s.top[1].prob);
    if (s.rank == 1) {
      EXPECT_EQ(s.top[0].id, s.id);
    }
  }
  EXPECT_STREQ(explain::rank_bucket(1), "top10");
  EXPECT_STREQ(explain::rank_bucket(11), "top100");
  EXPECT_STREQ(explain::rank_bucket(1000), "top1000");
  EXPECT_STREQ(explain::rank_bucket(1001), "rest");
}

TEST(ExplainCompare, AModelWithItselfDiffersByNothing) {
  const Model a = test::tiny_model({});
  const Model b = test::tiny_model({});
  const explain::Comparison cmp = explain::compare_models(a, b, random_ids(a, 10, 5));
  ASSERT_EQ(cmp.kl_bits.size(), 10u);
  for (float kl : cmp.kl_bits) EXPECT_LT(kl, 1e-6f);
  for (uint8_t agree : cmp.top1_agree) EXPECT_TRUE(agree);
  for (float d : cmp.residual_rel_diff) EXPECT_EQ(d, 0.0f);
  for (float d : cmp.attention_diff) EXPECT_EQ(d, 0.0f);
  // Another seed is another model: positive KL, differing residuals.
  test::TinyModelSpec other;
  other.seed = 2;
  const explain::Comparison diff = explain::compare_models(a, test::tiny_model(other), random_ids(a, 10, 5));
  EXPECT_GT(*std::max_element(diff.kl_bits.begin(), diff.kl_bits.end()), 1e-3f);
  EXPECT_GT(diff.residual_rel_diff.back(), 0.1f);
  // A different tokenizer cannot be compared.
  test::TinyModelSpec bytes;
  bytes.vocab = test::TinyVocab::Bytes;
  EXPECT_THROW(explain::compare_models(a, test::tiny_model(bytes), random_ids(a, 4, 1)), Error);
}

TEST(ExplainCompare, QuantizationShowsAsKlDivergence) {
  LOUPE_REQUIRE_REFERENCE(f32_path, "models/ref-llama-f32.gguf");
  LOUPE_REQUIRE_REFERENCE(q8_path, "models/ref-llama-q8_0.gguf");
  LOUPE_REQUIRE_REFERENCE(q4_path, "models/ref-llama-q4_0.gguf");
  const Model f32 = load_model(f32_path), q8 = load_model(q8_path), q4 = load_model(q4_path);
  const std::vector<int32_t> ids = prompt_tokens(f32, "The quick brown fox jumps over the lazy dog because it was", false, -1);
  auto mean_kl = [&](const Model& other) {
    const explain::Comparison cmp = explain::compare_models(f32, other, ids);
    return std::accumulate(cmp.kl_bits.begin(), cmp.kl_bits.end(), 0.0) / double(cmp.kl_bits.size());
  };
  const double kl8 = mean_kl(q8), kl4 = mean_kl(q4);
  std::printf("  mean KL(f32 || q8_0) = %.3g bits, KL(f32 || q4_0) = %.3g bits over %zu positions\n", kl8, kl4, ids.size());
  EXPECT_GT(kl8, 0.0);
  EXPECT_GT(kl4, kl8);
}

// A hand-set GPT-2: layer 0 head 0 copies the previous token into a slot of the residual
// stream, layer 1 head 0 looks for the key whose previous token is the current token
// (induction). Every other head has small random weights and writes nothing.
Model induction_model() {
  constexpr int V = 32, C = 32, D = 96, HD = 32;  // dims: [0,32) token, [32,64) position, [64,96) previous token
  test::TinyModelSpec spec;
  spec.arch = Architecture::Gpt2;
  spec.n_layers = 2;
  spec.dim = D;
  spec.n_heads = 3;
  spec.ff_dim = 32;
  spec.context = C;
  spec.vocab_size = V;
  std::mt19937_64 rng(99);
  auto small = [&] { return float(int64_t(rng() % 2001) - 1000) * 5e-5f; };  // uniform in ±0.05
  const float beta = 2.0f;
  spec.edit = [&](const std::string& name, std::vector<float>& w) {
    auto at = [&](int row, int col) -> float& { return w[size_t(row) * D + col]; };  // (rows, D) matrices
    if (name == "token_embd.weight") {
      std::fill(w.begin(), w.end(), 0.0f);
      for (int t = 0; t < V; ++t) at(t, t) = 1;
    } else if (name == "position_embd.weight") {
      std::fill(w.begin(), w.end(), 0.0f);
      for (int p = 0; p < C; ++p) at(p, 32 + p) = 1;
    } else if (name.find("norm.weight") != std::string::npos) {
      std::fill(w.begin(), w.end(), 1.0f);
    } else if (name.find("norm.bias") != std::string::npos || name.find("ffn") != std::string::npos ||
               name.find("attn_qkv.bias") != std::string::npos || name.find("attn_output.bias") != std::string::npos) {
      std::fill(w.begin(), w.end(), 0.0f);  // no MLP, no biases
    } else if (name == "blk.0.attn_qkv.weight" || name == "blk.1.attn_qkv.weight") {
      for (float& x : w) x = small();  // heads 1 and 2: small random q, k, v
      for (int i = 0; i < HD; ++i)
        for (int col = 0; col < D; ++col) at(i, col) = at(D + i, col) = at(2 * D + i, col) = 0;  // head 0
      if (name[4] == '0') {  // previous-token head: q = position t, k = position s + 1, v = token
        for (int i = 0; i < HD; ++i) at(i, 32 + i) = beta;
        for (int i = 1; i < HD; ++i) at(D + i, 32 + i - 1) = 1;
        for (int i = 0; i < HD; ++i) at(2 * D + i, i) = 1;
      } else {  // induction head: q = current token, k = previous token of the key
        for (int i = 0; i < HD; ++i) at(i, i) = 2 * beta;
        for (int i = 0; i < HD; ++i) at(D + i, 64 + i) = 1;
      }
    } else if (name == "blk.0.attn_output.weight") {  // head 0's value -> the previous-token slot
      std::fill(w.begin(), w.end(), 0.0f);
      for (int i = 0; i < HD; ++i) w[size_t(64 + i) * D + i] = 1;
    } else if (name == "blk.1.attn_output.weight") {
      std::fill(w.begin(), w.end(), 0.0f);
    }
  };
  return test::tiny_model(spec);
}

TEST(ExplainHeads, FindHandSetPreviousTokenAndInductionHeads) {
  const Model model = induction_model();
  const std::vector<int32_t> text = explain::repeated_random_tokens(model, 5, 12);
  const Trace t = explain::trace(model, random_ids(model, 20, 4));
  const std::vector<explain::HeadStat> stats = explain::head_statistics(model, t, /*seed=*/1, /*half=*/12);
  ASSERT_EQ(stats.size(), 6u);
  for (int i = 0; i < 6; ++i)
    std::printf("  layer %d head %d: entropy %.2f bits, prev %.3f, first %.3f, induction %.3f\n", i / 3, i % 3,
                stats[size_t(i)].entropy_bits, stats[size_t(i)].prev_token, stats[size_t(i)].first_token, stats[size_t(i)].induction);
  int best_prev = 0, best_induction = 0;
  for (int i = 1; i < 6; ++i) {
    if (stats[size_t(i)].prev_token > stats[size_t(best_prev)].prev_token) best_prev = i;
    if (stats[size_t(i)].induction > stats[size_t(best_induction)].induction) best_induction = i;
  }
  EXPECT_EQ(best_prev, 0);       // layer 0 head 0
  EXPECT_EQ(best_induction, 3);  // layer 1 head 0
  EXPECT_GT(stats[0].prev_token, 0.9f);
  EXPECT_GT(stats[3].induction, 0.9f);
  for (int i : {1, 2, 4, 5}) {
    EXPECT_LT(stats[size_t(i)].prev_token, 0.3f) << i;
    EXPECT_LT(stats[size_t(i)].induction, 0.3f) << i;
  }
  EXPECT_LT(stats[0].entropy_bits, stats[1].entropy_bits);  // sharp against near-uniform
  // The induction sequence: BOS, then the same distinct tokens twice.
  ASSERT_EQ(text.size(), 25u);
  EXPECT_EQ(text[0], model.tokenizer.bos_id);
  EXPECT_TRUE(std::equal(text.begin() + 1, text.begin() + 13, text.begin() + 13));
  EXPECT_EQ(explain::repeated_random_tokens(model, 5, 12), text);  // seeded
}

TEST(ExplainJson, HoldsEverySectionWithTheDocumentedShapes) {
  test::TinyModelSpec spec;
  spec.n_heads = 4;
  spec.n_kv_heads = 2;
  const Model model = test::tiny_model(spec);
  const Model other = test::tiny_model(spec);
  explain::ExplainRequest r;
  r.model = &model;
  r.compare = &other;
  r.prompt = "abcab";
  r.top_k = 3;
  r.target_token = "c";
  r.method = "integrated_gradients";
  r.attribution.steps = 8;
  const nlohmann::json j = explain::explain_json(r);
  const int n = int(j["tokens"].size()), L = model.config.n_layers, H = model.config.n_heads;
  ASSERT_EQ(n, 7);  // <s> ▁ a b c a b
  EXPECT_EQ(j["tokens"][0]["text"], "<s>");
  ASSERT_EQ(j["attention"].size(), size_t(L));
  ASSERT_EQ(j["attention"][0].size(), size_t(H));
  ASSERT_EQ(j["attention"][0][0].size(), size_t(n));
  ASSERT_EQ(j["attention"][0][0][0].size(), size_t(n));
  EXPECT_EQ(j["attention_summary"]["rollout"].size(), size_t(L));
  EXPECT_EQ(j["lens"]["top_ids"].size(), size_t(L + 1));
  EXPECT_EQ(j["lens"]["top_ids"][0].size(), size_t(n));
  EXPECT_EQ(j["lens"]["top_probs"][L][n - 1].size(), 3u);
  EXPECT_EQ(j["stats"].size(), size_t(n - 1));
  for (const char* key : {"prob", "rank", "surprisal_bits", "entropy_bits", "bucket", "top"}) EXPECT_TRUE(j["stats"][0].contains(key)) << key;
  EXPECT_EQ(j["heads"].size(), size_t(L));
  EXPECT_EQ(j["heads"][0].size(), size_t(H));
  for (const char* key : {"entropy", "prev_token", "first_token", "induction"}) EXPECT_TRUE(j["heads"][1][3].contains(key)) << key;
  EXPECT_EQ(j["attribution"]["method"], "integrated_gradients");
  EXPECT_EQ(j["attribution"]["target_position"], n - 1);
  EXPECT_EQ(j["attribution"]["target_id"], model.tokenizer.token_to_id.at("c"));
  EXPECT_EQ(j["attribution"]["scores"].size(), size_t(n));
  EXPECT_EQ(j["compare"]["kl"].size(), size_t(n));
  EXPECT_EQ(j["compare"]["residual_rel_diff"].size(), size_t(L + 1));
  EXPECT_EQ(j["compare"]["kl"][2], 0.0);
  const auto tables = explain::explain_csv_tables(j);
  EXPECT_GE(tables.size(), 7u);
  EXPECT_NE(tables[0].second.find("position,id,text"), std::string::npos);
}

TEST(ExplainErrors, BadRequestsSayWhatIsWrong) {
  const Model model = test::tiny_model({});
  auto message_of = [&](const std::function<void(explain::ExplainRequest&)>& change) -> std::string {
    explain::ExplainRequest r;
    r.model = &model;
    r.prompt = "abc";
    r.what = {"attention", "attribution"};
    change(r);
    try {
      explain::explain_json(r);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(message_of([](auto& r) { r.layer = 2; }).find("layer 2 is out of range"), std::string::npos);
  EXPECT_NE(message_of([](auto& r) { r.head = 5; }).find("head 5 is out of range"), std::string::npos);
  EXPECT_NE(message_of([](auto& r) { r.target_token = "9999"; }).find("outside the vocabulary"), std::string::npos);
  EXPECT_NE(message_of([](auto& r) { r.target_token = "abc"; }).find("not one"), std::string::npos);
  EXPECT_NE(message_of([](auto& r) { r.contrast_token = "id:77"; }).find("outside the vocabulary"), std::string::npos);
  EXPECT_NE(message_of([](auto& r) { r.method = "shap"; }).find("unknown attribution method 'shap'"), std::string::npos);
  EXPECT_NE(message_of([](auto& r) { r.what = {"attention", "vibes"}; }).find("unknown section 'vibes'"), std::string::npos);
  EXPECT_NE(message_of([](auto& r) { r.attribution.position = 10; }).find("target position 10"), std::string::npos);
  EXPECT_NE(message_of([](auto& r) { r.prompt = std::string(40, 'a'); }).find("context holds 32"), std::string::npos);
  EXPECT_NE(message_of([](auto& r) { r.prompt = ""; r.add_bos = 0; }).find("no tokens"), std::string::npos);
  EXPECT_NE(message_of([](auto& r) { r.method = "integrated_gradients"; r.attribution.steps = 0; }).find("steps"), std::string::npos);
  EXPECT_THROW(explain::parse_sections("lens,,nope"), Error);
  EXPECT_EQ(explain::parse_sections("lens, stats"), (std::vector<std::string>{"lens", "stats"}));
}

}  // namespace
}  // namespace loupe
