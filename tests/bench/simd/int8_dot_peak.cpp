// The native ceiling of the integer dot that Loupe's x86 prompt kernels are built on:
// vpdpbusd on 512-bit registers (AVX-512 VNNI; kernels/x86_packed.inc), in a loop of
// nothing else, 8 independent accumulators, operands in registers. The kernels cannot
// beat it; tests/bench/simd/peak.mjs prints it beside the wasm instructions' ceilings.
// Not a test: a measurement (docs/performance.md, "Where the time goes in wasm").
#include <immintrin.h>

#include <chrono>
#include <cstdio>

namespace {

constexpr int kAccumulators = 8;
constexpr double kMacsPerInstruction = 64;  // 16 lanes x 4 byte products
volatile int g_sink;                        // the sums are used, so the loop stays

__attribute__((target("avx512f,avx512vnni"))) double vpdpbusd_gmac_per_s(long iterations) {
  __m512i x = _mm512_set1_epi32(0x01020304), y = _mm512_set1_epi32(0x05060708);
  const __m512i step = _mm512_set1_epi32(1);
  __m512i acc[kAccumulators];
  for (__m512i& a : acc) a = _mm512_setzero_si512();
  const auto start = std::chrono::steady_clock::now();
  for (long k = 0; k < iterations; ++k) {
    for (__m512i& a : acc) a = _mm512_dpbusd_epi32(a, x, y);
    x = _mm512_add_epi32(x, step);  // keeps the loop from being folded away
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  int lanes[16], sink = 0;
  for (__m512i& a : acc) {
    _mm512_storeu_si512(lanes, a);
    sink += lanes[0];
  }
  g_sink = sink;
  return double(iterations) * kAccumulators * kMacsPerInstruction / seconds / 1e9;
}

}  // namespace

int main() {
  if (!__builtin_cpu_supports("avx512vnni")) {
    std::printf("{\"error\": \"this CPU has no AVX-512 VNNI\"}\n");
    return 0;
  }
  double best = 0;
  for (int round = 0; round < 3; ++round) {
    const double gmac = vpdpbusd_gmac_per_s(50'000'000);
    if (gmac > best) best = gmac;
  }
  std::printf("{\"instruction\": \"vpdpbusd zmm\", \"gmac_per_s\": %.1f}\n", best);
}
