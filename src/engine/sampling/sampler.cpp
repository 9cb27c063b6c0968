// Sampling. Probabilities are computed in double so that the draw depends on the logits
// and the seed, not on the platform's float rounding.
#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "core/error.h"

namespace loupe {

static uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

Rng::Rng(uint64_t seed) {
  for (uint64_t& word : s) word = splitmix64(seed);
}

uint64_t Rng::next() {
  const uint64_t result = rotl(s[1] * 5, 7) * 9;
  const uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double Rng::uniform() { return double(next() >> 11) * 0x1.0p-53; }

int32_t argmax(std::span<const float> logits) {
  if (logits.empty()) fail("sampling from an empty vocabulary");
  return int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

// Softmax over the candidates' logits divided by `temperature`, in place.
static void normalise(std::vector<Candidate>& candidates, double temperature) {
  const double top = candidates.front().logit;
  double sum = 0;
  for (Candidate& c : candidates) sum += c.prob = std::exp((double(c.logit) - top) / temperature);
  for (Candidate& c : candidates) c.prob /= sum;
}

std::vector<Candidate> candidate_set(std::span<const float> logits, const SamplingSettings& settings,
                                     std::span<const int32_t> recent_tokens) {
  if (logits.empty()) fail("sampling from an empty vocabulary");
  std::vector<Candidate> candidates(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) candidates[i] = {int32_t(i), logits[i], 0.0};

  // Repetition penalty (as in CTRL): shrink the logits of recently seen tokens.
  if (settings.repeat_penalty != 1.0f && settings.repeat_last_n > 0) {
    const size_t window = std::min(recent_tokens.size(), size_t(settings.repeat_last_n));
    std::unordered_set<int32_t> seen(recent_tokens.end() - window, recent_tokens.end());
    for (int32_t id : seen) {
      if (id < 0 || size_t(id) >= candidates.size()) continue;
      float& logit = candidates[size_t(id)].logit;
      logit = logit > 0 ? logit / settings.repeat_penalty : logit * settings.repeat_penalty;
    }
  }

  // Ties are broken by id so the order, and so the draw, is the same everywhere.
  auto by_logit = [](const Candidate& a, const Candidate& b) {
    return a.logit != b.logit ? a.logit > b.logit : a.id < b.id;
  };
  size_t keep = candidates.size();
  if (settings.top_k > 0) keep = std::min(keep, size_t(settings.top_k));
  std::partial_sort(candidates.begin(), candidates.begin() + ptrdiff_t(keep), candidates.end(), by_logit);
  candidates.resize(keep);

  normalise(candidates, 1.0);
  if (settings.top_p < 1.0f) {
    double cumulative = 0;
    size_t n = 0;
    while (n < candidates.size()) {
      cumulative += candidates[n++].prob;
      if (cumulative >= settings.top_p) break;
    }
    candidates.resize(std::max<size_t>(n, 1));
  }
  if (settings.min_p > 0.0f) {
    const double threshold = settings.min_p * candidates.front().prob;
    size_t n = 1;
    while (n < candidates.size() && candidates[n].prob >= threshold) ++n;
    candidates.resize(n);
  }
  normalise(candidates, settings.temperature > 0 ? settings.temperature : 1.0);
  return candidates;
}

int32_t sample_token(std::span<const float> logits, const SamplingSettings& settings, Rng& rng,
                     std::span<const int32_t> recent_tokens) {
  if (settings.temperature <= 0.0f && settings.repeat_penalty == 1.0f) return argmax(logits);
  std::vector<Candidate> candidates = candidate_set(logits, settings, recent_tokens);
  if (settings.temperature <= 0.0f) return candidates.front().id;
  const double r = rng.uniform();
  double cumulative = 0;
  for (const Candidate& c : candidates) {
    cumulative += c.prob;
    if (r < cumulative) return c.id;
  }
  return candidates.back().id;
}

}  // namespace loupe
