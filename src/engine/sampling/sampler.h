// Choosing the next token from logits: greedy, temperature, top-k, top-p, min-p and a
// repetition penalty, driven by a seeded random generator whose output is the same on
// every platform (native and wasm give the same tokens for the same seed and logits).
//
// The order follows llama.cpp's default chain so its users meet the same behaviour:
// repetition penalty -> top-k -> top-p -> min-p -> temperature -> draw.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace loupe {

struct SamplingSettings {
  float temperature = 0.8f;     // <= 0: greedy (always the most likely token)
  int top_k = 40;               // keep the k most likely; <= 0: all
  float top_p = 0.95f;          // keep the smallest set whose probability reaches p; >= 1: all
  float min_p = 0.05f;          // drop tokens below min_p x the top probability; <= 0: none
  float repeat_penalty = 1.0f;  // > 1 discourages tokens seen in the last repeat_last_n
  int repeat_last_n = 64;
  uint64_t seed = 0;
};

// xoshiro256** seeded through splitmix64: fast, well studied, and fully specified, so the
// same seed gives the same stream everywhere.
struct Rng {
  uint64_t s[4];
  explicit Rng(uint64_t seed);
  uint64_t next();
  double uniform();  // [0, 1) with 53 random bits
};

struct Candidate {
  int32_t id;
  float logit;
  double prob;
};

// The candidates left after penalty, top-k, top-p and min-p, sorted by probability
// (descending), with probabilities renormalised after temperature. Exposed so tests and
// the app can show the set a token was drawn from.
std::vector<Candidate> candidate_set(std::span<const float> logits, const SamplingSettings& settings,
                                     std::span<const int32_t> recent_tokens);

// Picks the next token. `recent_tokens` feeds the repetition penalty.
int32_t sample_token(std::span<const float> logits, const SamplingSettings& settings, Rng& rng,
                     std::span<const int32_t> recent_tokens = {});

int32_t argmax(std::span<const float> logits);

}  // namespace loupe
