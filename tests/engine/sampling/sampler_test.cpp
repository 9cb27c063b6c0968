// Sampling: fixed seeds give fixed tokens (the same golden sequence natively and in wasm,
// since this file runs in both), and top-k / top-p / min-p never draw outside their set,
// checked on constructed distributions whose sets are known by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "sampling/sampler.h"

namespace loupe {
namespace {

// Logits whose softmax is exactly `probs` (up to a constant).
std::vector<float> logits_for(const std::vector<double>& probs) {
  std::vector<float> logits;
  for (double p : probs) logits.push_back(float(std::log(p)));
  return logits;
}

TEST(SamplerRng, SameSeedSameStreamAndKnownValues) {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.next(), b.next());
  EXPECT_NE(Rng(42).next(), c.next());
  // xoshiro256** seeded by splitmix64(0): first splitmix64 output is a published value.
  uint64_t x = 0;
  x += 0x9e3779b97f4a7c15ull;
  uint64_t z = x;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  EXPECT_EQ(z ^ (z >> 31), 0xe220a8397b1dcdafull);
  Rng r(0);
  EXPECT_EQ(r.s[0], 0xe220a8397b1dcdafull);
  for (int i = 0; i < 1000; ++i) {
    double u = r.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
}

TEST(Sampler, GreedyPicksTheMaximum) {
  SamplingSettings s;
  s.temperature = 0;
  Rng rng(1);
  EXPECT_EQ(sample_token(logits_for({0.1, 0.5, 0.2, 0.2}), s, rng), 1);
}

TEST(Sampler, TopKNeverSamplesOutsideTheKMostLikely) {
  const std::vector<double> probs = {0.05, 0.3, 0.02, 0.25, 0.18, 0.2};
  SamplingSettings s;
  s.temperature = 1.0f;
  s.top_k = 3;
  s.top_p = 1.0f;
  s.min_p = 0.0f;
  Rng rng(7);
  std::set<int> seen;
  for (int i = 0; i < 3000; ++i) seen.insert(sample_token(logits_for(probs), s, rng));
  EXPECT_EQ(seen, (std::set<int>{1, 3, 5}));
}

TEST(Sampler, TopPKeepsTheSmallestSetReachingP) {
  // Sorted: 0.4 (id 2), 0.3 (id 0), 0.2 (id 3), 0.1 (id 1). p = 0.65 needs {2, 0}.
  SamplingSettings s;
  s.temperature = 1.0f;
  s.top_k = 0;
  s.top_p = 0.65f;
  s.min_p = 0.0f;
  const auto logits = logits_for({0.3, 0.1, 0.4, 0.2});
  auto set = candidate_set(logits, s, {});
  ASSERT_EQ(set.size(), 2u);
  EXPECT_EQ(set[0].id, 2);
  EXPECT_EQ(set[1].id, 0);
  EXPECT_NEAR(set[0].prob, 0.4 / 0.7, 1e-6);
  Rng rng(3);
  std::map<int, int> counts;
  for (int i = 0; i < 4000; ++i) counts[sample_token(logits, s, rng)]++;
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_NEAR(counts[2] / 4000.0, 0.4 / 0.7, 0.03);  // renormalised within the set
}

TEST(Sampler, MinPDropsTokensBelowAFractionOfTheTop) {
  SamplingSettings s;
  s.temperature = 1.0f;
  s.top_k = 0;
  s.top_p = 1.0f;
  s.min_p = 0.3f;  // threshold 0.3 * 0.5 = 0.15: keeps 0.5, 0.2, 0.16; drops 0.1, 0.04
  const auto logits = logits_for({0.1, 0.5, 0.16, 0.04, 0.2});
  Rng rng(11);
  std::set<int> seen;
  for (int i = 0; i < 3000; ++i) seen.insert(sample_token(logits, s, rng));
  EXPECT_EQ(seen, (std::set<int>{1, 2, 4}));
}

TEST(Sampler, TemperatureSharpensAndFlattens) {
  SamplingSettings s;
  s.top_k = 0;
  s.top_p = 1.0f;
  s.min_p = 0.0f;
  const auto logits = logits_for({0.6, 0.4});
  s.temperature = 0.5f;  // p^2 renormalised: 0.36 / 0.52
  EXPECT_NEAR(candidate_set(logits, s, {})[0].prob, 0.36 / 0.52, 1e-6);
  s.temperature = 2.0f;  // sqrt(p) renormalised
  EXPECT_NEAR(candidate_set(logits, s, {})[0].prob, std::sqrt(0.6) / (std::sqrt(0.6) + std::sqrt(0.4)), 1e-6);
}

TEST(Sampler, RepetitionPenaltyLowersSeenTokens) {
  SamplingSettings s;
  s.temperature = 0;
  s.repeat_penalty = 2.0f;
  const std::vector<float> logits = {1.0f, 1.5f, -1.0f};
  Rng rng(1);
  const std::vector<int32_t> recent = {1};
  EXPECT_EQ(sample_token(logits, s, rng, recent), 0);  // 1.5 / 2 = 0.75 < 1.0
}

TEST(Sampler, FixedSeedGivesFixedTokens) {
  // A 50-token vocabulary with a smooth distribution; the golden ids were produced by this
  // implementation natively and must come out identically in the wasm build.
  std::vector<float> logits(50);
  for (int i = 0; i < 50; ++i) logits[size_t(i)] = float(std::sin(i * 0.7) * 2.0);
  SamplingSettings s;  // llama.cpp's defaults: temp 0.8, top-k 40, top-p 0.95, min-p 0.05
  s.seed = 1234;
  Rng rng(s.seed);
  std::vector<int32_t> ids;
  for (int i = 0; i < 16; ++i) ids.push_back(sample_token(logits, s, rng));
  const std::vector<int32_t> golden = {47, 10, 48, 1, 38, 1, 3, 29, 30, 39, 12, 20, 29, 39, 2, 19};
  EXPECT_EQ(ids, golden);
}

}  // namespace
}  // namespace loupe
