// Attributions of one output token's log-probability to the input tokens:
//   gradient × input:      score_i = Σ_d x_id · ∂f/∂x_id
//   integrated gradients:  score_i = Σ_d (x_id − x'_id) · ∫₀¹ ∂f/∂x_id(x' + α (x − x')) dα,
//                          `steps` points, denser near x' (see below); Σ_i score_i ≈ f(x) − f(x')
//   occlusion:             score_i = f(text) − f(text with token i removed or replaced)
// where f = log P(target | tokens[0..position]) [− log P(contrast | ...)] and x are the
// token-embedding rows. Gradients come from the backward pass (gradients/); occlusion
// runs the inference pass.
#include <algorithm>
#include <cmath>
#include <optional>

#include "core/error.h"
#include "explain/explain.h"
#include "kernels/matmul.h"

namespace loupe::explain {

Method parse_method(const std::string& name) {
  if (name == "grad_x_input" || name == "gradient_x_input") return Method::GradXInput;
  if (name == "integrated_gradients" || name == "ig") return Method::IntegratedGradients;
  if (name == "occlusion") return Method::Occlusion;
  fail("unknown attribution method '" + name + "': use grad_x_input, integrated_gradients or occlusion");
}

const char* method_name(Method method) {
  switch (method) {
    case Method::GradXInput: return "grad_x_input";
    case Method::IntegratedGradients: return "integrated_gradients";
    case Method::Occlusion: return "occlusion";
  }
  return "?";
}

namespace {

// f for occlusion: the inference pass's log P(target) [− log P(contrast)] after `ids`.
double log_prob(const Model& model, std::span<const int32_t> ids, int32_t target, int32_t contrast) {
  InferenceState state = make_state(model, int(ids.size()));
  forward(model, state, ids);
  const int vocab = model.config.vocab_size;
  const float* logits = state.logits.data();
  const float m = *std::max_element(logits, logits + vocab);
  double sum = 0;
  for (int i = 0; i < vocab; ++i) sum += std::exp(double(logits[i]) - m);
  const double log_sum = m + std::log(sum);
  double value = double(logits[target]) - log_sum;
  if (contrast >= 0) value -= double(logits[contrast]) - log_sum;
  return value;
}

constexpr size_t kKeptActivationBytes = size_t(512) << 20;

size_t activation_bytes(const grad::Activations<float>& a) {
  size_t floats = a.x0.capacity() + a.x_final.capacity() + a.lnf.capacity() + a.logits.capacity();
  for (const grad::LayerActivations<float>& l : a.layers)
    for (const std::vector<float>* v : {&l.x, &l.ln1, &l.ln1_mean, &l.ln1_rstd, &l.q, &l.k, &l.v, &l.probs, &l.att, &l.x_mid,
                                        &l.ln2, &l.ln2_mean, &l.ln2_rstd, &l.gate, &l.up, &l.hidden})
      floats += v->capacity();
  return floats * sizeof(float);
}

}  // namespace

int32_t neutral_token(const Tokenizer& tok) {
  for (int32_t id : {tok.pad_id, tok.unk_id, tok.eos_id})
    if (id >= 0 && id < tok.n_vocab()) return id;
  return 0;
}

namespace {

void check_token(const Model& model, int32_t id, const char* what) {
  if (id < 0 || id >= model.config.vocab_size)
    fail(std::string("the ") + what + " token " + std::to_string(id) + " is outside the vocabulary (" +
         std::to_string(model.config.vocab_size) + " tokens)");
}

}  // namespace

grad::SavedPass saved_pass(const Trace& t) {
  const Capture& c = t.capture;
  grad::SavedPass s;
  if (!c.gradient_inputs || t.keys.empty()) return s;
  s.n = t.n;
  s.residual = c.residual_stream.data();
  s.residual_mid = c.residual_mid.data();
  s.queries = c.queries.data();
  s.keys = t.keys.data();
  s.values = t.values.data();
  s.attention = c.attention.data();
  s.mlp_gate = c.mlp_gate.data();
  s.mlp_up = c.mlp_up.empty() ? nullptr : c.mlp_up.data();
  return s;
}

Attribution attribute(const Model& model, std::span<const int32_t> tokens, const AttributionRequest& request,
                      const grad::Parameters<float>* params, const Trace* pass, const grad::BackwardWeights* backward) {
  const ModelConfig& c = model.config;
  const int n = int(tokens.size());
  if (n == 0) fail("attribution needs a text with at least one token");
  if (n > c.context_length)
    fail("the text is " + std::to_string(n) + " tokens long, but the model's context holds " + std::to_string(c.context_length));
  for (int32_t id : tokens) check_token(model, id, "input");
  Attribution out;
  out.method = request.method;
  out.position = request.position < 0 ? n - 1 : request.position;
  if (out.position >= n)
    fail("the target position " + std::to_string(out.position) + " is outside the text (" + std::to_string(n) + " tokens)");
  const int m = out.position + 1;
  std::span<const int32_t> input = tokens.first(size_t(m));

  // A trace of these tokens (or a longer text starting with them) has this position's logits.
  const bool traced = pass && pass->n >= m && pass->logits.size() >= size_t(m) * c.vocab_size &&
                      std::equal(input.begin(), input.end(), pass->tokens.begin());
  out.target = request.target;
  if (out.target < 0) {
    if (out.position + 1 < n) {
      out.target = tokens[size_t(out.position) + 1];  // the token that actually follows
    } else if (traced) {
      const float* row = pass->logits.data() + size_t(out.position) * c.vocab_size;
      out.target = int32_t(std::max_element(row, row + c.vocab_size) - row);
    } else {  // the model's own top guess
      InferenceState state = make_state(model, m);
      forward(model, state, input);
      out.target = int32_t(std::max_element(state.logits.begin(), state.logits.begin() + c.vocab_size) - state.logits.begin());
    }
  }
  check_token(model, out.target, "target");
  out.contrast = request.contrast;
  if (out.contrast >= 0) check_token(model, out.contrast, "contrast");
  if (out.contrast == out.target && out.contrast >= 0) fail("the contrast token is the target token itself");

  if (request.method == Method::Occlusion) {
    if (request.replacement >= 0) check_token(model, request.replacement, "replacement");
    out.value = float(log_prob(model, input, out.target, out.contrast));
    out.scores.resize(size_t(m));
    for (int i = 0; i < m; ++i) {
      std::vector<int32_t> occluded(input.begin(), input.end());
      if (request.replacement >= 0) occluded[size_t(i)] = request.replacement;
      else occluded.erase(occluded.begin() + i);
      // Removing the only token leaves nothing to predict from: no score.
      out.scores[size_t(i)] = occluded.empty() ? 0.0f : float(out.value - log_prob(model, occluded, out.target, out.contrast));
    }
    return out;
  }

  const int dim = c.dim;
  // Gradient x input from a trace of these tokens: its logits give f and d f / d logits,
  // its saved activations the backward pass.
  const grad::SavedPass saved = traced ? saved_pass(*pass) : grad::SavedPass();
  if (request.method == Method::GradXInput && saved.n >= m) {
    std::optional<grad::BackwardWeights> own_backward;
    if (!backward) backward = &own_backward.emplace(grad::backward_weights(model));
    const int vocab = c.vocab_size;
    const float* logits = pass->logits.data() + size_t(out.position) * vocab;
    const float max_logit = *std::max_element(logits, logits + vocab);
    double sum = 0;
    for (int i = 0; i < vocab; ++i) sum += std::exp(double(logits[i]) - max_logit);
    const double log_sum = max_logit + std::log(sum);
    // d log p_a / d logits = onehot(a) − softmax; the softmax terms cancel in log p_a − log p_b.
    std::vector<float> dlogits(size_t(vocab), 0.0f);
    if (out.contrast < 0)
      for (int i = 0; i < vocab; ++i) dlogits[size_t(i)] = -float(std::exp(double(logits[i]) - log_sum));
    dlogits[size_t(out.target)] += 1.0f;
    if (out.contrast >= 0) dlogits[size_t(out.contrast)] -= 1.0f;
    out.value = float(double(logits[out.target]) - log_sum -
                      (out.contrast >= 0 ? double(logits[out.contrast]) - log_sum : 0.0));
    std::vector<float> grad_rows(size_t(m) * dim), x(static_cast<size_t>(dim));
    grad::input_gradient(*backward, saved, out.position, dlogits.data(), grad_rows.data());
    out.scores.assign(size_t(m), 0.0f);
    for (int t = 0; t < m; ++t) {
      read_row(model.weights.token_embedding, input[size_t(t)], x.data());
      double s = 0;
      for (int d = 0; d < dim; ++d) s += double(x[size_t(d)]) * grad_rows[size_t(t) * dim + d];
      out.scores[size_t(t)] = float(s);
    }
    return out;
  }

  std::optional<grad::Parameters<float>> own;
  if (!params) params = &own.emplace(grad::parameters_from_model<float>(model));
  const std::vector<float> x = grad::embed_tokens(*params, input);
  std::vector<float> grad_rows(x.size());
  // The gradient pass's saved activations are kept per thread between calls (up to
  // kKeptActivationBytes): on the 124M benchmark model and 128 tokens they are ~160 MB,
  // and allocating them afresh each time cost, in page faults, about as much as the pass.
  static thread_local grad::Activations<float> kept;
  grad::Activations<float>& acts = kept;
  struct Release {  // drops them after the call when they are too large to keep
    grad::Activations<float>& a;
    ~Release() {
      if (activation_bytes(a) > kKeptActivationBytes) a = grad::Activations<float>();
    }
  } release{acts};

  if (request.method == Method::GradXInput) {
    out.value = grad::log_prob_objective(*params, x.data(), m, m - 1, out.target, out.contrast, grad_rows.data(), acts);
    out.scores.assign(size_t(m), 0.0f);
    for (int t = 0; t < m; ++t) {
      double s = 0;
      for (int d = 0; d < dim; ++d) s += double(x[size_t(t) * dim + d]) * grad_rows[size_t(t) * dim + d];
      out.scores[size_t(t)] = float(s);
    }
    return out;
  }

  // Integrated gradients.
  if (request.steps < 1 || request.steps > 4096) fail("integrated gradients needs 1 to 4096 steps, not " + std::to_string(request.steps));
  out.steps = request.steps;
  std::vector<float> baseline(x.size(), 0.0f);  // zero embedding: "no token here"
  using Baseline = AttributionRequest::Baseline;
  out.baseline_token = request.baseline == Baseline::Token ? request.baseline_token
                       : request.baseline == Baseline::Neutral ? neutral_token(model.tokenizer) : -1;
  if (out.baseline_token >= 0) {
    check_token(model, out.baseline_token, "baseline");
    const std::vector<int32_t> ids(size_t(m), out.baseline_token);
    baseline = grad::embed_tokens(*params, ids);
  }
  // ∫₀¹ ∂f/∂x(x' + α(x − x')) dα by the midpoint rule in u with α = u^power (weight
  // power·u^(power−1)/steps); power 1 is the plain midpoint rule.
  std::vector<double> sum_grad(x.size(), 0.0);
  std::vector<float> point(x.size());
  if (request.path_power < 1 || request.path_power > 8) fail("the path power must be 1 to 8");
  const int power = request.path_power;
  for (int k = 0; k < request.steps; ++k) {
    const double u = (k + 0.5) / request.steps;
    const double alpha = std::pow(u, power), weight = power * std::pow(u, power - 1) / request.steps;
    for (size_t i = 0; i < x.size(); ++i) point[i] = float(baseline[i] + alpha * (double(x[i]) - baseline[i]));
    grad::log_prob_objective(*params, point.data(), m, m - 1, out.target, out.contrast, grad_rows.data(), acts);
    for (size_t i = 0; i < x.size(); ++i) sum_grad[i] += weight * grad_rows[i];
  }
  out.value = grad::log_prob_objective(*params, x.data(), m, m - 1, out.target, out.contrast, static_cast<float*>(nullptr), acts);
  out.baseline_value = grad::log_prob_objective(*params, baseline.data(), m, m - 1, out.target, out.contrast,
                                                static_cast<float*>(nullptr), acts);
  out.scores.assign(size_t(m), 0.0f);
  for (int t = 0; t < m; ++t) {
    double s = 0;
    for (int d = 0; d < dim; ++d) {
      const size_t i = size_t(t) * dim + d;
      s += (double(x[i]) - baseline[i]) * sum_grad[i];
    }
    out.scores[size_t(t)] = float(s);
  }
  double total = 0;
  for (float s : out.scores) total += s;
  out.completeness_gap = float(total - (double(out.value) - out.baseline_value));
  return out;
}

}  // namespace loupe::explain
