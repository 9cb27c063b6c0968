// The fast explanation paths against their plain references: the row scan (exp, sums,
// top k, rank) against double arithmetic, the batched logit lens against the slot-by-slot
// lens, token statistics against the logits, and results (lens, statistics, gradient x
// input, integrated gradients) that do not depend on the thread count. Also the lens's
// token texts in the JSON.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "core/error.h"
#include "explain/explain.h"
#include "explain/explain_json.h"
#include "explain/row_scan.h"
#include "kernels/thread_pool.h"
#include "model/forward.h"
#include "sampling/generate.h"
#include "test_models.h"
#include "test_support.h"

namespace loupe {
namespace {

std::vector<int32_t> random_ids(const Model& model, int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> ids;
  for (int i = 0; i < n; ++i) ids.push_back(int32_t(3 + rng() % uint64_t(model.config.vocab_size - 3)));
  return ids;
}

// Restores the engine's thread count when a test ends.
struct ThreadCount {
  int saved = thread_pool().size();
  ~ThreadCount() { set_thread_count(saved); }
};

TEST(ExplainRowScan, AgreesWithDoubleArithmetic) {
  std::mt19937 rng(5);
  for (int vocab : {1, 7, 16, 17, 255, 1000, 32003}) {
    for (float spread : {0.01f, 3.0f, 40.0f}) {
      std::normal_distribution<float> normal(0.0f, spread);
      std::vector<float> row(static_cast<size_t>(vocab));
      for (float& v : row) v = normal(rng);
      if (vocab > 20) {  // a three-way tie at the top (near enough that no probability underflows)
        const float top_value = *std::max_element(row.begin(), row.end()) + 1.0f;
        row[3] = row[11] = row[19] = top_value;
      }
      explain::RowScan scan;
      const int k = std::min(5, vocab);
      explain::scan_row(row.data(), vocab, k, /*entropy=*/true, scan);
      const std::vector<explain::TokenProb> top = explain::top_k_probs(row.data(), vocab, k);
      ASSERT_EQ(scan.top.size(), size_t(k));
      double max_value = row[0], sum = 0, entropy = 0;
      for (float v : row) max_value = std::max<double>(max_value, v);
      for (float v : row) sum += std::exp(double(v) - max_value);
      for (float v : row) {
        const double p = std::exp(double(v) - max_value) / sum;
        if (p > 0) entropy -= p * std::log(p);
      }
      EXPECT_NEAR(scan.sum_exp / sum, 1.0, 1e-6) << vocab << " " << spread;
      EXPECT_NEAR(std::log(scan.sum_exp) - scan.sum_exp_shifted / scan.sum_exp, entropy, 1e-5) << vocab << " " << spread;
      for (int i = 0; i < k; ++i) {
        EXPECT_EQ(scan.top[size_t(i)].id, top[size_t(i)].id) << vocab << " " << spread << " rank " << i;
        EXPECT_NEAR(explain::row_prob(scan, scan.top[size_t(i)].logit), top[size_t(i)].prob, 1e-6);
      }
      if (vocab > 20) {
        EXPECT_EQ(scan.top[0].id, 3);
        EXPECT_EQ(scan.top[1].id, 11);
        EXPECT_EQ(explain::count_ahead(row.data(), vocab, row[11], 11), 1);
        EXPECT_EQ(explain::count_ahead(row.data(), vocab, row[19], 19), 2);
      }
    }
  }
}

void expect_same_lens(const explain::LogitLens& a, const explain::LogitLens& b, double tolerance, const std::string& name) {
  ASSERT_EQ(a.slots, b.slots);
  ASSERT_EQ(a.n, b.n);
  ASSERT_EQ(a.k, b.k);
  EXPECT_EQ(a.chosen_ids, b.chosen_ids) << name;
  EXPECT_EQ(a.top_ids, b.top_ids) << name;
  double worst = 0;
  for (size_t i = 0; i < a.top_probs.size(); ++i) worst = std::max(worst, double(std::fabs(a.top_probs[i] - b.top_probs[i])));
  for (size_t i = 0; i < a.chosen_probs.size(); ++i)
    worst = std::max(worst, double(std::fabs(a.chosen_probs[i] - b.chosen_probs[i])));
  EXPECT_LE(worst, tolerance) << name;
}

TEST(ExplainLens, BatchedEqualsSlotBySlotReference) {
  std::vector<test::TinyModelSpec> specs(3);
  specs[1].arch = Architecture::Qwen2;
  specs[1].n_heads = 4;
  specs[1].n_kv_heads = 2;
  specs[1].tied_output = true;
  specs[2].arch = Architecture::Gpt2;
  specs[2].vocab = test::TinyVocab::Bytes;
  for (const test::TinyModelSpec& spec : specs) {
    const Model model = test::tiny_model(spec);
    const explain::Trace t = explain::trace(model, random_ids(model, 11, 2));
    expect_same_lens(explain::logit_lens(model, t, 4), explain::logit_lens_reference(model, t, 4), 1e-6, model.info.name);
  }
}

TEST(ExplainLens, BatchedEqualsSlotBySlotReferenceOnReferenceModels) {
  LOUPE_REQUIRE_REFERENCE(q8_path, "models/ref-llama-q8_0.gguf");
  LOUPE_REQUIRE_REFERENCE(q4_path, "models/ref-llama-q4_0.gguf");
  LOUPE_REQUIRE_REFERENCE(gpt2_path, "models/ref-gpt2-f32.gguf");
  for (const std::string& path : {q8_path, q4_path, gpt2_path}) {
    const Model model = load_model(path);
    const explain::Trace t = explain::trace(model, prompt_tokens(model, "Once upon a time there was a little", false, -1));
    expect_same_lens(explain::logit_lens(model, t, 5), explain::logit_lens_reference(model, t, 5), 1e-6, path);
  }
}

TEST(ExplainLens, ChosenPositionsAreTheFullLensRows) {
  test::TinyModelSpec spec;
  spec.arch = Architecture::Gpt2;
  spec.vocab = test::TinyVocab::Bytes;
  for (const Model& model : {test::tiny_model({}), test::tiny_model(spec)}) {
    const explain::Trace t = explain::trace(model, random_ids(model, 9, 8));
    const explain::LogitLens full = explain::logit_lens(model, t, 3);
    const std::vector<int> positions = {8, 0, 5};
    const explain::LogitLens part = explain::logit_lens(model, t, 3, positions);
    ASSERT_EQ(part.n, 3);
    EXPECT_EQ(part.positions, positions);
    for (int s = 0; s < full.slots; ++s)
      for (int i = 0; i < part.n; ++i) {
        const int pos = positions[size_t(i)];
        EXPECT_EQ(part.chosen_ids[size_t(i)], full.chosen_ids[size_t(pos)]);
        EXPECT_EQ(part.chosen_probs[size_t(s) * part.n + i], full.chosen_probs[size_t(s) * full.n + pos]);
        for (int k = 0; k < 3; ++k) {
          EXPECT_EQ(part.top_ids[(size_t(s) * part.n + i) * 3 + k], full.top_ids[(size_t(s) * full.n + pos) * 3 + k]);
          EXPECT_EQ(part.top_probs[(size_t(s) * part.n + i) * 3 + k], full.top_probs[(size_t(s) * full.n + pos) * 3 + k]);
        }
      }
    const std::vector<int> outside = {9};
    EXPECT_THROW(explain::logit_lens(model, t, 3, outside), Error);
  }
  const Model model = test::tiny_model({});
  explain::ExplainRequest r;
  r.model = &model;
  r.prompt = "abcab";
  r.what = {"lens"};
  r.lens_positions = {6, 2};
  const nlohmann::json j = explain::explain_json(r);
  EXPECT_EQ(j["lens"]["positions"], nlohmann::json::array({6, 2}));
  EXPECT_EQ(j["lens"]["top_ids"][0].size(), 2u);
  EXPECT_EQ(j["lens"]["chosen"].size(), 2u);
  r.lens_positions = {7};
  EXPECT_THROW(explain::explain_json(r), Error);
  // lens_last: the last K positions (all of a shorter text); lens_positions wins over it.
  r.lens_positions.clear();
  r.lens_last = 2;
  const nlohmann::json last = explain::explain_json(r);
  const int n = int(last["tokens"].size());
  EXPECT_EQ(last["lens"]["positions"], nlohmann::json::array({n - 2, n - 1}));
  EXPECT_EQ(last["lens"]["top_ids"][1][1], j["lens"]["top_ids"][1][0]) << "position 6 is the last";
  r.lens_last = 100;
  EXPECT_EQ(explain::explain_json(r)["lens"]["positions"].size(), size_t(n));
  r.lens_positions = {2};
  EXPECT_EQ(explain::explain_json(r)["lens"]["positions"], nlohmann::json::array({2}));
  r.lens_positions.clear();
  r.lens_last = -1;
  EXPECT_THROW(explain::explain_json(r), Error);
}

TEST(ExplainLens, ThreadCountChangesNothing) {
  ThreadCount restore;
  test::TinyModelSpec spec;
  const Model model = test::tiny_model(spec);
  const std::vector<int32_t> ids = random_ids(model, 13, 9);
  set_thread_count(1);
  const explain::Trace t1 = explain::trace(model, ids);
  const explain::LogitLens lens1 = explain::logit_lens(model, t1, 3);
  const std::vector<explain::TokenStat> stats1 = explain::token_statistics(t1.logits, model.config.vocab_size, ids, 3);
  set_thread_count(3);
  const explain::Trace t3 = explain::trace(model, ids);
  const explain::LogitLens lens3 = explain::logit_lens(model, t3, 3);
  const std::vector<explain::TokenStat> stats3 = explain::token_statistics(t3.logits, model.config.vocab_size, ids, 3);
  expect_same_lens(lens1, lens3, 0.0, "1 vs 3 threads");
  ASSERT_EQ(stats1.size(), stats3.size());
  for (size_t i = 0; i < stats1.size(); ++i) {
    EXPECT_EQ(stats1[i].prob, stats3[i].prob);
    EXPECT_EQ(stats1[i].rank, stats3[i].rank);
    EXPECT_EQ(stats1[i].entropy_bits, stats3[i].entropy_bits);
    ASSERT_EQ(stats1[i].top.size(), stats3[i].top.size());
    for (size_t k = 0; k < stats1[i].top.size(); ++k) EXPECT_EQ(stats1[i].top[k].id, stats3[i].top[k].id);
  }
}

TEST(ExplainAttribution, ThreadCountChangesNothing) {
  ThreadCount restore;
  std::vector<test::TinyModelSpec> specs(3);
  specs[0].n_heads = 4;
  specs[0].n_kv_heads = 2;  // grouped heads: the backward adds the group's heads in order
  specs[1].arch = Architecture::Gpt2;
  specs[1].vocab = test::TinyVocab::Bytes;
  specs[2] = specs[0];  // widths of whole Q8_0 blocks: 8-bit packed backward weights
  specs[2].dim = 64;
  specs[2].ff_dim = 64;
  specs[2].type = TensorType::Q8_0;
  for (const test::TinyModelSpec& spec : specs) {
    const Model model = test::tiny_model(spec);
    const std::vector<int32_t> ids = random_ids(model, 12, 6);
    explain::AttributionRequest ig;
    ig.method = explain::Method::IntegratedGradients;
    ig.steps = 5;
    set_thread_count(1);
    const explain::Attribution g1 = explain::attribute(model, ids, {}), ig1 = explain::attribute(model, ids, ig);
    const explain::Trace t1 = explain::trace(model, ids, true, true, /*gradient_inputs=*/true);
    const explain::Attribution f1 = explain::attribute(model, ids, {}, nullptr, &t1);
    set_thread_count(3);
    const explain::Attribution g3 = explain::attribute(model, ids, {}), ig3 = explain::attribute(model, ids, ig);
    const explain::Trace t3 = explain::trace(model, ids, true, true, /*gradient_inputs=*/true);
    const explain::Attribution f3 = explain::attribute(model, ids, {}, nullptr, &t3);
    EXPECT_EQ(g1.scores, g3.scores) << model.info.name;
    EXPECT_EQ(g1.value, g3.value);
    EXPECT_EQ(ig1.scores, ig3.scores) << model.info.name;
    EXPECT_EQ(f1.scores, f3.scores) << model.info.name << ": gradient x input from the trace";
    EXPECT_EQ(f1.value, f3.value);
  }
}

TEST(ExplainStats, EntropyAndSurprisalAgreeWithDoubleArithmetic) {
  const Model model = test::tiny_model({});
  const std::vector<int32_t> ids = random_ids(model, 9, 4);
  const explain::Trace t = explain::trace(model, ids);
  const int vocab = model.config.vocab_size;
  for (const explain::TokenStat& s : explain::token_statistics(t.logits, vocab, ids, 4)) {
    const float* row = t.logits.data() + size_t(s.position - 1) * vocab;
    const double m = *std::max_element(row, row + vocab);
    double sum = 0, entropy = 0;
    for (int i = 0; i < vocab; ++i) sum += std::exp(double(row[i]) - m);
    for (int i = 0; i < vocab; ++i) {
      const double p = std::exp(double(row[i]) - m) / sum;
      if (p > 0) entropy -= p * std::log2(p);
    }
    EXPECT_NEAR(s.entropy_bits, entropy, 1e-4);
    EXPECT_NEAR(s.surprisal_bits, -std::log2(std::exp(double(row[s.id]) - m) / sum), 1e-4);
  }
}

TEST(ExplainJson, LensNamesItsTokens) {
  const Model model = test::tiny_model({});
  explain::ExplainRequest r;
  r.model = &model;
  r.prompt = "abcab";
  r.what = {"lens"};
  r.top_k = 3;
  const nlohmann::json j = explain::explain_json(r);
  const nlohmann::json& lens = j.at("lens");
  ASSERT_EQ(lens.at("top_texts").size(), lens.at("top_ids").size());
  for (size_t l = 0; l < lens["top_ids"].size(); ++l)
    for (size_t p = 0; p < lens["top_ids"][l].size(); ++p)
      for (size_t k = 0; k < lens["top_ids"][l][p].size(); ++k)
        EXPECT_EQ(lens["top_texts"][l][p][k].get<std::string>(),
                  sanitize_utf8(token_to_bytes(model.tokenizer, lens["top_ids"][l][p][k].get<int32_t>())));
  const auto tables = explain::explain_csv_tables(j);
  bool found = false;
  for (const auto& [name, table] : tables)
    if (name == "lens") found = table.rfind("layer,position,rank,id,prob,chosen_id,chosen_prob,text\n", 0) == 0;
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace loupe

namespace loupe {
namespace {

// Gradient x input comes from the inference pass on 8-bit weights unless exact gradients
// are asked for; both say which in the JSON, and they agree to the 8-bit rounding.
TEST(ExplainAttribution, ExactGradientsRunTheF32PassAndAgree) {
  test::TinyModelSpec spec;
  spec.dim = 64;
  spec.n_heads = 4;
  spec.ff_dim = 96;
  spec.weight_scale = 0.125f;
  const Model model = test::tiny_model(spec);
  explain::ExplainRequest r;
  r.model = &model;
  r.prompt = "the cat sat on the mat";
  r.what = {"attribution"};
  const nlohmann::json fast = explain::explain_json(r);
  r.exact_gradients = true;
  const nlohmann::json exact = explain::explain_json(r);
  EXPECT_EQ(fast["attribution"]["backward"], "int8");
  EXPECT_EQ(exact["attribution"]["backward"], "f32");
  EXPECT_EQ(fast["attribution"]["target_id"], exact["attribution"]["target_id"]);
  const auto& a = fast["attribution"]["scores"];
  const auto& b = exact["attribution"]["scores"];
  ASSERT_EQ(a.size(), b.size());
  double largest = 0;
  for (const auto& v : b) largest = std::max(largest, std::fabs(v.get<double>()));
  ASSERT_GT(largest, 0);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i].get<double>(), b[i].get<double>(), 0.05 * largest) << i;
}

}  // namespace
}  // namespace loupe
