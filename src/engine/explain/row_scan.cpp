// Vectorizable scans of logit rows (see row_scan.h). Each loop works in blocks of kLanes
// values with one accumulator per lane, so the compiler may keep the lanes in vector
// registers without reordering any floating-point sum (the result is the same with SSE2,
// AVX2 or AVX-512, and on wasm).
#include "explain/row_scan.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace loupe::explain {

namespace {

constexpr int kLanes = 16;

// x86 GCC builds: an AVX-512, an AVX2 and a baseline copy of each hot loop, picked at
// load time by the CPU (the rest of the engine is built for the baseline).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__EMSCRIPTEN__)
#define LOUPE_ROW_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LOUPE_ROW_CLONES
#endif

// The bits of a float as an int and back (std::bit_cast is missing from the web build's library).
inline int32_t float_bits(float f) {
  int32_t i;
  std::memcpy(&i, &f, sizeof i);
  return i;
}
inline float bits_float(int32_t i) {
  float f;
  std::memcpy(&f, &i, sizeof f);
  return f;
}

// exp(x) for x <= 0: x = n·ln2 + r with |r| <= ln2/2, e^r by its Taylor series to r^7
// (truncation error < 6e-9 relative), 2^n put into the exponent bits. Below −87 the
// result (< 2e-38) is clamped to e^−87: invisible beside the row's maximum term, 1.
inline float exp_nonpositive(float x) {
  x = x < -87.0f ? -87.0f : x;
  const float shifter = 12582912.0f;  // 1.5·2^23: adding it rounds to an integer in the low bits
  const float t = x * 1.44269504088896341f + shifter;
  const float n = t - shifter;
  float r = x - n * 0.693359375f;  // ln2 in two parts (Cody & Waite): n·hi is exact
  r = r + n * 2.12194440e-4f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t ni = float_bits(t) - float_bits(shifter);
  return p * bits_float((ni + 127) << 23);
}

LOUPE_ROW_CLONES float row_max(const float* x, int n) {
  float lane[kLanes];
  std::fill(lane, lane + kLanes, -INFINITY);
  int i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) lane[j] = x[i + j] > lane[j] ? x[i + j] : lane[j];
  float m = -INFINITY;
  for (int j = 0; j < kLanes; ++j) m = std::max(m, lane[j]);
  for (; i < n; ++i) m = std::max(m, x[i]);
  return m;
}

// Σ exp(x − max) and, when `shifted`, Σ exp(x − max)·(x − max). Block by block: the
// exps into a buffer (one plain loop), then added into double lanes (a zero-padded tail
// adds nothing).
LOUPE_ROW_CLONES void row_exp_sums(const float* x, int n, float max_value, bool shifted, double& sum, double& sum_shifted) {
  constexpr int kBlock = 256;
  float e[kBlock], ed[kBlock];
  double s[kLanes] = {}, sx[kLanes] = {};
  for (int i = 0; i < n; i += kBlock) {
    const int count = std::min(kBlock, n - i), padded = (count + kLanes - 1) / kLanes * kLanes;
    for (int j = 0; j < count; ++j) e[j] = exp_nonpositive(x[i + j] - max_value);
    for (int j = count; j < padded; ++j) e[j] = 0.0f;
    for (int j = 0; j < padded; j += kLanes)
      for (int l = 0; l < kLanes; ++l) s[l] += double(e[j + l]);
    if (!shifted) continue;
    for (int j = 0; j < count; ++j) ed[j] = e[j] * (x[i + j] - max_value);
    for (int j = count; j < padded; ++j) ed[j] = 0.0f;
    for (int j = 0; j < padded; j += kLanes)
      for (int l = 0; l < kLanes; ++l) sx[l] += double(ed[j + l]);
  }
  double total = 0, total_shifted = 0;
  for (int l = 0; l < kLanes; ++l) {
    total += s[l];
    total_shifted += sx[l];
  }
  sum = total;
  sum_shifted = total_shifted;
}

// The k best of a row (ids ascending as scanned, so a later equal logit never displaces an
// earlier one). Blocks whose maximum cannot enter the list are skipped whole.
LOUPE_ROW_CLONES void row_top_k(const float* x, int n, int k, std::vector<TokenLogit>& top) {
  top.clear();
  if (k <= 0) return;
  auto offer = [&](int32_t id, float v) {
    if (int(top.size()) == k && !(v > top.back().logit)) return;
    auto at = std::find_if(top.begin(), top.end(), [&](const TokenLogit& t) { return t.logit < v; });
    top.insert(at, TokenLogit{id, v});
    if (int(top.size()) > k) top.pop_back();
  };
  int i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    if (int(top.size()) == k) {
      float m = x[i];
      for (int j = 1; j < kLanes; ++j) m = x[i + j] > m ? x[i + j] : m;
      if (!(m > top.back().logit)) continue;
    }
    for (int j = 0; j < kLanes; ++j) offer(i + j, x[i + j]);
  }
  for (; i < n; ++i) offer(i, x[i]);
}

}  // namespace

void scan_row(const float* logits, int vocab, int k, bool entropy, RowScan& scan) {
  scan.max_logit = row_max(logits, vocab);
  row_exp_sums(logits, vocab, scan.max_logit, entropy, scan.sum_exp, scan.sum_exp_shifted);
  row_top_k(logits, vocab, std::clamp(k, 0, vocab), scan.top);
}

double row_prob(const RowScan& scan, float logit) {
  return std::exp(double(logit) - double(scan.max_logit)) / scan.sum_exp;
}

LOUPE_ROW_CLONES int count_ahead(const float* logits, int vocab, float logit, int32_t id) {
  int ahead = 0;
  for (int i = 0; i < vocab; ++i) ahead += int(logits[i] > logit) + int(logits[i] == logit && i < id);
  return ahead;
}

}  // namespace loupe::explain
