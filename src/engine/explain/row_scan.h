// One pass over a row of logits (vocab values) for what explanations read from it: the
// maximum, the softmax's normaliser, the k best tokens, and (for token statistics) the
// entropy and a token's rank. The lens does this for every layer x position (≈4000 rows of
// 32000 on the benchmark's model), so the loops here are written to vectorize: exp is a
// float polynomial (relative error ≈ 1e-7, below what the JSON prints), sums are kept in
// double lanes, and on x86 GCC builds AVX2 and AVX-512 clones of each loop.
//
// Results never depend on which thread scans a row; the token order is the reference's
// (top_k_probs in explain.h): larger logit first, lower id first among equal logits.
#pragma once
#include <cstdint>
#include <vector>

namespace loupe::explain {

struct TokenLogit {
  int32_t id = 0;
  float logit = 0;
};

struct RowScan {
  float max_logit = 0;
  double sum_exp = 0;  // Σ exp(logit − max_logit)
  // Σ exp(logit − max)·(logit − max): with it, entropy (nats) = log(sum_exp) − this / sum_exp.
  double sum_exp_shifted = 0;
  std::vector<TokenLogit> top;  // the k best, best first
};

// Scans `logits` (vocab values). `entropy` also fills sum_exp_shifted (one more multiply-add).
void scan_row(const float* logits, int vocab, int k, bool entropy, RowScan& scan);

// P(token) of a scanned row, in double as the reference computes it.
double row_prob(const RowScan& scan, float logit);

// Tokens whose logit beats `logit` (larger, or equal with a lower id than `id`): rank − 1.
int count_ahead(const float* logits, int vocab, float logit, int32_t id);

}  // namespace loupe::explain
