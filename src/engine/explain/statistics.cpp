// The traced forward pass, token statistics (probability, rank, surprisal, entropy, GLTR
// buckets), and the plain reference logit lens (the fast one is explain/lens.cpp).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "explain/explain.h"
#include "explain/row_scan.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/thread_pool.h"

namespace loupe::explain {

Trace trace(const Model& model, std::span<const int32_t> tokens, bool attention, bool residual, bool gradient_inputs) {
  const int n = int(tokens.size());
  if (n == 0) fail("the text has no tokens");
  if (n > model.config.context_length)
    fail("the text is " + std::to_string(n) + " tokens long, but the model's context holds " +
         std::to_string(model.config.context_length));
  Trace t;
  t.n = n;
  t.tokens.assign(tokens.begin(), tokens.end());
  t.capture.attention_probs = attention || gradient_inputs;
  t.capture.residual = residual || gradient_inputs;
  t.capture.gradient_inputs = gradient_inputs;
  InferenceState state = make_state(model, n);
  forward(model, state, tokens, /*all_logits=*/true, &t.capture);
  t.logits = std::move(state.logits);
  t.values = std::move(state.value_cache);  // (layer, n, kv_dim): the state's context is n
  if (gradient_inputs) t.keys = std::move(state.key_cache);
  return t;
}

const char* rank_bucket(int rank) {
  if (rank <= 10) return "top10";
  if (rank <= 100) return "top100";
  if (rank <= 1000) return "top1000";
  return "rest";
}

namespace {

// Probabilities of one row of logits, computed in double.
void softmax_row(const float* logits, int vocab, std::vector<double>& probs) {
  probs.resize(size_t(vocab));
  const float max_logit = *std::max_element(logits, logits + vocab);
  double sum = 0;
  for (int i = 0; i < vocab; ++i) sum += (probs[size_t(i)] = std::exp(double(logits[i]) - max_logit));
  for (double& p : probs) p /= sum;
}

std::vector<TokenProb> top_of(const std::vector<double>& probs, int k) {
  const int vocab = int(probs.size());
  k = std::clamp(k, 0, vocab);
  std::vector<int32_t> ids(static_cast<size_t>(vocab));
  std::iota(ids.begin(), ids.end(), 0);
  auto better = [&](int32_t a, int32_t b) { return probs[size_t(a)] > probs[size_t(b)] || (probs[size_t(a)] == probs[size_t(b)] && a < b); };
  std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), better);
  std::vector<TokenProb> top;
  for (int i = 0; i < k; ++i) top.push_back({ids[size_t(i)], float(probs[size_t(ids[size_t(i)])])});
  return top;
}

}  // namespace

std::vector<TokenProb> top_k_probs(const float* logits, int vocab, int k) {
  std::vector<double> probs;
  softmax_row(logits, vocab, probs);
  return top_of(probs, k);
}

std::vector<TokenStat> token_statistics(std::span<const float> logits, int vocab, std::span<const int32_t> tokens,
                                        int top_k) {
  const int n = int(tokens.size());
  if (logits.size() < size_t(n) * vocab) fail("token_statistics: the logits do not cover every position");
  for (int32_t id : tokens)
    if (id < 0 || id >= vocab) fail("token_statistics: token id " + std::to_string(id) + " is outside the vocabulary");
  std::vector<TokenStat> stats(size_t(std::max(0, n - 1)));
  // One scan per row (explain/row_scan.h), rows across the thread pool. With S = Σ e^(l−max):
  // log p = (l − max) − log S, and entropy = log S − Σ e^(l−max)·(l−max) / S (nats).
  thread_pool().parallel_for(n - 1, [&](int64_t begin, int64_t end) {
    RowScan scan;
    for (int64_t i = begin; i < end; ++i) {
      const int pos = int(i) + 1;
      const float* row = logits.data() + size_t(pos - 1) * vocab;
      scan_row(row, vocab, top_k, /*entropy=*/true, scan);
      TokenStat& s = stats[size_t(i)];
      s.position = pos;
      s.id = tokens[size_t(pos)];
      const double log_sum = std::log(scan.sum_exp);
      const double log_p = (double(row[s.id]) - scan.max_logit) - log_sum;
      s.prob = float(std::exp(log_p));
      // Rank: 1 + the tokens strictly more likely (ties with lower ids count as ahead, as in top).
      s.rank = count_ahead(row, vocab, row[s.id], s.id) + 1;
      s.surprisal_bits = float(-log_p / std::log(2.0));
      s.entropy_bits = float(std::max(0.0, log_sum - scan.sum_exp_shifted / scan.sum_exp) / std::log(2.0));
      s.top.clear();
      for (const TokenLogit& t : scan.top) s.top.push_back({t.id, float(row_prob(scan, t.logit))});
    }
  }, /*grain=*/4);
  return stats;
}

// The plain logit lens, one slot at a time: what the tests hold explain/lens.cpp to.
LogitLens logit_lens_reference(const Model& model, const Trace& t, int top_k) {
  const ModelConfig& c = model.config;
  const int n = t.n, dim = c.dim, vocab = c.vocab_size;
  if (t.capture.residual_stream.size() != size_t(c.n_layers + 1) * n * dim)
    fail("logit_lens: the trace has no residual stream");
  LogitLens lens;
  lens.slots = c.n_layers + 1;
  lens.n = n;
  lens.k = std::clamp(top_k, 1, vocab);
  lens.top_ids.resize(size_t(lens.slots) * n * lens.k);
  lens.top_probs.resize(lens.top_ids.size());
  lens.chosen_probs.resize(size_t(lens.slots) * n);
  lens.chosen_ids.resize(size_t(n));
  for (int pos = 0; pos < n; ++pos) lens.positions.push_back(pos);
  for (int pos = 0; pos < n; ++pos) {
    const float* row = t.logits.data() + size_t(pos) * vocab;
    lens.chosen_ids[size_t(pos)] = int32_t(std::max_element(row, row + vocab) - row);
  }

  // The same steps as the end of the forward pass, slot by slot, each row's softmax in
  // double over the whole vocabulary.
  std::vector<float> weight_scratch, bias_scratch, normed(size_t(n) * dim), logits(size_t(n) * vocab);
  const float* norm_w = f32_data(model.weights.output_norm, weight_scratch);
  const float* norm_b = model.weights.output_norm_bias.empty() ? nullptr : f32_data(model.weights.output_norm_bias, bias_scratch);
  std::vector<double> probs;
  for (int slot = 0; slot < lens.slots; ++slot) {
    const float* x = t.capture.residual_stream.data() + size_t(slot) * n * dim;
    for (int pos = 0; pos < n; ++pos) {
      if (c.arch == Architecture::Gpt2)
        layernorm(normed.data() + size_t(pos) * dim, x + size_t(pos) * dim, norm_w, norm_b, dim, c.norm_eps);
      else
        rmsnorm(normed.data() + size_t(pos) * dim, x + size_t(pos) * dim, norm_w, dim, c.norm_eps);
    }
    matmul(model.weights.output, normed.data(), n, logits.data());
    for (int pos = 0; pos < n; ++pos) {
      softmax_row(logits.data() + size_t(pos) * vocab, vocab, probs);
      const std::vector<TokenProb> top = top_of(probs, lens.k);
      for (int i = 0; i < lens.k; ++i) {
        const size_t at = (size_t(slot) * n + pos) * lens.k + i;
        lens.top_ids[at] = top[size_t(i)].id;
        lens.top_probs[at] = top[size_t(i)].prob;
      }
      lens.chosen_probs[size_t(slot) * n + pos] = float(probs[size_t(lens.chosen_ids[size_t(pos)])]);
    }
  }
  return lens;
}

}  // namespace loupe::explain
