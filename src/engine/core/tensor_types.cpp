// The tensor type table: for every type Loupe reads, its GGML block layout and the plain
// scalar code that turns blocks into floats, floats into blocks, and takes the dot product
// of a row with activations quantized to the row's dot partner.
//
// Block layouts are byte-exact copies of GGML's (so files can be read in place). All
// multi-byte fields are little-endian and are read with memcpy, because tensor data in a
// file is only as aligned as the file says. This is reference code, written to be read;
// the fast versions live in kernels/.
#include "core/tensor_types.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "core/error.h"
#include "core/half.h"

namespace loupe {
namespace {

// ============================================================================
// Little-endian fields that may sit at any address
// ============================================================================

struct F16Field { uint8_t bytes[2]; };   // an IEEE half
struct F32Field { uint8_t bytes[4]; };   // an IEEE float
struct I16Field { uint8_t bytes[2]; };   // a signed 16-bit integer

float load(const F16Field& f) { uint16_t h; std::memcpy(&h, f.bytes, 2); return f16_to_f32(h); }
float load(const F32Field& f) { float v; std::memcpy(&v, f.bytes, 4); return v; }
int load(const I16Field& f) { int16_t v; std::memcpy(&v, f.bytes, 2); return v; }
void store(F16Field& f, float v) { uint16_t h = f32_to_f16(v); std::memcpy(f.bytes, &h, 2); }
void store(F32Field& f, float v) { std::memcpy(f.bytes, &v, 4); }
void store(I16Field& f, int v) { int16_t s = int16_t(v); std::memcpy(f.bytes, &s, 2); }

// Round to the nearest integer, ties to even (as llama.cpp's activation quantizers and
// ggml's nearest_int do), clamped to [lo, hi]; NaN becomes 0 so hostile data stays defined.
int round_clamped(float v, int lo, int hi) {
  if (!(v == v)) return 0;
  float r = std::nearbyint(v);
  if (r < float(lo)) return lo;
  if (r > float(hi)) return hi;
  return int(r);
}

// ============================================================================
// Block layouts (GGML's, byte for byte)
// ============================================================================

constexpr int QK = 32;     // values per block of the legacy quants
constexpr int QK_K = 256;  // values per super-block of the K-quants

// Q4_0: 32 values = d * (q - 8), q a 4-bit nibble. Low nibbles hold values 0..15, high
// nibbles values 16..31.
struct BlockQ4_0 { F16Field d; uint8_t qs[QK / 2]; };
// Q4_1: 32 values = d * q + m, q a 4-bit nibble laid out as in Q4_0.
struct BlockQ4_1 { F16Field d; F16Field m; uint8_t qs[QK / 2]; };
// Q5_0: 32 values = d * (q - 16), q 5 bits: low 4 bits as in Q4_0, bit 4 of value j in
// bit j of qh.
struct BlockQ5_0 { F16Field d; uint8_t qh[4]; uint8_t qs[QK / 2]; };
// Q5_1: 32 values = d * q + m, q 5 bits laid out as in Q5_0.
struct BlockQ5_1 { F16Field d; F16Field m; uint8_t qh[4]; uint8_t qs[QK / 2]; };
// Q8_0: 32 values = d * q, q a signed byte.
struct BlockQ8_0 { F16Field d; int8_t qs[QK]; };
// Q8_1: as Q8_0, plus s = d * sum(q), which lets Q4_1/Q5_1 dots add their offset m once.
struct BlockQ8_1 { F16Field d; F16Field s; int8_t qs[QK]; };
// Q4_K: 256 values in 8 sub-blocks of 32; value = d*scale_j * q - dmin*min_j, q 4 bits.
// The 8 six-bit scales and 8 six-bit mins are packed into 12 bytes (see scale_min_k4).
// Each 32 bytes of qs hold two sub-blocks: low nibbles the first, high nibbles the second.
struct BlockQ4_K { F16Field d; F16Field dmin; uint8_t scales[12]; uint8_t qs[QK_K / 2]; };
// Q5_K: as Q4_K with a fifth bit per value: bit (2*pair + half) of qh[l] for value l of a
// sub-block, where pair is the 64-value chunk and half the low/high-nibble sub-block.
struct BlockQ5_K { F16Field d; F16Field dmin; uint8_t scales[12]; uint8_t qh[QK_K / 8];
                   uint8_t qs[QK_K / 2]; };
// Q6_K: 256 values in 16 sub-blocks of 16; value = d * scale_j * (q - 32), q 6 bits: low
// 4 bits in ql, high 2 bits in qh; scales are signed bytes. Two halves of 128 values each.
struct BlockQ6_K { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16];
                   F16Field d; };
// Q8_K: 256 values = d * q with a float d, plus the sum of each 16 q's (bsums), which the
// K-quant dots use to apply the mins without touching every value.
struct BlockQ8_K { F32Field d; int8_t qs[QK_K]; I16Field bsums[QK_K / 16]; };

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22 && sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ4_K) == 144 && sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210 && sizeof(BlockQ8_K) == 292);

template <typename Block> const Block* blocks_of(const void* p) { return static_cast<const Block*>(p); }
template <typename Block> Block* blocks_of(void* p) { return static_cast<Block*>(p); }

// Largest |x| of n values, and the value that has it (sign kept).
struct AbsMax { float abs; float value; };
AbsMax abs_max(const float* x, int n) {
  AbsMax m{0.0f, 0.0f};
  for (int i = 0; i < n; i++) {
    if (std::fabs(x[i]) > m.abs) m = {std::fabs(x[i]), x[i]};
  }
  return m;
}

// ============================================================================
// F32, F16, BF16
// ============================================================================

// (An empty tensor may come with null pointers, which memcpy must not see.)
void f32_to_float(const void* in, float* out, int64_t n) { if (n > 0) std::memcpy(out, in, size_t(n) * 4); }
void f32_from_float(const float* in, void* out, int64_t n) { if (n > 0) std::memcpy(out, in, size_t(n) * 4); }

void f16_to_float(const void* in, float* out, int64_t n) {
  const auto* h = blocks_of<F16Field>(in);
  for (int64_t i = 0; i < n; i++) out[i] = load(h[i]);
}
void f16_from_float(const float* in, void* out, int64_t n) {
  auto* h = blocks_of<F16Field>(out);
  for (int64_t i = 0; i < n; i++) store(h[i], in[i]);
}

void bf16_to_float(const void* in, float* out, int64_t n) {
  const auto* b = static_cast<const uint8_t*>(in);
  for (int64_t i = 0; i < n; i++) {
    uint16_t v; std::memcpy(&v, b + 2 * i, 2);
    out[i] = bf16_to_f32(v);
  }
}
void bf16_from_float(const float* in, void* out, int64_t n) {
  auto* b = static_cast<uint8_t*>(out);
  for (int64_t i = 0; i < n; i++) {
    uint16_t v = f32_to_bf16(in[i]);
    std::memcpy(b + 2 * i, &v, 2);
  }
}

// Float dots accumulate in double, as ggml's scalar path does.
// Rows are only as aligned as the file says (fuzzed and hand-made files may not be), so
// values are read with memcpy.
float dot_f32(const void* row, const void* partner, int64_t n) {
  const auto* x = static_cast<const uint8_t*>(row);
  const auto* y = static_cast<const uint8_t*>(partner);
  double sum = 0;
  for (int64_t i = 0; i < n; i++) {
    float a, b;
    std::memcpy(&a, x + 4 * i, 4);
    std::memcpy(&b, y + 4 * i, 4);
    sum += double(a * b);
  }
  return float(sum);
}
float dot_f16(const void* row, const void* partner, int64_t n) {
  const auto* x = blocks_of<F16Field>(row);
  const auto* y = blocks_of<F16Field>(partner);
  double sum = 0;
  for (int64_t i = 0; i < n; i++) sum += double(load(x[i]) * load(y[i]));
  return float(sum);
}
float dot_bf16(const void* row, const void* partner, int64_t n) {
  const auto* x = static_cast<const uint8_t*>(row);
  const auto* y = static_cast<const uint8_t*>(partner);
  double sum = 0;
  for (int64_t i = 0; i < n; i++) {
    uint16_t a, b;
    std::memcpy(&a, x + 2 * i, 2);
    std::memcpy(&b, y + 2 * i, 2);
    sum += double(bf16_to_f32(a) * bf16_to_f32(b));
  }
  return float(sum);
}

// ============================================================================
// Q4_0, Q4_1, Q5_0, Q5_1
// ============================================================================

// Value j of a 32-value block: nibble j of the 16 bytes (low nibbles first).
int nibble(const uint8_t* qs, int j) { return j < QK / 2 ? (qs[j] & 0x0f) : (qs[j - QK / 2] >> 4); }
int fifth_bit(const uint8_t* qh, int j) {
  uint32_t bits; std::memcpy(&bits, qh, 4);
  return int((bits >> j) & 1u);
}
void pack_nibbles(const int* q, uint8_t* qs) {
  for (int j = 0; j < QK / 2; j++) qs[j] = uint8_t(q[j] | (q[j + QK / 2] << 4));
}
void pack_fifth_bits(const int* q, uint8_t* qh) {
  uint32_t bits = 0;
  for (int j = 0; j < QK; j++) bits |= uint32_t((q[j] >> 4) & 1) << j;
  std::memcpy(qh, &bits, 4);
}

void q4_0_to_float(const void* in, float* out, int64_t n) {
  const auto* b = blocks_of<BlockQ4_0>(in);
  for (int64_t i = 0; i < n / QK; i++) {
    float d = load(b[i].d);
    for (int j = 0; j < QK; j++) out[i * QK + j] = d * float(nibble(b[i].qs, j) - 8);
  }
}
// The value of largest magnitude maps to -8, so the full range [-8, 7] is used.
void q4_0_from_float(const float* in, void* out, int64_t n) {
  auto* b = blocks_of<BlockQ4_0>(out);
  for (int64_t i = 0; i < n / QK; i++) {
    const float* x = in + i * QK;
    float d = abs_max(x, QK).value / -8.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    int q[QK];
    for (int j = 0; j < QK; j++) q[j] = round_clamped(std::floor(x[j] * id + 8.5f), 0, 15);
    store(b[i].d, d);
    pack_nibbles(q, b[i].qs);
  }
}

void q4_1_to_float(const void* in, float* out, int64_t n) {
  const auto* b = blocks_of<BlockQ4_1>(in);
  for (int64_t i = 0; i < n / QK; i++) {
    float d = load(b[i].d), m = load(b[i].m);
    for (int j = 0; j < QK; j++) out[i * QK + j] = d * float(nibble(b[i].qs, j)) + m;
  }
}
// Spans [min, max] with 16 levels.
void q4_1_from_float(const float* in, void* out, int64_t n) {
  auto* b = blocks_of<BlockQ4_1>(out);
  for (int64_t i = 0; i < n / QK; i++) {
    const float* x = in + i * QK;
    float lo = x[0], hi = x[0];
    for (int j = 1; j < QK; j++) { lo = std::min(lo, x[j]); hi = std::max(hi, x[j]); }
    float d = (hi - lo) / 15.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    int q[QK];
    for (int j = 0; j < QK; j++) q[j] = round_clamped(std::floor((x[j] - lo) * id + 0.5f), 0, 15);
    store(b[i].d, d);
    store(b[i].m, lo);
    pack_nibbles(q, b[i].qs);
  }
}

void q5_0_to_float(const void* in, float* out, int64_t n) {
  const auto* b = blocks_of<BlockQ5_0>(in);
  for (int64_t i = 0; i < n / QK; i++) {
    float d = load(b[i].d);
    for (int j = 0; j < QK; j++) {
      int q = nibble(b[i].qs, j) | (fifth_bit(b[i].qh, j) << 4);
      out[i * QK + j] = d * float(q - 16);
    }
  }
}
void q5_0_from_float(const float* in, void* out, int64_t n) {
  auto* b = blocks_of<BlockQ5_0>(out);
  for (int64_t i = 0; i < n / QK; i++) {
    const float* x = in + i * QK;
    float d = abs_max(x, QK).value / -16.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    int q[QK];
    for (int j = 0; j < QK; j++) q[j] = round_clamped(std::floor(x[j] * id + 16.5f), 0, 31);
    int low[QK];
    for (int j = 0; j < QK; j++) low[j] = q[j] & 0x0f;
    store(b[i].d, d);
    pack_nibbles(low, b[i].qs);
    pack_fifth_bits(q, b[i].qh);
  }
}

void q5_1_to_float(const void* in, float* out, int64_t n) {
  const auto* b = blocks_of<BlockQ5_1>(in);
  for (int64_t i = 0; i < n / QK; i++) {
    float d = load(b[i].d), m = load(b[i].m);
    for (int j = 0; j < QK; j++) {
      int q = nibble(b[i].qs, j) | (fifth_bit(b[i].qh, j) << 4);
      out[i * QK + j] = d * float(q) + m;
    }
  }
}
void q5_1_from_float(const float* in, void* out, int64_t n) {
  auto* b = blocks_of<BlockQ5_1>(out);
  for (int64_t i = 0; i < n / QK; i++) {
    const float* x = in + i * QK;
    float lo = x[0], hi = x[0];
    for (int j = 1; j < QK; j++) { lo = std::min(lo, x[j]); hi = std::max(hi, x[j]); }
    float d = (hi - lo) / 31.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    int q[QK];
    for (int j = 0; j < QK; j++) q[j] = round_clamped(std::floor((x[j] - lo) * id + 0.5f), 0, 31);
    int low[QK];
    for (int j = 0; j < QK; j++) low[j] = q[j] & 0x0f;
    store(b[i].d, d);
    store(b[i].m, lo);
    pack_nibbles(low, b[i].qs);
    pack_fifth_bits(q, b[i].qh);
  }
}

// ============================================================================
// Q8_0, Q8_1 (the activation types of the legacy quants)
// ============================================================================

void q8_0_to_float(const void* in, float* out, int64_t n) {
  const auto* b = blocks_of<BlockQ8_0>(in);
  for (int64_t i = 0; i < n / QK; i++) {
    float d = load(b[i].d);
    for (int j = 0; j < QK; j++) out[i * QK + j] = d * float(b[i].qs[j]);
  }
}
// d = amax / 127, q = round_half_even(x * 127 / amax), exactly as llama.cpp's x86 code
// quantizes activations (127 / amax, not 1 / d: the two differ in the last bit, and
// that is enough to move a value across a rounding boundary now and then).
void q8_0_from_float(const float* in, void* out, int64_t n) {
  auto* b = blocks_of<BlockQ8_0>(out);
  for (int64_t i = 0; i < n / QK; i++) {
    const float* x = in + i * QK;
    const float amax = abs_max(x, QK).abs;
    float d = amax / 127.0f;
    float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    for (int j = 0; j < QK; j++) b[i].qs[j] = int8_t(round_clamped(x[j] * id, -127, 127));
    store(b[i].d, d);
  }
}

void q8_1_to_float(const void* in, float* out, int64_t n) {
  const auto* b = blocks_of<BlockQ8_1>(in);
  for (int64_t i = 0; i < n / QK; i++) {
    float d = load(b[i].d);
    for (int j = 0; j < QK; j++) out[i * QK + j] = d * float(b[i].qs[j]);
  }
}
void q8_1_from_float(const float* in, void* out, int64_t n) {
  auto* b = blocks_of<BlockQ8_1>(out);
  for (int64_t i = 0; i < n / QK; i++) {
    const float* x = in + i * QK;
    float d = abs_max(x, QK).abs / 127.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    int sum = 0;
    for (int j = 0; j < QK; j++) {
      b[i].qs[j] = int8_t(round_clamped(x[j] * id, -127, 127));
      sum += b[i].qs[j];
    }
    store(b[i].d, d);
    store(b[i].s, float(sum) * d);
  }
}

// Legacy dots: per block, an integer sum of products times the two block scales.
float dot_q4_0_q8_0(const void* row, const void* partner, int64_t n) {
  const auto* x = blocks_of<BlockQ4_0>(row);
  const auto* y = blocks_of<BlockQ8_0>(partner);
  float sum = 0;
  for (int64_t i = 0; i < n / QK; i++) {
    int sumi = 0;
    for (int j = 0; j < QK; j++) sumi += (nibble(x[i].qs, j) - 8) * y[i].qs[j];
    sum += float(sumi) * (load(x[i].d) * load(y[i].d));
  }
  return sum;
}
// x = d*q + m, so x.y = d*dy*sum(q*qy) + m*(dy*sum(qy)) and the partner keeps dy*sum(qy).
float dot_q4_1_q8_1(const void* row, const void* partner, int64_t n) {
  const auto* x = blocks_of<BlockQ4_1>(row);
  const auto* y = blocks_of<BlockQ8_1>(partner);
  float sum = 0;
  for (int64_t i = 0; i < n / QK; i++) {
    int sumi = 0;
    for (int j = 0; j < QK; j++) sumi += nibble(x[i].qs, j) * y[i].qs[j];
    sum += (load(x[i].d) * load(y[i].d)) * float(sumi) + load(x[i].m) * load(y[i].s);
  }
  return sum;
}
float dot_q5_0_q8_0(const void* row, const void* partner, int64_t n) {
  const auto* x = blocks_of<BlockQ5_0>(row);
  const auto* y = blocks_of<BlockQ8_0>(partner);
  float sum = 0;
  for (int64_t i = 0; i < n / QK; i++) {
    int sumi = 0;
    for (int j = 0; j < QK; j++) {
      int q = nibble(x[i].qs, j) | (fifth_bit(x[i].qh, j) << 4);
      sumi += (q - 16) * y[i].qs[j];
    }
    sum += float(sumi) * (load(x[i].d) * load(y[i].d));
  }
  return sum;
}
float dot_q5_1_q8_1(const void* row, const void* partner, int64_t n) {
  const auto* x = blocks_of<BlockQ5_1>(row);
  const auto* y = blocks_of<BlockQ8_1>(partner);
  float sum = 0;
  for (int64_t i = 0; i < n / QK; i++) {
    int sumi = 0;
    for (int j = 0; j < QK; j++) {
      int q = nibble(x[i].qs, j) | (fifth_bit(x[i].qh, j) << 4);
      sumi += q * y[i].qs[j];
    }
    sum += (load(x[i].d) * load(y[i].d)) * float(sumi) + load(x[i].m) * load(y[i].s);
  }
  return sum;
}
float dot_q8_0_q8_0(const void* row, const void* partner, int64_t n) {
  const auto* x = blocks_of<BlockQ8_0>(row);
  const auto* y = blocks_of<BlockQ8_0>(partner);
  float sum = 0;
  for (int64_t i = 0; i < n / QK; i++) {
    int sumi = 0;
    for (int j = 0; j < QK; j++) sumi += x[i].qs[j] * y[i].qs[j];
    sum += float(sumi) * (load(x[i].d) * load(y[i].d));
  }
  return sum;
}
float dot_q8_1_q8_1(const void* row, const void* partner, int64_t n) {
  const auto* x = blocks_of<BlockQ8_1>(row);
  const auto* y = blocks_of<BlockQ8_1>(partner);
  float sum = 0;
  for (int64_t i = 0; i < n / QK; i++) {
    int sumi = 0;
    for (int j = 0; j < QK; j++) sumi += x[i].qs[j] * y[i].qs[j];
    sum += float(sumi) * (load(x[i].d) * load(y[i].d));
  }
  return sum;
}

// ============================================================================
// K-quant scale fitting (the reference quantizers' search)
// ============================================================================

// Fits x ~ scale * q - min with q in [0, nmax], scale >= 0, min >= 0, minimising the
// weighted squared error. Tries a few grid spacings around the plain (max-min)/nmax one
// and, for each, solves the least-squares problem for scale and min given the levels q.
struct ScaleMin { float scale; float min; };
ScaleMin fit_scale_min(const float* x, const float* w, int n, int nmax) {
  float lo = x[0], hi = x[0];
  for (int i = 1; i < n; i++) { lo = std::min(lo, x[i]); hi = std::max(hi, x[i]); }
  lo = std::min(lo, 0.0f);  // min >= 0 means the offset can only shift values down
  if (!(hi > lo)) return {0.0f, -lo};

  float best_scale = (hi - lo) / float(nmax), best_offset = lo, best_error = 0;
  for (int i = 0; i < n; i++) {
    int q = round_clamped((x[i] - lo) / best_scale, 0, nmax);
    float e = best_scale * float(q) + lo - x[i];
    best_error += w[i] * e * e;
  }
  for (int step = 0; step <= 20; step++) {
    float iscale = (float(nmax) - 1.0f + 0.1f * float(step)) / (hi - lo);
    double sw = 0, sq = 0, sqq = 0, sx = 0, sqx = 0;
    int q[QK_K];
    for (int i = 0; i < n; i++) {
      q[i] = round_clamped((x[i] - lo) * iscale, 0, nmax);
      sw += w[i]; sq += w[i] * q[i]; sqq += w[i] * q[i] * q[i];
      sx += w[i] * x[i]; sqx += w[i] * q[i] * x[i];
    }
    // Normal equations of min over (s, o) of sum w (s*q + o - x)^2.
    double det = sw * sqq - sq * sq;
    if (!(det > 0)) continue;
    double s = (sw * sqx - sq * sx) / det;
    double o = (sqq * sx - sq * sqx) / det;
    if (o > 0) { o = 0; s = sqx / sqq; }  // the offset may only be <= 0
    if (!(s > 0)) continue;
    float error = 0;
    for (int i = 0; i < n; i++) {
      float e = float(s) * float(q[i]) + float(o) - x[i];
      error += w[i] * e * e;
    }
    if (error < best_error) { best_error = error; best_scale = float(s); best_offset = float(o); }
  }
  return {best_scale, -best_offset};
}

// Fits x ~ scale * q with q in [-nmax, nmax - 1], weighting each value by x^2 (large
// values matter most). The scale keeps the sign that sends the largest value to -nmax,
// which uses the one extra negative level.
float fit_symmetric_scale(const float* x, int n, int nmax) {
  AbsMax m = abs_max(x, n);
  if (m.abs < 1e-30f) return 0.0f;
  float best_scale = 0, best_score = -1;
  for (int step = -9; step <= 9; step++) {
    float iscale = -(float(nmax) + 0.1f * float(step)) / m.value;
    double sqx = 0, sqq = 0;
    for (int i = 0; i < n; i++) {
      int q = round_clamped(iscale * x[i], -nmax, nmax - 1);
      double w = double(x[i]) * x[i];
      sqx += w * q * x[i];
      sqq += w * q * q;
    }
    // For the best scale sqx/sqq, the error is sum(w x^2) - sqx^2/sqq: maximise sqx^2/sqq.
    if (sqq > 0 && sqx * sqx / sqq > best_score) {
      best_score = float(sqx * sqx / sqq);
      best_scale = float(sqx / sqq);
    }
  }
  return best_scale;
}

// Q4_K/Q5_K keep 8 six-bit scales and 8 six-bit mins in 12 bytes: bytes 0-3 hold scales
// 0-3 (low 6 bits), bytes 4-7 mins 0-3, bytes 8-11 the low 4 bits of scale and min 4-7,
// and the top 2 bits of scales/mins 4-7 sit in the spare top bits of bytes 0-3 / 4-7.
void scale_min_k4(int j, const uint8_t* packed, int* scale, int* min) {
  if (j < 4) {
    *scale = packed[j] & 63;
    *min = packed[j + 4] & 63;
  } else {
    *scale = (packed[j + 4] & 0x0f) | ((packed[j - 4] >> 6) << 4);
    *min = (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4);
  }
}
void pack_scale_min_k4(const int* scales, const int* mins, uint8_t* packed) {
  std::memset(packed, 0, 12);
  for (int j = 0; j < 8; j++) {
    if (j < 4) {
      packed[j] = uint8_t(scales[j]);
      packed[j + 4] = uint8_t(mins[j]);
    } else {
      packed[j + 4] = uint8_t((scales[j] & 0x0f) | ((mins[j] & 0x0f) << 4));
      packed[j - 4] |= uint8_t((scales[j] >> 4) << 6);
      packed[j] |= uint8_t((mins[j] >> 4) << 6);
    }
  }
}

// Shared by Q4_K and Q5_K: fits 8 sub-blocks of 32, stores the 6-bit scales and mins and
// d/dmin, and returns the levels q (0..nmax) of the 256 values in `levels`.
void quantize_k_scale_min(const float* x, int nmax, F16Field& d_out, F16Field& dmin_out,
                          uint8_t* packed_scales, int* levels) {
  ScaleMin fits[8];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; j++) {
    const float* sub = x + 32 * j;
    float sum_sq = 0;
    for (int l = 0; l < 32; l++) sum_sq += sub[l] * sub[l];
    float rms = std::sqrt(sum_sq / 32.0f);
    float w[32];
    for (int l = 0; l < 32; l++) w[l] = rms + std::fabs(sub[l]);  // weight large values more
    fits[j] = fit_scale_min(sub, w, 32, nmax);
    max_scale = std::max(max_scale, fits[j].scale);
    max_min = std::max(max_min, fits[j].min);
  }
  // The per-sub-block scales and mins are themselves quantized to 6 bits.
  float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
  float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
  int scales[8], mins[8];
  for (int j = 0; j < 8; j++) {
    scales[j] = round_clamped(inv_scale * fits[j].scale, 0, 63);
    mins[j] = round_clamped(inv_min * fits[j].min, 0, 63);
  }
  pack_scale_min_k4(scales, mins, packed_scales);
  store(d_out, max_scale / 63.0f);
  store(dmin_out, max_min / 63.0f);
  // Pick the levels against the scales as they will be read back.
  float d = load(d_out), dmin = load(dmin_out);
  for (int j = 0; j < 8; j++) {
    float sd = d * float(scales[j]), sm = dmin * float(mins[j]);
    for (int l = 0; l < 32; l++) {
      levels[32 * j + l] = sd != 0.0f ? round_clamped((x[32 * j + l] + sm) / sd, 0, nmax) : 0;
    }
  }
}

// ============================================================================
// Q4_K, Q5_K, Q6_K, Q8_K
// ============================================================================

void q4_k_to_float(const void* in, float* out, int64_t n) {
  const auto* b = blocks_of<BlockQ4_K>(in);
  for (int64_t i = 0; i < n / QK_K; i++) {
    float d = load(b[i].d), dmin = load(b[i].dmin);
    float* y = out + i * QK_K;
    for (int pair = 0; pair < 4; pair++) {  // 64 values: two sub-blocks share 32 bytes
      const uint8_t* q = b[i].qs + 32 * pair;
      int sc0, m0, sc1, m1;
      scale_min_k4(2 * pair, b[i].scales, &sc0, &m0);
      scale_min_k4(2 * pair + 1, b[i].scales, &sc1, &m1);
      for (int l = 0; l < 32; l++) {
        y[64 * pair + l] = d * float(sc0) * float(q[l] & 0x0f) - dmin * float(m0);
        y[64 * pair + 32 + l] = d * float(sc1) * float(q[l] >> 4) - dmin * float(m1);
      }
    }
  }
}
void q4_k_from_float(const float* in, void* out, int64_t n) {
  auto* b = blocks_of<BlockQ4_K>(out);
  for (int64_t i = 0; i < n / QK_K; i++) {
    int levels[QK_K];
    quantize_k_scale_min(in + i * QK_K, 15, b[i].d, b[i].dmin, b[i].scales, levels);
    for (int pair = 0; pair < 4; pair++) {
      for (int l = 0; l < 32; l++) {
        b[i].qs[32 * pair + l] = uint8_t(levels[64 * pair + l] | (levels[64 * pair + 32 + l] << 4));
      }
    }
  }
}

// Level (0..31) of value v (0..255) of a Q5_K block.
int q5_k_level(const BlockQ5_K& b, int v) {
  int pair = v / 64, half = (v / 32) % 2, l = v % 32;
  int low = half == 0 ? (b.qs[32 * pair + l] & 0x0f) : (b.qs[32 * pair + l] >> 4);
  int high = (b.qh[l] >> (2 * pair + half)) & 1;
  return low | (high << 4);
}
void q5_k_to_float(const void* in, float* out, int64_t n) {
  const auto* b = blocks_of<BlockQ5_K>(in);
  for (int64_t i = 0; i < n / QK_K; i++) {
    float d = load(b[i].d), dmin = load(b[i].dmin);
    for (int j = 0; j < 8; j++) {
      int sc, m;
      scale_min_k4(j, b[i].scales, &sc, &m);
      for (int l = 0; l < 32; l++) {
        out[i * QK_K + 32 * j + l] = d * float(sc) * float(q5_k_level(b[i], 32 * j + l)) - dmin * float(m);
      }
    }
  }
}
void q5_k_from_float(const float* in, void* out, int64_t n) {
  auto* b = blocks_of<BlockQ5_K>(out);
  for (int64_t i = 0; i < n / QK_K; i++) {
    int levels[QK_K];
    quantize_k_scale_min(in + i * QK_K, 31, b[i].d, b[i].dmin, b[i].scales, levels);
    std::memset(b[i].qh, 0, sizeof b[i].qh);
    for (int pair = 0; pair < 4; pair++) {
      for (int l = 0; l < 32; l++) {
        int lo = levels[64 * pair + l], hi = levels[64 * pair + 32 + l];
        b[i].qs[32 * pair + l] = uint8_t((lo & 0x0f) | ((hi & 0x0f) << 4));
        b[i].qh[l] |= uint8_t(((lo >> 4) << (2 * pair)) | ((hi >> 4) << (2 * pair + 1)));
      }
    }
  }
}

// Level (0..63, stored offset by 32) of value v of a Q6_K block. Each 128-value half uses
// 64 bytes of ql and 32 of qh: value l (0..31) + 32*k of the half takes the low or high
// nibble of ql[l] or ql[l+32] and bits 2k..2k+1 of qh[l].
int q6_k_level(const BlockQ6_K& b, int v) {
  int half = v / 128, k = (v % 128) / 32, l = v % 32;
  const uint8_t* ql = b.ql + 64 * half;
  const uint8_t* qh = b.qh + 32 * half;
  int low = (k % 2 == 0 ? ql[l] : ql[l + 32]);
  low = k < 2 ? (low & 0x0f) : (low >> 4);
  int high = (qh[l] >> (2 * k)) & 3;
  return low | (high << 4);
}
void q6_k_to_float(const void* in, float* out, int64_t n) {
  const auto* b = blocks_of<BlockQ6_K>(in);
  for (int64_t i = 0; i < n / QK_K; i++) {
    float d = load(b[i].d);
    for (int v = 0; v < QK_K; v++) {
      out[i * QK_K + v] = d * float(b[i].scales[v / 16]) * float(q6_k_level(b[i], v) - 32);
    }
  }
}
void q6_k_from_float(const float* in, void* out, int64_t n) {
  auto* b = blocks_of<BlockQ6_K>(out);
  for (int64_t i = 0; i < n / QK_K; i++) {
    const float* x = in + i * QK_K;
    float sub_scales[16];
    float max_scale = 0, max_abs = 0;
    for (int j = 0; j < 16; j++) {
      sub_scales[j] = fit_symmetric_scale(x + 16 * j, 16, 32);
      if (std::fabs(sub_scales[j]) > max_abs) { max_abs = std::fabs(sub_scales[j]); max_scale = sub_scales[j]; }
    }
    std::memset(&b[i], 0, sizeof b[i]);
    if (max_abs == 0.0f) {  // all zero: every level is the zero level 32
      for (int v = 0; v < QK_K / 2; v++) b[i].ql[v] = 0;
      for (int v = 0; v < QK_K / 4; v++) b[i].qh[v] = 0xaa;  // high bits 0b10 -> level 32
      continue;
    }
    // The 16 scales become signed bytes; the largest maps to -128.
    float iscale = -128.0f / max_scale;
    store(b[i].d, 1.0f / iscale);
    for (int j = 0; j < 16; j++) b[i].scales[j] = int8_t(round_clamped(iscale * sub_scales[j], -128, 127));
    float d = load(b[i].d);
    int levels[QK_K];
    for (int v = 0; v < QK_K; v++) {
      float sd = d * float(b[i].scales[v / 16]);
      levels[v] = (sd != 0.0f ? round_clamped(x[v] / sd, -32, 31) : 0) + 32;
    }
    for (int half = 0; half < 2; half++) {
      uint8_t* ql = b[i].ql + 64 * half;
      uint8_t* qh = b[i].qh + 32 * half;
      const int* q = levels + 128 * half;
      for (int l = 0; l < 32; l++) {
        ql[l] = uint8_t((q[l] & 0x0f) | ((q[l + 64] & 0x0f) << 4));
        ql[l + 32] = uint8_t((q[l + 32] & 0x0f) | ((q[l + 96] & 0x0f) << 4));
        qh[l] = uint8_t((q[l] >> 4) | ((q[l + 32] >> 4) << 2) | ((q[l + 64] >> 4) << 4) | ((q[l + 96] >> 4) << 6));
      }
    }
  }
}

void q8_k_to_float(const void* in, float* out, int64_t n) {
  const auto* b = blocks_of<BlockQ8_K>(in);
  for (int64_t i = 0; i < n / QK_K; i++) {
    float d = load(b[i].d);
    for (int j = 0; j < QK_K; j++) out[i * QK_K + j] = d * float(b[i].qs[j]);
  }
}
// The value of largest magnitude maps to -127; q = round_half_even(x * -127 / max).
void q8_k_from_float(const float* in, void* out, int64_t n) {
  auto* b = blocks_of<BlockQ8_K>(out);
  for (int64_t i = 0; i < n / QK_K; i++) {
    const float* x = in + i * QK_K;
    AbsMax m = abs_max(x, QK_K);
    std::memset(&b[i], 0, sizeof b[i]);
    if (m.abs == 0.0f || !std::isfinite(m.abs)) continue;
    float iscale = -127.0f / m.value;
    for (int j = 0; j < QK_K; j++) b[i].qs[j] = int8_t(round_clamped(iscale * x[j], -128, 127));
    for (int g = 0; g < QK_K / 16; g++) {
      int sum = 0;
      for (int l = 0; l < 16; l++) sum += b[i].qs[16 * g + l];
      store(b[i].bsums[g], sum);
    }
    store(b[i].d, 1.0f / iscale);
  }
}

// K-quant dots: per sub-block an integer sum of q*qy times the sub-block's integer scale;
// the mins are applied through the partner's 16-value sums (bsums).
float dot_q4_k_q8_k(const void* row, const void* partner, int64_t n) {
  const auto* x = blocks_of<BlockQ4_K>(row);
  const auto* y = blocks_of<BlockQ8_K>(partner);
  float sum = 0;
  for (int64_t i = 0; i < n / QK_K; i++) {
    int sum_q = 0, sum_m = 0;
    for (int j = 0; j < 8; j++) {
      int sc, m;
      scale_min_k4(j, x[i].scales, &sc, &m);
      const uint8_t* q = x[i].qs + 32 * (j / 2);
      int s = 0;
      for (int l = 0; l < 32; l++) {
        int level = j % 2 == 0 ? (q[l] & 0x0f) : (q[l] >> 4);
        s += level * y[i].qs[32 * j + l];
      }
      sum_q += sc * s;
      sum_m += m * (load(y[i].bsums[2 * j]) + load(y[i].bsums[2 * j + 1]));
    }
    float dy = load(y[i].d);
    sum += load(x[i].d) * dy * float(sum_q) - load(x[i].dmin) * dy * float(sum_m);
  }
  return sum;
}
float dot_q5_k_q8_k(const void* row, const void* partner, int64_t n) {
  const auto* x = blocks_of<BlockQ5_K>(row);
  const auto* y = blocks_of<BlockQ8_K>(partner);
  float sum = 0;
  for (int64_t i = 0; i < n / QK_K; i++) {
    int sum_q = 0, sum_m = 0;
    for (int j = 0; j < 8; j++) {
      int sc, m;
      scale_min_k4(j, x[i].scales, &sc, &m);
      int s = 0;
      for (int l = 0; l < 32; l++) s += q5_k_level(x[i], 32 * j + l) * y[i].qs[32 * j + l];
      sum_q += sc * s;
      sum_m += m * (load(y[i].bsums[2 * j]) + load(y[i].bsums[2 * j + 1]));
    }
    float dy = load(y[i].d);
    sum += load(x[i].d) * dy * float(sum_q) - load(x[i].dmin) * dy * float(sum_m);
  }
  return sum;
}
float dot_q6_k_q8_k(const void* row, const void* partner, int64_t n) {
  const auto* x = blocks_of<BlockQ6_K>(row);
  const auto* y = blocks_of<BlockQ8_K>(partner);
  float sum = 0;
  for (int64_t i = 0; i < n / QK_K; i++) {
    int sumi = 0;
    for (int j = 0; j < 16; j++) {
      int s = 0;
      for (int l = 0; l < 16; l++) s += (q6_k_level(x[i], 16 * j + l) - 32) * y[i].qs[16 * j + l];
      sumi += x[i].scales[j] * s;
    }
    sum += load(x[i].d) * load(y[i].d) * float(sumi);
  }
  return sum;
}
float dot_q8_k_q8_k(const void* row, const void* partner, int64_t n) {
  const auto* x = blocks_of<BlockQ8_K>(row);
  const auto* y = blocks_of<BlockQ8_K>(partner);
  float sum = 0;
  for (int64_t i = 0; i < n / QK_K; i++) {
    int sumi = 0;
    for (int j = 0; j < QK_K; j++) sumi += x[i].qs[j] * y[i].qs[j];
    sum += load(x[i].d) * load(y[i].d) * float(sumi);
  }
  return sum;
}

// ============================================================================
// The table
// ============================================================================

using T = TensorType;
const TensorTypeInfo kTypes[] = {
  // type     name    block  bytes  quantized to_float        from_float        partner  dot
  {T::F32,  "f32",   1,    4,   false, f32_to_float,  f32_from_float,  T::F32,  dot_f32},
  {T::F16,  "f16",   1,    2,   false, f16_to_float,  f16_from_float,  T::F16,  dot_f16},
  {T::Q4_0, "q4_0",  QK,   sizeof(BlockQ4_0), true, q4_0_to_float, q4_0_from_float, T::Q8_0, dot_q4_0_q8_0},
  {T::Q4_1, "q4_1",  QK,   sizeof(BlockQ4_1), true, q4_1_to_float, q4_1_from_float, T::Q8_1, dot_q4_1_q8_1},
  {T::Q5_0, "q5_0",  QK,   sizeof(BlockQ5_0), true, q5_0_to_float, q5_0_from_float, T::Q8_0, dot_q5_0_q8_0},
  {T::Q5_1, "q5_1",  QK,   sizeof(BlockQ5_1), true, q5_1_to_float, q5_1_from_float, T::Q8_1, dot_q5_1_q8_1},
  {T::Q8_0, "q8_0",  QK,   sizeof(BlockQ8_0), true, q8_0_to_float, q8_0_from_float, T::Q8_0, dot_q8_0_q8_0},
  {T::Q8_1, "q8_1",  QK,   sizeof(BlockQ8_1), true, q8_1_to_float, q8_1_from_float, T::Q8_1, dot_q8_1_q8_1},
  {T::Q4_K, "q4_K",  QK_K, sizeof(BlockQ4_K), true, q4_k_to_float, q4_k_from_float, T::Q8_K, dot_q4_k_q8_k},
  {T::Q5_K, "q5_K",  QK_K, sizeof(BlockQ5_K), true, q5_k_to_float, q5_k_from_float, T::Q8_K, dot_q5_k_q8_k},
  {T::Q6_K, "q6_K",  QK_K, sizeof(BlockQ6_K), true, q6_k_to_float, q6_k_from_float, T::Q8_K, dot_q6_k_q8_k},
  {T::Q8_K, "q8_K",  QK_K, sizeof(BlockQ8_K), true, q8_k_to_float, q8_k_from_float, T::Q8_K, dot_q8_k_q8_k},
  {T::BF16, "bf16",  1,    2,   false, bf16_to_float, bf16_from_float, T::BF16, dot_bf16},
};

}  // namespace

std::span<const TensorTypeInfo> all_type_infos() { return kTypes; }

const TensorTypeInfo* find_type_info(uint32_t type_id) {
  for (const TensorTypeInfo& info : kTypes) {
    if (uint32_t(info.type) == type_id) return &info;
  }
  return nullptr;
}

const TensorTypeInfo& type_info(TensorType type) {
  const TensorTypeInfo* info = find_type_info(uint32_t(type));
  if (!info) fail("tensor type " + std::to_string(uint32_t(type)) + " is not supported by Loupe");
  return *info;
}

const TensorTypeInfo* find_type_info(std::string_view name) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
  for (const TensorTypeInfo& info : kTypes) {
    std::string_view candidate = info.name;
    if (candidate.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < name.size() && same; i++) same = lower(candidate[i]) == lower(name[i]);
    if (same) return &info;
  }
  return nullptr;
}

size_t row_bytes(TensorType type, int64_t n_values) {
  const TensorTypeInfo& info = type_info(type);
  if (n_values < 0 || n_values % info.block_size != 0) {
    fail(std::to_string(n_values) + " values do not fill whole " + info.name + " blocks of " +
         std::to_string(info.block_size));
  }
  return size_t(n_values / info.block_size) * info.block_bytes;
}

}  // namespace loupe
