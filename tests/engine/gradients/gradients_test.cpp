// The backward pass against central finite differences (in double) on tiny models of
// every architecture, for input-embedding and weight gradients; its forward pass against
// the inference pass; integrated gradients' completeness; a training step that helps.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/error.h"
#include "explain/explain.h"
#include "gradients/gradients.h"
#include "gradients/layers.h"
#include "model/forward.h"
#include "test_models.h"
#include "test_support.h"

namespace loupe {
namespace {

std::vector<int32_t> random_ids(int vocab, int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> ids;
  for (int i = 0; i < n; ++i) ids.push_back(int32_t(3 + rng() % uint64_t(vocab - 3)));
  return ids;
}

struct Case {
  std::string name;
  test::TinyModelSpec spec;
};

std::vector<Case> cases() {
  Case llama{"llama", {}};
  llama.spec.qkv_bias = true;
  llama.spec.n_heads = 4;
  llama.spec.n_kv_heads = 2;  // grouped-query attention
  Case qwen{"qwen2", {}};
  qwen.spec.arch = Architecture::Qwen2;  // biases, half-split RoPE
  qwen.spec.tied_output = true;
  Case gpt2{"gpt2", {}};
  gpt2.spec.arch = Architecture::Gpt2;
  return {llama, qwen, gpt2};
}

// |a − b| / max(|a|, |b|, floor): relative, except for gradients that are ~0.
double relative_error(double a, double b, double floor = 1e-7) {
  return std::fabs(a - b) / std::max({std::fabs(a), std::fabs(b), floor});
}

TEST(GradientFiniteDifference, WeightGradientsOfTheCrossEntropy) {
  for (const Case& c : cases()) {
    const Model model = test::tiny_model(c.spec);
    grad::Parameters<double> p = grad::parameters_from_model<double>(model);
    const int batch = 2, seq = 6, vocab = model.config.vocab_size;
    const std::vector<int32_t> inputs = random_ids(vocab, batch * seq, 1), targets = random_ids(vocab, batch * seq, 2);
    grad::Parameters<double> g = grad::zeros_like(p);
    const double loss = grad::cross_entropy_backward(p, inputs, targets, batch, seq, &g);
    EXPECT_GT(loss, 0.0);
    std::vector<std::vector<double>*> params = p.arrays(), grads = g.arrays();
    ASSERT_EQ(params.size(), grads.size());
    std::mt19937_64 rng(3);
    double worst = 0;
    int checked = 0;
    for (size_t a = 0; a < params.size(); ++a) {
      std::vector<double>& w = *params[a];
      for (int probe = 0; probe < 4; ++probe) {
        // Probe entries that the batch reaches (embedding rows of unused tokens have no gradient).
        size_t i = rng() % w.size();
        if (a == 0) i = size_t(inputs[size_t(probe)]) * model.config.dim + rng() % uint64_t(model.config.dim);
        const double h = 1e-5, saved = w[i];
        w[i] = saved + h;
        const double up = grad::cross_entropy_backward<double>(p, inputs, targets, batch, seq, nullptr);
        w[i] = saved - h;
        const double down = grad::cross_entropy_backward<double>(p, inputs, targets, batch, seq, nullptr);
        w[i] = saved;
        const double fd = (up - down) / (2 * h);
        const double err = relative_error((*grads[a])[i], fd);
        worst = std::max(worst, err);
        ++checked;
        EXPECT_LT(err, 1e-3) << c.name << " array " << a << " index " << i << ": backward " << (*grads[a])[i] << ", finite difference " << fd;
      }
    }
    std::printf("  %s: %d weight gradients over %zu arrays, max relative error %.2e (f64)\n", c.name.c_str(), checked,
                params.size(), worst);
  }
}

TEST(GradientFiniteDifference, InputEmbeddingGradientsOfALogProbability) {
  for (const Case& c : cases()) {
    const Model model = test::tiny_model(c.spec);
    const grad::Parameters<double> p = grad::parameters_from_model<double>(model);
    const int n = 7, dim = model.config.dim;
    const std::vector<int32_t> ids = random_ids(model.config.vocab_size, n, 4);
    std::vector<double> rows = grad::embed_tokens(p, ids), grad_rows(rows.size());
    grad::Activations<double> acts;
    for (int32_t contrast : {-1, 5}) {
      grad::log_prob_objective(p, rows.data(), n, n - 2, 9, contrast, grad_rows.data(), acts);
      double worst = 0;
      for (size_t i = 0; i < rows.size(); i += 3) {
        const double h = 1e-5, saved = rows[i];
        rows[i] = saved + h;
        const double up = grad::log_prob_objective<double>(p, rows.data(), n, n - 2, 9, contrast, nullptr, acts);
        rows[i] = saved - h;
        const double down = grad::log_prob_objective<double>(p, rows.data(), n, n - 2, 9, contrast, nullptr, acts);
        rows[i] = saved;
        const double fd = (up - down) / (2 * h);
        if (int(i) / dim == n - 1) {
          EXPECT_EQ(grad_rows[i], 0.0);  // after the target position: no influence
        }
        worst = std::max(worst, relative_error(grad_rows[i], fd));
      }
      std::printf("  %s%s: input-embedding gradients, max relative error %.2e (f64)\n", c.name.c_str(),
                  contrast >= 0 ? " (contrastive)" : "", worst);
      EXPECT_LT(worst, 1e-3) << c.name;
    }
  }
}

TEST(GradientForward, MatchesTheInferencePass) {
  for (const Case& c : cases()) {
    const Model model = test::tiny_model(c.spec);
    const grad::Parameters<float> p = grad::parameters_from_model<float>(model);
    const std::vector<int32_t> ids = random_ids(model.config.vocab_size, 10, 6);
    std::vector<int> rows(ids.size());
    std::iota(rows.begin(), rows.end(), 0);
    grad::Activations<float> a;
    const std::vector<float> x = grad::embed_tokens(p, ids);
    grad::model_forward(p, x.data(), int(ids.size()), rows, a);
    InferenceState state = make_state(model);
    forward(model, state, ids, true);
    double max_diff = 0, max_logit = 0;
    for (size_t i = 0; i < state.logits.size(); ++i) {
      max_diff = std::max(max_diff, double(std::fabs(a.logits[i] - state.logits[i])));
      max_logit = std::max(max_logit, double(std::fabs(state.logits[i])));
    }
    std::printf("  %s: gradient-pass logits within %.2e x max|logit| of inference\n", c.name.c_str(), max_diff / max_logit);
    // GPT-2's inference GELU is rounded through f16; the gradient pass uses the exact curve.
    EXPECT_LT(max_diff / max_logit, c.spec.arch == Architecture::Gpt2 ? 3e-3 : 1e-5) << c.name;
  }
}

TEST(AttributionIntegratedGradients, AreComplete) {
  for (Case c : cases()) {
    // Rows of 64 values: in 16 dimensions a random path between two embeddings passes
    // close to the origin, where RMSNorm is steep (docs/explain.md), far more often than
    // in a real model's hundreds.
    c.spec.dim = 64;
    c.spec.n_heads = 4;
    const Model model = test::tiny_model(c.spec);
    const std::vector<int32_t> ids = random_ids(model.config.vocab_size, 8, 8);
    using Baseline = explain::AttributionRequest::Baseline;
    for (Baseline baseline : {Baseline::Neutral, Baseline::Token, Baseline::Zero}) {
      // The zero embedding suits GPT-2 only: see docs/explain.md (RMSNorm is singular at 0).
      if (baseline == Baseline::Zero && c.spec.arch != Architecture::Gpt2) continue;
      explain::AttributionRequest r;
      r.method = explain::Method::IntegratedGradients;
      r.steps = 64;
      r.baseline = baseline;
      r.baseline_token = 5;
      const explain::Attribution a = explain::attribute(model, ids, r);
      const double total = std::accumulate(a.scores.begin(), a.scores.end(), 0.0);
      const double expected = double(a.value) - a.baseline_value;
      std::printf("  %s, baseline %s: sum of attributions %.5f, f(x) - f(baseline) %.5f (%.3f%% off)\n", c.name.c_str(),
                  a.baseline_token < 0 ? "zero" : ("token " + std::to_string(a.baseline_token)).c_str(), total, expected,
                  100 * std::fabs(total - expected) / std::fabs(expected));
      EXPECT_LT(std::fabs(total - expected), 0.01 * std::fabs(expected)) << c.name;
      EXPECT_NEAR(a.completeness_gap, total - expected, 1e-4);
      if (baseline == Baseline::Neutral) {
        EXPECT_EQ(a.baseline_token, explain::neutral_token(model.tokenizer));
      }
    }
  }
}

TEST(AttributionMethods, AgreeOnTheirDefinitions) {
  const Model model = test::tiny_model({});
  const std::vector<int32_t> ids = random_ids(model.config.vocab_size, 6, 9);
  explain::AttributionRequest r;
  r.position = 3;
  const explain::Attribution gx = explain::attribute(model, ids, r);
  EXPECT_EQ(gx.target, ids[4]);  // the actual next token
  ASSERT_EQ(gx.scores.size(), 4u);
  // Contrastive = the difference of the two one-token attributions (gradient is linear).
  explain::AttributionRequest rb = r, rc = r;
  rb.target = 7;
  rc.contrast = 7;
  const explain::Attribution b = explain::attribute(model, ids, rb), contrast = explain::attribute(model, ids, rc);
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(contrast.scores[i], gx.scores[i] - b.scores[i], 1e-4);
  // Occlusion by removal and by replacement; the value is the inference pass's log P.
  explain::AttributionRequest ro = r;
  ro.method = explain::Method::Occlusion;
  const explain::Attribution occ = explain::attribute(model, ids, ro);
  EXPECT_NEAR(occ.value, gx.value, 1e-3);
  ro.replacement = 3;
  const explain::Attribution rep = explain::attribute(model, ids, ro);
  ASSERT_EQ(rep.scores.size(), 4u);
  if (ids[0] != 3) {
    EXPECT_NE(rep.scores[0], 0.0f);
  }
  EXPECT_EQ(explain::parse_method("occlusion"), explain::Method::Occlusion);
  EXPECT_THROW(explain::parse_method("lime"), Error);
  explain::AttributionRequest bad = r;
  bad.target = 1000;
  EXPECT_THROW(explain::attribute(model, ids, bad), Error);
}

// f32's attention runs as matrix products (gradients.cpp), f64's as layers.h's loops: the
// two passes must give the same input gradients.
TEST(GradientFloat, MatchesDouble) {
  for (const Case& c : cases()) {
    const Model model = test::tiny_model(c.spec);
    const grad::Parameters<float> pf = grad::parameters_from_model<float>(model);
    const grad::Parameters<double> pd = grad::parameters_from_model<double>(model);
    const int n = 9;
    const std::vector<int32_t> ids = random_ids(model.config.vocab_size, n, 11);
    std::vector<float> xf = grad::embed_tokens(pf, ids), gf(xf.size());
    std::vector<double> xd = grad::embed_tokens(pd, ids), gd(xd.size());
    grad::Activations<float> af;
    grad::Activations<double> ad;
    const float vf = grad::log_prob_objective(pf, xf.data(), n, n - 1, 9, -1, gf.data(), af);
    const double vd = grad::log_prob_objective(pd, xd.data(), n, n - 1, 9, -1, gd.data(), ad);
    double worst = 0, top = 0;
    for (size_t i = 0; i < gd.size(); ++i) {
      worst = std::max(worst, std::fabs(gf[i] - gd[i]));
      top = std::max(top, std::fabs(gd[i]));
    }
    std::printf("  %s: f32 input gradients within %.2e x max|gradient| of f64\n", c.name.c_str(), worst / top);
    EXPECT_NEAR(vf, vd, 1e-4) << c.name;
    EXPECT_LT(worst / top, 1e-4) << c.name;
  }
}

// The input gradient from the inference pass's saved activations (what gradient x input
// runs, explain::trace + grad::input_gradient) against the gradient pass that recomputes
// them in its own f32 forward pass: with f32 backward weights the same numbers up to f32
// rounding (and, for GPT-2, the inference pass's f16-rounded GELU); with the default
// 8-bit ones, close.
TEST(InputGradient, FromTheInferencePassEqualsTheRecomputingPass) {
  for (const Case& c : cases()) {
    const Model model = test::tiny_model(c.spec);
    const grad::Parameters<float> p = grad::parameters_from_model<float>(model);
    const int n = 9, dim = model.config.dim;
    const std::vector<int32_t> ids = random_ids(model.config.vocab_size, n, 12);
    const explain::Trace t = explain::trace(model, ids, false, false, /*gradient_inputs=*/true);
    const grad::SavedPass saved = explain::saved_pass(t);
    ASSERT_EQ(saved.n, n);
    const grad::BackwardWeights backward = grad::backward_weights(model, TensorType::F32);
    for (int position : {n - 1, 4}) {
      for (int32_t contrast : {-1, 5}) {
        const int32_t target = 9;
        std::vector<float> x = grad::embed_tokens(p, ids), expected(x.size());
        grad::Activations<float> a;
        grad::log_prob_objective(p, x.data(), n, position, target, contrast, expected.data(), a);
        // d f / d logits from the trace's logits at `position`
        const int vocab = model.config.vocab_size;
        std::vector<float> logits(t.logits.begin() + ptrdiff_t(position) * vocab, t.logits.begin() + ptrdiff_t(position + 1) * vocab);
        grad::log_softmax(logits.data(), vocab);
        std::vector<float> dlogits(size_t(vocab), 0.0f);
        if (contrast < 0)
          for (int i = 0; i < vocab; ++i) dlogits[size_t(i)] = -std::exp(logits[size_t(i)]);
        dlogits[size_t(target)] += 1;
        if (contrast >= 0) dlogits[size_t(contrast)] -= 1;
        std::vector<float> got(size_t(position + 1) * dim);
        grad::input_gradient(backward, saved, position, dlogits.data(), got.data());
        double worst = 0, top = 0;
        for (size_t i = 0; i < got.size(); ++i) {
          worst = std::max(worst, double(std::fabs(got[i] - expected[i])));
          top = std::max(top, double(std::fabs(expected[i])));
        }
        for (size_t i = got.size(); i < expected.size(); ++i) EXPECT_EQ(expected[i], 0.0f);
        std::printf("  %s, position %d%s: within %.2e x max|gradient| of the recomputing pass\n", c.name.c_str(), position,
                    contrast >= 0 ? " (contrastive)" : "", worst / top);
        EXPECT_LT(worst / top, c.spec.arch == Architecture::Gpt2 ? 1e-2 : 1e-4) << c.name;
      }
    }
  }
}

// gradient x input through explain::attribute with a trace (8-bit backward weights, the
// default; f32 ones) and without (its own f32 forward and backward pass), on the tiny
// models and the reference ones (real widths, so their backward weights are 8-bit).
// Printed: how far the 8-bit products move the scores, and how far the inference pass's
// activations are from the f32 pass's (for Q8_0 models the inference pass rounds its
// activations to 8 bits, and f itself moves).
TEST(InputGradient, GradientXInputFromATraceAgreesWithTheF32Pass) {
  struct Named {
    std::string name;
    Model model;
    bool f32;  // weights stored as f32: the inference pass computes what the f32 pass does
  };
  std::vector<Named> models;
  for (const Case& c : cases()) models.push_back({c.name + " (tiny, f32)", test::tiny_model(c.spec), true});
  for (const char* file : {"models/ref-llama-f32.gguf", "models/ref-gpt2-f32.gguf", "models/ref-llama-q8_0.gguf",
                           "models/ref-gpt2-q8_0.gguf"}) {
    const std::string path = test::reference_path(file);
    if (!path.empty()) models.push_back({file, load_model(path), std::string(file).find("f32") != std::string::npos});
  }
  for (const Named& m : models) {
    const int n = std::min(24, m.model.config.context_length);
    const std::vector<int32_t> ids = random_ids(m.model.config.vocab_size, n, 13);
    const explain::Trace t = explain::trace(m.model, ids, true, true, /*gradient_inputs=*/true);
    const grad::BackwardWeights w8 = grad::backward_weights(m.model), w32 = grad::backward_weights(m.model, TensorType::F32);
    for (int32_t contrast : {-1, 7}) {
      explain::AttributionRequest r;
      r.contrast = contrast;
      r.target = 11;
      const explain::Attribution a8 = explain::attribute(m.model, ids, r, nullptr, &t, &w8);
      const explain::Attribution a32 = explain::attribute(m.model, ids, r, nullptr, &t, &w32);
      const explain::Attribution own = explain::attribute(m.model, ids, r);
      ASSERT_EQ(a8.scores.size(), own.scores.size());
      double top = 0, bits = 0, pass = 0;
      for (size_t i = 0; i < own.scores.size(); ++i) top = std::max(top, double(std::fabs(a32.scores[i])));
      for (size_t i = 0; i < own.scores.size(); ++i) {
        bits = std::max(bits, std::fabs(a8.scores[i] - a32.scores[i]) / top);
        pass = std::max(pass, std::fabs(a32.scores[i] - own.scores[i]) / top);
      }
      std::printf("  %s%s: f %.5f (trace) / %.5f (f32 pass); 8-bit products move scores by %.2e, the inference "
                  "pass's activations by %.2e (x the largest score)\n",
                  m.name.c_str(), contrast >= 0 ? " (contrastive)" : "", a8.value, own.value, bits, pass);
      EXPECT_EQ(a8.value, a32.value);  // both the trace's log-probabilities
      EXPECT_LT(bits, 0.05) << m.name;
      if (m.f32) {
        EXPECT_NEAR(a32.value, own.value, 1e-3 * std::max(1.0f, std::fabs(own.value))) << m.name;
        EXPECT_LT(pass, 2e-3) << m.name;
      }
    }
  }
}

TEST(GradientTraining, AStepAlongTheGradientLowersTheLoss) {
  for (const Case& c : cases()) {
    const Model model = test::tiny_model(c.spec);
    grad::Parameters<float> p = grad::parameters_from_model<float>(model);
    const int batch = 3, seq = 8;
    const std::vector<int32_t> inputs = random_ids(model.config.vocab_size, batch * seq, 10);
    std::vector<int32_t> targets(inputs.begin() + 1, inputs.end());
    targets.push_back(-1);  // the last position has no target
    grad::Parameters<float> g = grad::zeros_like(p);
    const float before = grad::cross_entropy_backward(p, inputs, targets, batch, seq, &g);
    std::vector<std::vector<float>*> ps = p.arrays(), gs = g.arrays();
    for (size_t a = 0; a < ps.size(); ++a)
      for (size_t i = 0; i < ps[a]->size(); ++i) (*ps[a])[i] -= 0.05f * (*gs[a])[i];
    const float after = grad::cross_entropy_backward<float>(p, inputs, targets, batch, seq, nullptr);
    std::printf("  %s: loss %.4f -> %.4f after one SGD step (%zu parameters)\n", c.name.c_str(), before, after, p.count());
    EXPECT_LT(after, before) << c.name;
  }
}

}  // namespace
}  // namespace loupe
