// Attention summaries (mean over heads, rollout, value-weighted) and head statistics
// (entropy, previous-token, first-token, induction).
#include <algorithm>
#include <cmath>
#include <random>
#include <unordered_set>

#include "core/error.h"
#include "explain/explain.h"
#include "kernels/gemm_f32.h"
#include "kernels/matmul.h"
#include "kernels/thread_pool.h"

namespace loupe::explain {

namespace {

void require_attention(const ModelConfig& c, const Trace& t) {
  if (t.capture.attention.size() != size_t(c.n_layers) * c.n_heads * t.n * t.n)
    fail("the trace has no attention probabilities");
}

}  // namespace

std::vector<float> attention_mean(const ModelConfig& c, const Trace& t) {
  require_attention(c, t);
  const size_t nn = size_t(t.n) * t.n;
  std::vector<float> mean(size_t(c.n_layers) * nn, 0.0f);  // (layer, n, n)
  for (int l = 0; l < c.n_layers; ++l)
    for (int h = 0; h < c.n_heads; ++h) {
      const float* a = t.capture.attention.data() + (size_t(l) * c.n_heads + h) * nn;
      float* m = mean.data() + size_t(l) * nn;
      for (size_t i = 0; i < nn; ++i) m[i] += a[i] / float(c.n_heads);
    }
  return mean;
}

std::vector<float> attention_rollout(const ModelConfig& c, const Trace& t) {
  const int n = t.n;
  const size_t nn = size_t(n) * n;
  const std::vector<float> mean = attention_mean(c, t);
  std::vector<float> rollout(size_t(c.n_layers) * nn);  // (layer, n, n)
  std::vector<double> current(nn, 0.0), a(nn), next(nn);
  for (int i = 0; i < n; ++i) current[size_t(i) * n + i] = 1;  // identity before layer 0
  for (int l = 0; l < c.n_layers; ++l) {
    // A = ½·mean + ½·I, each row renormalised (it sums to 1 already, up to rounding).
    for (int q = 0; q < n; ++q) {
      double sum = 0;
      for (int k = 0; k < n; ++k) sum += (a[size_t(q) * n + k] = 0.5 * mean[size_t(l) * nn + size_t(q) * n + k] + 0.5 * (q == k));
      for (int k = 0; k < n; ++k) a[size_t(q) * n + k] /= sum;
    }
    // rollout_l = A_l · rollout_{l-1}  (lower triangular: k <= j <= q)
    for (int q = 0; q < n; ++q)
      for (int k = 0; k < n; ++k) {
        double s = 0;
        for (int j = k; j <= q; ++j) s += a[size_t(q) * n + j] * current[size_t(j) * n + k];
        next[size_t(q) * n + k] = s;
      }
    current.swap(next);
    for (size_t i = 0; i < nn; ++i) rollout[size_t(l) * nn + i] = float(current[i]);
  }
  return rollout;
}

std::vector<float> attention_value_weighted(const Model& model, const Trace& t) {
  const ModelConfig& c = model.config;
  require_attention(c, t);
  const int n = t.n, hd = c.head_dim, dim = c.dim;
  const int q_dim = c.n_heads * hd, kv_dim = c.n_kv_heads * hd, group = c.n_heads / c.n_kv_heads;
  if (t.values.size() < size_t(c.n_layers) * n * kv_dim) fail("the trace has no value vectors");
  const size_t nn = size_t(n) * n;
  std::vector<float> out(size_t(c.n_layers) * c.n_heads * nn);  // (layer, head, n, n)
  std::vector<float> wo(size_t(dim) * q_dim);                    // (dim, q_dim) one layer's output projection
  std::vector<float> norms(size_t(c.n_heads) * n);                // (head, key) ‖W_O^h v_key^h‖
  const GemmF32Kernels& gemm = gemm_f32_kernels();
  for (int l = 0; l < c.n_layers; ++l) {
    for (int r = 0; r < dim; ++r) read_row(model.weights.layers[size_t(l)].wo, r, wo.data() + size_t(r) * q_dim);
    // One head per job: Y = V_h · (W_O^h)ᵀ, (n, hd)·(hd, dim) on the head's columns of W_O in
    // place (kernels/gemm_f32.h), then each row's length, summed in double.
    thread_pool().parallel_for(c.n_heads, [&](int64_t h0, int64_t h1) {
      std::vector<float> y(size_t(n) * dim);
      for (int64_t h = h0; h < h1; ++h) {
        const float* v = t.values.data() + size_t(l) * n * kv_dim + size_t(h / group) * hd;
        gemm.a_bt(y.data(), dim, v, kv_dim, wo.data() + size_t(h) * hd, q_dim, n, hd, dim, false);
        for (int key = 0; key < n; ++key) {
          double sq = 0;
          for (int r = 0; r < dim; ++r) sq += double(y[size_t(key) * dim + r]) * y[size_t(key) * dim + r];
          norms[size_t(h) * n + key] = float(std::sqrt(sq));
        }
      }
    });
    for (int h = 0; h < c.n_heads; ++h) {
      const float* a = t.capture.attention.data() + (size_t(l) * c.n_heads + h) * nn;
      float* o = out.data() + (size_t(l) * c.n_heads + h) * nn;
      for (int q = 0; q < n; ++q)
        for (int k = 0; k < n; ++k) o[size_t(q) * n + k] = a[size_t(q) * n + k] * norms[size_t(h) * n + k];
    }
  }
  return out;
}

std::vector<int32_t> repeated_random_tokens(const Model& model, uint64_t seed, int half) {
  const Tokenizer& tok = model.tokenizer;
  const int vocab = model.config.vocab_size;
  // Ordinary tokens only (no control tokens, no byte pieces of SentencePiece vocabularies).
  std::vector<int32_t> pool;
  for (int32_t id = 0; id < vocab; ++id) {
    const TokenType type = size_t(id) < tok.types.size() ? tok.types[size_t(id)] : TokenType::NORMAL;
    const bool special = id < tok.n_vocab() && (tok.is_special(id) || type == TokenType::BYTE || type == TokenType::UNKNOWN);
    if (!special) pool.push_back(id);
  }
  if (pool.empty()) fail("the vocabulary has no ordinary tokens to build an induction test from");
  // mt19937_64 gives the same stream everywhere; the draws are mapped by hand (not with
  // std::uniform_int_distribution, which differs between standard libraries).
  std::mt19937_64 rng(seed);
  std::vector<int32_t> r;
  std::unordered_set<int32_t> used;
  const bool distinct = int(pool.size()) >= 2 * half;  // distinct tokens when there are enough
  while (int(r.size()) < half) {
    const int32_t id = pool[size_t(rng() % pool.size())];
    if (distinct && !used.insert(id).second) continue;
    r.push_back(id);
  }
  std::vector<int32_t> seq;
  if (tok.add_bos && tok.bos_id >= 0) seq.push_back(tok.bos_id);
  seq.insert(seq.end(), r.begin(), r.end());
  seq.insert(seq.end(), r.begin(), r.end());
  return seq;
}

std::vector<float> induction_scores(const Model& model, uint64_t seed, int half) {
  const ModelConfig& c = model.config;
  const int max_half = (c.context_length - 1) / 2;
  if (half <= 0) half = std::min(50, max_half);
  if (half < 2 || half > max_half) fail("the induction test needs 2 to " + std::to_string(max_half) + " tokens per half");
  const std::vector<int32_t> seq = repeated_random_tokens(model, seed, half);
  const int offset = int(seq.size()) - 2 * half;  // 1 with BOS
  const Trace t = trace(model, seq, /*attention=*/true, /*residual=*/false);
  const int n = t.n;
  std::vector<float> scores(size_t(c.n_layers) * c.n_heads);
  for (int l = 0; l < c.n_layers; ++l)
    for (int h = 0; h < c.n_heads; ++h) {
      const float* a = t.capture.attention.data() + (size_t(l) * c.n_heads + h) * n * n;
      double sum = 0;
      for (int i = 0; i < half; ++i) {
        const int query = offset + half + i, target = offset + i + 1;  // the token after r_i's first occurrence
        sum += a[size_t(query) * n + target];
      }
      scores[size_t(l) * c.n_heads + h] = float(sum / half);
    }
  return scores;
}

std::vector<HeadStat> head_statistics(const Model& model, const Trace& t, uint64_t seed, int half) {
  const ModelConfig& c = model.config;
  require_attention(c, t);
  const int n = t.n;
  if (n < 2) fail("head statistics need a text of at least 2 tokens");
  const std::vector<float> induction = induction_scores(model, seed, half);
  std::vector<HeadStat> stats(size_t(c.n_layers) * c.n_heads);
  for (int l = 0; l < c.n_layers; ++l)
    for (int h = 0; h < c.n_heads; ++h) {
      const float* a = t.capture.attention.data() + (size_t(l) * c.n_heads + h) * n * n;
      double entropy = 0, prev = 0, first = 0;
      for (int q = 1; q < n; ++q) {
        const float* row = a + size_t(q) * n;
        for (int k = 0; k <= q; ++k)
          if (row[k] > 0) entropy -= double(row[k]) * std::log2(double(row[k]));
        prev += row[q - 1];
        first += row[0];
      }
      HeadStat& s = stats[size_t(l) * c.n_heads + h];
      s.entropy_bits = float(entropy / (n - 1));
      s.prev_token = float(prev / (n - 1));
      s.first_token = float(first / (n - 1));
      s.induction = induction[size_t(l) * c.n_heads + h];
    }
  return stats;
}

}  // namespace loupe::explain
