// The logit lens, fast: every slot of the residual stream but the last goes through the
// final norm and then, all (slot, position) rows together, through the model's own
// unembedding product (kernels/matmul.h: the weight's quantized type, 8-bit activations
// for Q8_0/Q4 weights, the best SIMD kernel, tiles on the thread pool) — the same
// computation the forward pass does for its logits. The last slot IS the forward pass's
// logits (the trace's), so the lens ends at the model's output exactly. Each row of logits
// is then scanned once (explain/row_scan.h) for its top k and the chosen token's
// probability, rows split across the thread pool.
//
// Cost on the benchmark's model (dim 576, vocabulary 32000, 30 layers): the unembedding is
// 18.4M multiply-adds per row against ~106M for a token's 30 blocks, so 30 extra slots
// per position are ~4.4x the multiply-adds of the whole forward pass. docs/explain.md has
// the measurements.
#include <algorithm>

#include "core/error.h"
#include "explain/explain.h"
#include "explain/row_scan.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/thread_pool.h"

namespace loupe::explain {

namespace {

// Rows of logits per unembedding call: enough that the 20 MB weight is streamed only a
// few dozen times, few enough that the logits (rows x vocab floats) stay modest.
constexpr int kChunkRows = 256;

// Top k and the chosen token's probability of `rows` rows of logits (`row(r)` points at
// row r), into lens rows starting at flat row `first` (= slot * positions + i).
template <class RowOf>
void scan_rows(LogitLens& lens, int vocab, int64_t first, int rows, const RowOf& row_of) {
  const int covered = lens.n, k = lens.k;
  thread_pool().parallel_for(rows, [&](int64_t begin, int64_t end) {
    RowScan scan;
    for (int64_t r = begin; r < end; ++r) {
      const float* row = row_of(r);
      scan_row(row, vocab, k, /*entropy=*/false, scan);
      const int64_t flat = first + r;
      const int i = int(flat % covered);
      for (int j = 0; j < k; ++j) {
        const size_t at = size_t(flat) * k + j;
        lens.top_ids[at] = scan.top[size_t(j)].id;
        lens.top_probs[at] = float(row_prob(scan, scan.top[size_t(j)].logit));
      }
      lens.chosen_probs[size_t(flat)] = float(row_prob(scan, row[lens.chosen_ids[size_t(i)]]));
    }
  }, /*grain=*/4);
}

}  // namespace

LogitLens logit_lens(const Model& model, const Trace& t, int top_k, std::span<const int> positions) {
  const ModelConfig& c = model.config;
  const int n = t.n, dim = c.dim, vocab = c.vocab_size;
  if (t.capture.residual_stream.size() != size_t(c.n_layers + 1) * n * dim)
    fail("logit_lens: the trace has no residual stream");
  if (t.logits.size() != size_t(n) * vocab) fail("logit_lens: the trace has no logits for every position");
  LogitLens lens;
  if (positions.empty()) {
    for (int pos = 0; pos < n; ++pos) lens.positions.push_back(pos);
  } else {
    for (int pos : positions) {
      if (pos < 0 || pos >= n)
        fail("lens position " + std::to_string(pos) + " is outside the text (positions 0.." + std::to_string(n - 1) + ")");
      lens.positions.push_back(pos);
    }
  }
  const int covered = int(lens.positions.size());
  lens.slots = c.n_layers + 1;
  lens.n = covered;
  lens.k = std::clamp(top_k, 1, vocab);
  lens.top_ids.resize(size_t(lens.slots) * covered * lens.k);
  lens.top_probs.resize(lens.top_ids.size());
  lens.chosen_probs.resize(size_t(lens.slots) * covered);
  lens.chosen_ids.resize(size_t(covered));
  for (int i = 0; i < covered; ++i) {
    const float* row = t.logits.data() + size_t(lens.positions[size_t(i)]) * vocab;
    lens.chosen_ids[size_t(i)] = int32_t(std::max_element(row, row + vocab) - row);
  }

  // Slots 0 .. layers−1: the final norm of every row (the forward pass's function), then
  // the unembedding in chunks of rows.
  std::vector<float> weight_scratch, bias_scratch;
  const float* norm_w = f32_data(model.weights.output_norm, weight_scratch);
  const float* norm_b = model.weights.output_norm_bias.empty() ? nullptr : f32_data(model.weights.output_norm_bias, bias_scratch);
  const int64_t inner_rows = int64_t(c.n_layers) * covered;
  std::vector<float> normed(size_t(inner_rows) * dim);
  thread_pool().parallel_for(inner_rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t slot = r / covered, pos = lens.positions[size_t(r % covered)];
      const float* x = t.capture.residual_stream.data() + (size_t(slot) * n + size_t(pos)) * dim;
      if (c.arch == Architecture::Gpt2)
        layernorm(normed.data() + size_t(r) * dim, x, norm_w, norm_b, dim, c.norm_eps);
      else
        rmsnorm(normed.data() + size_t(r) * dim, x, norm_w, dim, c.norm_eps);
    }
  }, /*grain=*/16);
  std::vector<float> logits(size_t(std::min<int64_t>(kChunkRows, inner_rows)) * vocab);
  for (int64_t first = 0; first < inner_rows; first += kChunkRows) {
    const int rows = int(std::min<int64_t>(kChunkRows, inner_rows - first));
    matmul(model.weights.output, normed.data() + size_t(first) * dim, rows, logits.data());
    scan_rows(lens, vocab, first, rows, [&](int64_t r) { return logits.data() + size_t(r) * vocab; });
  }
  // The last slot: the model's own logits.
  scan_rows(lens, vocab, inner_rows, covered,
            [&](int64_t r) { return t.logits.data() + size_t(lens.positions[size_t(r)]) * vocab; });
  return lens;
}

}  // namespace loupe::explain
