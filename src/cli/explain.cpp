// loupe-cli explain: attention, logit lens, token statistics, head statistics and
// attributions of a prompt, written as JSON (docs/explain.md) or one CSV table per
// section. The work is all in the engine (explain/explain_json.h); this file reads
// options and writes files.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>

#include "commands.h"
#include "core/error.h"
#include "explain/explain_json.h"
#include "kernels/thread_pool.h"
#include "model/model.h"

namespace loupe::cli {

namespace {

struct ExplainOptions {
  std::string model_path, compare_path, prompt, what = "attention,lens,stats,heads,attribution", out_path;
  std::string target_token, contrast, method = "grad_x_input", baseline, occlude;
  int target_position = -1, steps = 32, top_k = 5, layer = -1, head = -1, threads = 0;
  std::vector<int> lens_positions;
  int lens_last = 0;
  bool exact_gradients = false;
  uint64_t seed = 0;
  bool json = false, csv = false, no_summaries = false;
};

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  if (!out) fail("cannot write '" + path + "'");
  out << text;
  if (!out) fail("writing '" + path + "' failed");
}

void command_explain(const ExplainOptions& o) {
  if (o.json == o.csv) fail("choose one output format: --json or --csv");
  set_thread_count(o.threads > 0 ? o.threads : default_thread_count());
  Model model = load_model(o.model_path);
  std::unique_ptr<Model> other;
  explain::ExplainRequest r;
  r.model = &model;
  r.prompt = o.prompt;
  r.what = explain::parse_sections(o.what);
  r.top_k = o.top_k;
  r.layer = o.layer;
  r.head = o.head;
  r.lens_positions = o.lens_positions;
  r.lens_last = o.lens_last;
  r.exact_gradients = o.exact_gradients;
  r.seed = o.seed;
  r.attention_summaries = !o.no_summaries;
  r.method = o.method;
  r.attribution.position = o.target_position;
  r.attribution.steps = o.steps;
  r.target_token = o.target_token;
  r.contrast_token = o.contrast;
  r.baseline_token = o.baseline;
  if (!o.occlude.empty() && o.occlude != "remove") r.replacement_token = o.occlude;
  if (!o.compare_path.empty()) {
    other = std::make_unique<Model>(load_model(o.compare_path));
    r.compare = other.get();
  }
  const nlohmann::json result = explain::explain_json(r);
  if (o.json) {
    write_text(o.out_path, result.dump() + "\n");
    std::fprintf(stderr, "[wrote %s: %zu tokens]\n", o.out_path.c_str(), result["tokens"].size());
    return;
  }
  // CSV: OUT.csv -> OUT.<section>.csv, one table each.
  std::filesystem::path base(o.out_path);
  if (base.extension() == ".csv") base.replace_extension();
  for (const auto& [section, table] : explain::explain_csv_tables(result)) {
    const std::string path = base.string() + "." + section + ".csv";
    write_text(path, table);
    std::fprintf(stderr, "[wrote %s]\n", path.c_str());
  }
}

// bench-explain: what issue #5's bar measures — explaining a prompt (trace with attention,
// residual stream and gradient inputs, token statistics, logit lens, gradient x input) —
// against one plain forward pass over it with the logits of every position; the lens of
// the last position, of one screen of the Logit-lens view and of the whole grid; then
// integrated gradients per step, and the app's explain request (explain_views.cpp asks
// for attention with summaries, lens, stats, heads and attribution, top 5) as one
// explain_json call.
struct BenchOptions {
  std::string model_path;
  int tokens = 128, repeats = 3, threads = 0;
  bool app = true;
};

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

template <class F>
double best_ms(int repeats, F&& f) {
  double best = 1e300;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    f();
    best = std::min(best, ms_since(start));
  }
  return best;
}

void command_bench_explain(const BenchOptions& o) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // each line as it is measured, also into a file
  set_thread_count(o.threads > 0 ? o.threads : default_thread_count());
  Model model = load_model(o.model_path);
  const ModelConfig& c = model.config;
  const int n = std::min(o.tokens, c.context_length);
  std::mt19937_64 rng(1);
  std::vector<int32_t> ids;
  for (int i = 0; i < n; ++i) ids.push_back(int32_t(3 + rng() % uint64_t(c.vocab_size - 3)));
  std::printf("model %s: %d layers, dim %d, vocab %d; %d tokens, %d threads, best of %d\n", model.info.name.c_str(),
              c.n_layers, c.dim, c.vocab_size, n, thread_pool().size(), o.repeats);

  auto start = std::chrono::steady_clock::now();
  const grad::BackwardWeights backward = grad::backward_weights(model);
  const double backward_ms = ms_since(start);
  start = std::chrono::steady_clock::now();
  const grad::Parameters<float> params = grad::parameters_from_model<float>(model);
  const double params_ms = ms_since(start);
  const grad::BackwardWeights backward_f32 = grad::backward_weights(model, TensorType::F32);

  // The lens the app asks for (views/explain_views.cpp): the last position when Explain is
  // pressed on another view; the columns the Logit-lens view shows (15 in a 1280-pixel
  // window) when pressed there; the whole grid is what the CLI writes by default.
  constexpr int kScreenColumns = 15;
  std::vector<int> last_position = {n - 1}, screen;
  for (int p = std::max(0, n - kScreenColumns); p < n; ++p) screen.push_back(p);

  // Every step once per round, the forward passes among them, each step's best over the
  // rounds: on a busy machine a ratio of two numbers measured minutes apart means little.
  double forward_last_ms = 1e300, forward_ms = 1e300, trace_ms = 1e300, stats_ms = 1e300, lens_ms = 1e300,
         lens_last_ms = 1e300, lens_screen_ms = 1e300, grad_ms = 1e300, grad_f32_ms = 1e300, grad_own_ms = 1e300;
  double score_error = 0, score_error_own = 0;
  // Each round's own ratios too (its explain over its forward pass), for their median: on a
  // shared machine the best of each step may come from different moments.
  std::vector<double> round_last, round_screen, round_grid;
  {  // One untimed round first: every step's buffers faulted in once (core/memory.h).
    InferenceState state = make_state(model, n);
    forward(model, state, ids, /*all_logits=*/true);
    const explain::Trace t = explain::trace(model, ids, true, true, /*gradient_inputs=*/true);
    explain::logit_lens(model, t, 5);
    explain::attribute(model, ids, explain::AttributionRequest(), nullptr, &t, &backward);
  }
  for (int i = 0; i < o.repeats; ++i) {
    double round_forward = 0, round_common = 0, round_lens[3] = {0, 0, 0};
    auto t0 = std::chrono::steady_clock::now();
    {
      InferenceState state = make_state(model, n);
      forward(model, state, ids);
    }
    forward_last_ms = std::min(forward_last_ms, ms_since(t0));
    t0 = std::chrono::steady_clock::now();
    {
      InferenceState state = make_state(model, n);
      forward(model, state, ids, /*all_logits=*/true);
    }
    round_forward = ms_since(t0);
    forward_ms = std::min(forward_ms, round_forward);
    t0 = std::chrono::steady_clock::now();
    const explain::Trace t = explain::trace(model, ids, true, true, /*gradient_inputs=*/true);
    round_common += ms_since(t0);
    round_forward = std::min(round_forward, ms_since(t0));
    trace_ms = std::min(trace_ms, ms_since(t0));
    t0 = std::chrono::steady_clock::now();
    const auto stats = explain::token_statistics(t.logits, c.vocab_size, ids, 5);
    round_common += ms_since(t0);
    stats_ms = std::min(stats_ms, ms_since(t0));
    t0 = std::chrono::steady_clock::now();
    const explain::LogitLens lens_last = explain::logit_lens(model, t, 5, last_position);
    round_lens[0] = ms_since(t0);
    lens_last_ms = std::min(lens_last_ms, ms_since(t0));
    t0 = std::chrono::steady_clock::now();
    const explain::LogitLens lens_screen = explain::logit_lens(model, t, 5, screen);
    round_lens[1] = ms_since(t0);
    lens_screen_ms = std::min(lens_screen_ms, ms_since(t0));
    t0 = std::chrono::steady_clock::now();
    const explain::LogitLens lens = explain::logit_lens(model, t, 5);
    round_lens[2] = ms_since(t0);
    lens_ms = std::min(lens_ms, ms_since(t0));
    t0 = std::chrono::steady_clock::now();
    explain::AttributionRequest request;  // as explain_json asks: the top guess, read from the trace
    const explain::Attribution a = explain::attribute(model, ids, request, nullptr, &t, &backward);
    round_common += ms_since(t0);
    grad_ms = std::min(grad_ms, ms_since(t0));
    round_last.push_back((round_common + round_lens[0]) / round_forward);
    round_screen.push_back((round_common + round_lens[1]) / round_forward);
    round_grid.push_back((round_common + round_lens[2]) / round_forward);
    t0 = std::chrono::steady_clock::now();
    const explain::Attribution a32 = explain::attribute(model, ids, request, nullptr, &t, &backward_f32);
    grad_f32_ms = std::min(grad_f32_ms, ms_since(t0));
    t0 = std::chrono::steady_clock::now();
    const explain::Attribution own = explain::attribute(model, ids, request, &params);
    grad_own_ms = std::min(grad_own_ms, ms_since(t0));
    if (i == 0) {
      // How far the 8-bit backward products, and the inference pass's activations, move the
      // scores: for another target than the top guess, whose probability is 1 in float on
      // this random model (so all its gradients are 0).
      explain::AttributionRequest other = request;
      other.target = 7;
      const explain::Attribution o8 = explain::attribute(model, ids, other, nullptr, &t, &backward);
      const explain::Attribution o32 = explain::attribute(model, ids, other, nullptr, &t, &backward_f32);
      const explain::Attribution oown = explain::attribute(model, ids, other, &params);
      double worst = 0, top = 0, worst_own = 0;
      for (size_t j = 0; j < o8.scores.size(); ++j) {
        top = std::max(top, double(std::fabs(o32.scores[j])));
        worst = std::max(worst, double(std::fabs(o8.scores[j] - o32.scores[j])));
        worst_own = std::max(worst_own, double(std::fabs(o32.scores[j] - oown.scores[j])));
      }
      score_error = worst / top;
      score_error_own = worst_own / top;
    }
  }
  // The trace is the same pass plus capture: a plain pass measured slower than it was
  // slowed by the machine, so the ratios use the faster of the two (never flattering).
  const double base_ms = std::min(forward_ms, trace_ms);
  const auto x = [&](double ms) { return ms / base_ms; };
  std::printf("plain forward, logits of the last position      %8.1f ms\n", forward_last_ms);
  std::printf("plain forward, logits of every position         %8.1f ms  the baseline (1x) = min(this, trace) = %.1f ms\n",
              forward_ms, base_ms);
  std::printf("trace (attention, residual, gradient inputs)     %8.1f ms  %5.2fx\n", trace_ms, x(trace_ms));
  std::printf("token statistics (top 5)                         %8.1f ms  %5.2fx\n", stats_ms, x(stats_ms));
  std::printf("logit lens, the last position (%d slots)         %8.1f ms  %5.2fx\n", c.n_layers + 1, lens_last_ms, x(lens_last_ms));
  std::printf("logit lens, the last %d positions (one screen)   %8.1f ms  %5.2fx\n", int(screen.size()), lens_screen_ms,
              x(lens_screen_ms));
  std::printf("logit lens, every position (%d x %d)           %8.1f ms  %5.2fx\n", c.n_layers + 1, n, lens_ms, x(lens_ms));
  {  // The whole grid's multiply-adds against the forward pass's: over 3x whatever the kernels.
    const double q_dim = double(c.n_heads) * c.head_dim, kv_dim = double(c.n_kv_heads) * c.head_dim;
    const double mlp = c.arch == Architecture::Gpt2 ? 2.0 * c.dim * c.ff_dim : 3.0 * c.dim * c.ff_dim;
    const double per_token = c.n_layers * (c.dim * (q_dim + 2 * kv_dim) + q_dim * c.dim + mlp) + double(c.dim) * c.vocab_size;
    const double lens_per_token = double(c.n_layers) * c.dim * c.vocab_size;
    std::printf("  (its %d extra unembeddings per position are %.0fM multiply-adds, %.1fx the forward pass's %.1fM)\n",
                c.n_layers, lens_per_token / 1e6, lens_per_token / per_token, per_token / 1e6);
  }
  std::printf("gradient x input (from the trace, 8-bit)         %8.1f ms  %5.2fx\n", grad_ms, x(grad_ms));
  std::printf("  the same backward with f32 products            %8.1f ms  %5.2fx (scores move by %.2g of the largest)\n",
              grad_f32_ms, x(grad_f32_ms), score_error);
  std::printf("  a f32 forward and backward of its own          %8.1f ms  %5.2fx (scores move by %.2g of the largest)\n",
              grad_own_ms, x(grad_own_ms), score_error_own);
  const double common_ms = trace_ms + stats_ms + grad_ms;
  // The median of the rounds' own ratios, and their range.
  const auto rounds = [](std::vector<double> r) {
    std::sort(r.begin(), r.end());
    char text[96];
    std::snprintf(text, sizeof text, "rounds: median %.2fx, %.2f-%.2fx", r[r.size() / 2], r.front(), r.back());
    return std::string(text);
  };
  std::printf("explain = attention + lens + stats + grad x input (target <= 3x), best of each step / each round's own:\n");
  std::printf("  lens of the last position (Explain from another view)    %8.1f ms = %.2fx; %s\n",
              common_ms + lens_last_ms, x(common_ms + lens_last_ms), rounds(round_last).c_str());
  std::printf("  lens of one screen, %d columns (Explain on the lens view) %8.1f ms = %.2fx; %s\n", int(screen.size()),
              common_ms + lens_screen_ms, x(common_ms + lens_screen_ms), rounds(round_screen).c_str());
  std::printf("  lens of every position (the CLI's default)               %8.1f ms = %.2fx; %s\n", common_ms + lens_ms,
              x(common_ms + lens_ms), rounds(round_grid).c_str());

  explain::AttributionRequest ig;
  ig.method = explain::Method::IntegratedGradients;
  ig.steps = 4;
  ig.target = 7;
  const double ig_ms = best_ms(1, [&] { explain::attribute(model, ids, ig, &params); });
  std::printf("integrated gradients, per step (4 steps + 2 end points) %.1f ms  %.2fx\n", ig_ms / 6, x(ig_ms / 6));
  std::printf("backward weights for gradient x input (once per model) %.1f ms  %.2fx\n", backward_ms, x(backward_ms));
  std::printf("f32 weights for integrated gradients (once per model) %.1f ms  %.2fx\n", params_ms, x(params_ms));
  if (o.app) {
    // What the app sends (views/explain_views.cpp: attention with summaries, lens, stats,
    // heads, gradient x input, top 5) as one explain_json call, JSON included.
    explain::ExplainRequest r;
    r.model = &model;
    r.ids = ids;
    r.backward = &backward;
    for (int columns : {1, kScreenColumns}) {
      r.lens_last = columns;
      const double app_ms = best_ms(1, [&] { explain::explain_json(r); });
      std::printf("app's request (attention + summaries, lens of %d, stats, heads, grad x input, JSON): %.1f ms = %.2fx\n",
                  columns, app_ms, x(app_ms));
    }
    r.backward = nullptr;
    r.lens_last = 1;
    const double first_ms = best_ms(1, [&] { explain::explain_json(r); });
    std::printf("  the same building the backward weights (a model's first request): %.1f ms = %.2fx\n", first_ms, x(first_ms));
  }
  // Hooks cost nothing when nothing is asked: 64 generated tokens with no capture, with a
  // capture that asks for nothing (the branches are taken, nothing recorded) and, for
  // scale, with one that records attention. Rounds interleave the three on a busy machine.
  const int gen_tokens = std::min(64, model.config.context_length - 16);
  const auto generate_ms = [&](Capture* capture) {
    InferenceState state = make_state(model, 16 + gen_tokens);
    forward(model, state, std::span<const int32_t>(ids.data(), 16));
    const auto begin = std::chrono::steady_clock::now();
    for (int i = 0; i < gen_tokens; ++i) forward(model, state, std::span<const int32_t>(&ids[size_t(16 + i) % ids.size()], 1), false, capture);
    return ms_since(begin);
  };
  double plain_gen_ms = 1e300, empty_gen_ms = 1e300, attention_gen_ms = 1e300;
  for (int round = 0; round < std::max(3, o.repeats); ++round) {
    Capture nothing, attention;
    attention.attention_probs = true;
    plain_gen_ms = std::min(plain_gen_ms, generate_ms(nullptr));
    empty_gen_ms = std::min(empty_gen_ms, generate_ms(&nothing));
    attention_gen_ms = std::min(attention_gen_ms, generate_ms(&attention));
  }
  const auto per_s = [&](double ms) { return gen_tokens * 1000.0 / ms; };
  std::printf("generation, %d tokens: no hooks %.1f tokens/s; hooks asking nothing %.1f (%.3fx); recording attention "
              "%.1f (%.3fx)\n",
              gen_tokens, per_s(plain_gen_ms), per_s(empty_gen_ms), plain_gen_ms / empty_gen_ms, per_s(attention_gen_ms),
              plain_gen_ms / attention_gen_ms);
}

}  // namespace

void add_explain_command(CLI::App& app) {
  auto o = std::make_shared<ExplainOptions>();
  CLI::App* c = app.add_subcommand("explain",
      "Explain how a model reads a prompt: attention, logit lens, token statistics, head statistics, attributions");
  c->add_option("-m,--model", o->model_path, "GGUF file, or a Hugging Face folder with *.safetensors")->required();
  c->add_option("-p,--prompt", o->prompt, "The text to explain (BOS added as the model's tokenizer says)")->required();
  c->add_option("--what", o->what, "Sections, comma-separated: attention,lens,attribution,stats,heads")->capture_default_str();
  c->add_option("--target-position", o->target_position, "Attribution: whose next-token prediction (default: the last position)");
  c->add_option("--target-token", o->target_token,
                "Attribution: the output token (text of one token, or id:N); default: the actual next token, or the model's top guess at the end");
  c->add_option("--contrast", o->contrast, "Attribution: explain log P(target) - log P(this token) instead");
  c->add_option("--method", o->method, "grad_x_input, integrated_gradients or occlusion")->capture_default_str();
  c->add_option("--steps", o->steps, "Integrated gradients: steps along the path")->capture_default_str();
  c->add_option("--baseline", o->baseline, "Integrated gradients: neutral (default), zero, or a token");
  c->add_option("--occlude", o->occlude, "Occlusion: remove (default) or replace each token by this token");
  c->add_option("--top-k", o->top_k, "Alternatives per position (stats, lens)")->capture_default_str();
  c->add_option("--layer", o->layer, "Attention section: only this layer");
  c->add_option("--head", o->head, "Attention section: only this head");
  c->add_option("--lens-positions", o->lens_positions, "Lens section: only these positions (comma-separated)")->delimiter(',');
  c->add_option("--lens-last", o->lens_last, "Lens section: only the last K positions")->check(CLI::NonNegativeNumber);
  c->add_flag("--exact-gradients", o->exact_gradients,
              "Gradient x input: a forward and backward pass of its own in f32 (slower) instead of from the "
              "inference pass on 8-bit weights");
  c->add_flag("--no-summaries", o->no_summaries, "Attention section: leave out mean, rollout and value-weighted attention");
  c->add_option("--seed", o->seed, "Seed of the random sequence the induction scores are measured on")->capture_default_str();
  c->add_option("--compare", o->compare_path, "A second model with the same tokenizer: KL, top-1 agreement, residual and attention differences");
  c->add_flag("--json", o->json, "Write one JSON document");
  c->add_flag("--csv", o->csv, "Write one CSV table per section (OUT.<section>.csv)");
  c->add_option("-o,--out", o->out_path, "Output file")->required();
  c->add_option("-t,--threads", o->threads, "Threads (default: all cores)")->check(CLI::Range(1, 256));
  c->callback([o] { command_explain(*o); });

  auto b = std::make_shared<BenchOptions>();
  CLI::App* bench = app.add_subcommand("bench-explain", "Time explaining a prompt against a plain forward pass");
  bench->group("");  // hidden: scripts/bench-explain runs it
  bench->add_option("-m,--model", b->model_path, "GGUF file")->required();
  bench->add_option("--tokens", b->tokens, "Prompt length (random tokens)")->capture_default_str();
  bench->add_option("--repeats", b->repeats, "Best of this many runs")->capture_default_str();
  bench->add_option("-t,--threads", b->threads, "Threads (default: all cores)")->check(CLI::Range(1, 256));
  bench->add_flag("!--no-app", b->app, "Skip timing the app's default request");
  bench->callback([b] { command_bench_explain(*b); });
}

}  // namespace loupe::cli
