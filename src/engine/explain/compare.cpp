// Two models on the same text: where their predictions part (KL divergence, top-1
// agreement), and where inside them the difference grows (residual stream, attention).
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "explain/explain.h"

namespace loupe::explain {

Comparison compare_models(const Model& a, const Model& b, std::span<const int32_t> tokens) {
  const ModelConfig &ca = a.config, &cb = b.config;
  if (ca.vocab_size != cb.vocab_size || a.tokenizer.tokens != b.tokenizer.tokens)
    fail("the two models do not share a tokenizer, so their predictions cannot be compared token by token");
  const bool same_shape = ca.n_layers == cb.n_layers && ca.dim == cb.dim && ca.n_heads == cb.n_heads;
  const Trace ta = trace(a, tokens, same_shape, same_shape);
  const Trace tb = trace(b, tokens, same_shape, same_shape);
  const int n = ta.n, vocab = ca.vocab_size;

  Comparison out;
  std::vector<double> pa(static_cast<size_t>(vocab)), pb(static_cast<size_t>(vocab));
  auto log_softmax = [vocab](const float* logits, std::vector<double>& lp) {
    const float m = *std::max_element(logits, logits + vocab);
    double sum = 0;
    for (int i = 0; i < vocab; ++i) sum += std::exp(double(logits[i]) - m);
    const double log_sum = m + std::log(sum);
    for (int i = 0; i < vocab; ++i) lp[size_t(i)] = double(logits[i]) - log_sum;
  };
  for (int pos = 0; pos < n; ++pos) {
    const float* la = ta.logits.data() + size_t(pos) * vocab;
    const float* lb = tb.logits.data() + size_t(pos) * vocab;
    log_softmax(la, pa);
    log_softmax(lb, pb);
    double kl = 0;
    for (int i = 0; i < vocab; ++i) kl += std::exp(pa[size_t(i)]) * (pa[size_t(i)] - pb[size_t(i)]);
    out.kl_bits.push_back(float(std::max(0.0, kl) / std::log(2.0)));
    out.top1_agree.push_back(uint8_t(std::max_element(la, la + vocab) - la == std::max_element(lb, lb + vocab) - lb));
  }
  if (!same_shape) return out;

  const size_t slot = size_t(n) * ca.dim;
  for (int s = 0; s <= ca.n_layers; ++s) {
    double diff = 0, norm = 0;
    for (size_t i = 0; i < slot; ++i) {
      const double x = ta.capture.residual_stream[size_t(s) * slot + i], y = tb.capture.residual_stream[size_t(s) * slot + i];
      diff += (x - y) * (x - y);
      norm += x * x;
    }
    out.residual_rel_diff.push_back(float(norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff)));
  }
  const size_t nn = size_t(n) * n;
  const double causal_entries = double(n) * (n + 1) / 2;
  for (int l = 0; l < ca.n_layers; ++l)
    for (int h = 0; h < ca.n_heads; ++h) {
      const size_t base = (size_t(l) * ca.n_heads + h) * nn;
      double sum = 0;
      for (size_t i = 0; i < nn; ++i) sum += std::fabs(double(ta.capture.attention[base + i]) - tb.capture.attention[base + i]);
      out.attention_diff.push_back(float(sum / causal_entries));
    }
  return out;
}

}  // namespace loupe::explain
