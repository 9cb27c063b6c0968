// loupe-cli bench: how fast Loupe reads a prompt and generates, next to this machine's
// memory read bandwidth measured in the same run with the same threads, so every figure
// is also a fraction of the machine's limit. And the hidden `bench-model`, which writes
// the random-weight Llama-shaped model scripts/bench measures, and `bench-kernels`, which
// times the matrix products alone.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#if defined(__EMSCRIPTEN__)
#include <emscripten.h>
#include <emscripten/heap.h>
#else
#include <sys/resource.h>
#endif

#include "commands.h"
#include "core/error.h"
#include "core/tensor_types.h"
#include "formats/gguf.h"
#include "kernels/dispatch.h"
#include "kernels/matmul.h"
#include "kernels/packed.h"
#include "kernels/thread_pool.h"
#include "model/forward.h"
#include "model/model.h"

namespace loupe::cli {

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

#if defined(__EMSCRIPTEN__)
// Under Node, the process's CPU time; 0 in a browser.
EM_JS(double, node_cpu_ms, (), {
  if (typeof process === 'undefined' || !process.cpuUsage) return 0;
  var usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
});
#endif

// CPU time of the whole process (all threads), in ms: on a busy machine, tokens per CPU
// second show what the code does when it gets the cores.
double cpu_ms() {
#if defined(__EMSCRIPTEN__)
  return node_cpu_ms();
#else
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3 + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3;
#endif
}

// Peak resident memory of this process (natively), or the wasm heap, which only grows.
uint64_t peak_memory_bytes() {
#if defined(__EMSCRIPTEN__)
  return uint64_t(emscripten_get_heap_size());
#else
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return uint64_t(usage.ru_maxrss) * 1024;  // Linux reports KiB
#endif
}

// Streaming read of a buffer far larger than any cache, split over the thread pool as a
// matrix product is: the best of a few passes, in GB/s.
double measure_read_bandwidth(size_t bytes) {
  std::vector<uint64_t> buffer(bytes / sizeof(uint64_t));
  for (size_t i = 0; i < buffer.size(); ++i) buffer[i] = i * 0x9e3779b97f4a7c15ull;
  double best = 0;
  for (int pass = 0; pass < 4; ++pass) {
    std::vector<uint64_t> partial(256, 0);
    const auto start = Clock::now();
    const int64_t chunks = thread_pool().size();
    thread_pool().parallel_for(chunks, [&](int64_t begin, int64_t end) {
      for (int64_t c = begin; c < end; ++c) {
        const size_t lo = buffer.size() * size_t(c) / size_t(chunks), hi = buffer.size() * size_t(c + 1) / size_t(chunks);
        uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        size_t i = lo;
        for (; i + 4 <= hi; i += 4) {
          s0 += buffer[i];
          s1 += buffer[i + 1];
          s2 += buffer[i + 2];
          s3 += buffer[i + 3];
        }
        for (; i < hi; ++i) s0 += buffer[i];
        partial[size_t(c)] = s0 + s1 + s2 + s3;
      }
    });
    const double seconds = ms_since(start) / 1000.0;
    uint64_t total = 0;
    for (uint64_t p : partial) total += p;
    if (total == 42) std::fputs("", stderr);  // keep the sums alive
    best = std::max(best, double(bytes) / seconds / 1e9);
  }
  return best;
}

// Bytes of weights one generated token reads: every layer's matrices and norms, the final
// norm and the unembedding (the embedding itself when tied; one of its rows is negligible).
uint64_t weight_bytes_per_token(const Model& model) {
  const ModelWeights& w = model.weights;
  uint64_t total = w.output_norm.bytes + w.output_norm_bias.bytes + w.output.bytes;
  for (const LayerWeights& l : w.layers) {
    for (const TensorView* t : {&l.attn_norm, &l.attn_norm_bias, &l.wq, &l.wk, &l.wv, &l.bq, &l.bk, &l.bv,
                                &l.wqkv, &l.bqkv, &l.wo, &l.bo, &l.ffn_norm, &l.ffn_norm_bias, &l.w_gate,
                                &l.w_up, &l.b_up, &l.w_down, &l.b_down})
      total += t->bytes;
  }
  return total;
}

int32_t argmax(const float* x, int n) { return int32_t(std::max_element(x, x + n) - x); }

struct BenchOptions {
  std::string model_path;
  int threads = 0;
  int prompt_tokens = 128;
  int gen_tokens = 64;
  int repeat = 1;
  int bandwidth_mb = 512;
  bool json = false;
};

void command_bench(const BenchOptions& o) {
  set_thread_count(o.threads > 0 ? o.threads : default_thread_count());
  const auto load_start = Clock::now();
  Model model = load_model(o.model_path);
  const double load_ms = ms_since(load_start);
  const ModelConfig& c = model.config;
  if (o.prompt_tokens + o.gen_tokens > c.context_length)
    fail("the model's context (" + std::to_string(c.context_length) + ") is shorter than the prompt plus generation");

  // A fixed pseudo-random prompt, so every run and every build reads the same tokens.
  std::mt19937 rng(1234);
  std::vector<int32_t> prompt(size_t(o.prompt_tokens));
  for (int32_t& id : prompt) id = int32_t(rng() % uint32_t(c.vocab_size));

  // One state for every run: a run starts over at position 0, as llama-bench clears its
  // KV cache. A warm-up run of the same size first (as llama-bench does) touches every
  // weight and state page, sizes every buffer and wakes the workers, so the measured runs
  // show the steady state; a cold first run is slower by page faults alone.
  InferenceState state = make_state(model, o.prompt_tokens + o.gen_tokens);
  double best_prompt_ms = 1e30, best_gen_ms = 1e30, best_prompt_cpu_ms = 1e30, best_gen_cpu_ms = 1e30;
  for (int r = -1; r < std::max(1, o.repeat); ++r) {
    const bool warm_up = r < 0;
    state.n_past = 0;
    auto start = Clock::now();
    double cpu_start = cpu_ms();
    forward(model, state, prompt);
    int32_t next = argmax(state.logits.data(), c.vocab_size);
    const double prompt_ms = ms_since(start), prompt_cpu_ms = cpu_ms() - cpu_start;
    start = Clock::now();
    cpu_start = cpu_ms();
    for (int i = 0; i < (warm_up ? std::min(o.gen_tokens, 4) : o.gen_tokens); ++i) {
      forward(model, state, std::span<const int32_t>(&next, 1));
      next = argmax(state.logits.data(), c.vocab_size);
    }
    if (warm_up) continue;
    best_prompt_ms = std::min(best_prompt_ms, prompt_ms);
    best_prompt_cpu_ms = std::min(best_prompt_cpu_ms, prompt_cpu_ms);
    best_gen_ms = std::min(best_gen_ms, ms_since(start));
    best_gen_cpu_ms = std::min(best_gen_cpu_ms, cpu_ms() - cpu_start);
  }
  const uint64_t peak_memory = peak_memory_bytes();  // before the bandwidth buffer
  const double bandwidth = measure_read_bandwidth(size_t(o.bandwidth_mb) << 20);

  const double prompt_tps = 1000.0 * o.prompt_tokens / best_prompt_ms;
  const double gen_tps = o.gen_tokens > 0 ? 1000.0 * o.gen_tokens / best_gen_ms : 0;
  const uint64_t bytes_per_token = weight_bytes_per_token(model);
  nlohmann::json j{{"model", o.model_path},
                   {"threads", thread_pool().size()},
                   {"kernels", kernel_isa_name(kernel_isa())},
                   {"prompt_tokens", o.prompt_tokens},
                   {"gen_tokens", o.gen_tokens},
                   {"prompt_tokens_per_s", prompt_tps},
                   {"gen_tokens_per_s", gen_tps},
                   {"ttft_ms", best_prompt_ms},
                   {"load_ms", load_ms},
                   {"peak_rss_bytes", peak_memory},
                   {"weight_bytes_per_token", bytes_per_token},
                   {"mem_read_gb_per_s", bandwidth},
                   {"gen_fraction_of_bandwidth", gen_tps * double(bytes_per_token) / 1e9 / bandwidth},
                   // Tokens per second of CPU time (all threads; spinning workers count).
                   {"prompt_tokens_per_cpu_s", best_prompt_cpu_ms > 0 ? 1000.0 * o.prompt_tokens / best_prompt_cpu_ms : 0},
                   {"gen_tokens_per_cpu_s", best_gen_cpu_ms > 0 ? 1000.0 * o.gen_tokens / best_gen_cpu_ms : 0}};
  if (o.json) {
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("model            %s (%s kernels, %d threads)\n", o.model_path.c_str(), kernel_isa_name(kernel_isa()),
              thread_pool().size());
  std::printf("prompt           %d tokens at %.1f tokens/s (time to first token %.1f ms)\n", o.prompt_tokens,
              prompt_tps, best_prompt_ms);
  std::printf("generation       %d tokens at %.1f tokens/s\n", o.gen_tokens, gen_tps);
  std::printf("weights/token    %.1f MB -> %.1f GB/s read while generating\n", bytes_per_token / 1e6,
              gen_tps * bytes_per_token / 1e9);
  std::printf("memory bandwidth %.1f GB/s (streaming read, same threads): generation uses %.0f%%\n", bandwidth,
              100.0 * gen_tps * bytes_per_token / 1e9 / bandwidth);
  std::printf("peak memory      %.1f MB; load %.0f ms\n", peak_memory / 1e6, load_ms);
}

// ---------------------------------------------------------------------------------------
// bench-model: a random-weight Llama-shaped model
// ---------------------------------------------------------------------------------------

struct BenchModelOptions {
  std::string out_path;
  std::string type = "q8_0";
  int dim = 576, layers = 30, heads = 9, kv_heads = 3, ff = 1536, vocab = 32000, context = 2048;
  uint32_t seed = 1;
};

// A minimal SentencePiece ("llama") vocabulary: <unk>, <s>, </s>, the 256 byte tokens,
// then letters, digits and letter pairs with and without the word-start mark, scored so
// longer pieces merge first. Enough to load and tokenize text; the weights are random.
void add_vocabulary(GgufWriter& writer, int vocab) {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<int32_t> types = {2, 3, 3};  // UNKNOWN, CONTROL, CONTROL
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    tokens.push_back(name);
    types.push_back(6);  // BYTE
  }
  const std::string mark = "\xe2\x96\x81";  // U+2581, SentencePiece's word start
  std::vector<std::string> alphabet;
  for (char ch = 'a'; ch <= 'z'; ++ch) alphabet.push_back(std::string(1, ch));
  for (char ch = 'A'; ch <= 'Z'; ++ch) alphabet.push_back(std::string(1, ch));
  for (char ch = '0'; ch <= '9'; ++ch) alphabet.push_back(std::string(1, ch));
  for (const char* p : {".", ",", "!", "?", "'", "-", ":", ";"}) alphabet.push_back(p);
  std::vector<std::string> pieces = {mark};
  for (const std::string& a : alphabet) pieces.push_back(a);
  for (const std::string& a : alphabet) pieces.push_back(mark + a);
  for (const std::string& a : alphabet)
    for (const std::string& b : alphabet) {
      pieces.push_back(mark + a + b);
      pieces.push_back(a + b);
    }
  for (size_t i = 0; tokens.size() < size_t(vocab); ++i) {
    if (i < pieces.size()) {
      tokens.push_back(pieces[i]);
    } else {  // three-letter pieces until the vocabulary is full
      const size_t k = i - pieces.size();
      tokens.push_back(alphabet[k % 26] + alphabet[(k / 26) % 26] + alphabet[(k / 676) % 26] +
                       (k >= 17576 ? std::to_string(k / 17576) : std::string()));
    }
    types.push_back(1);  // NORMAL
  }
  std::vector<float> scores(tokens.size(), 0.0f);
  for (size_t i = 259; i < tokens.size(); ++i) scores[i] = -float(i - 259);
  writer.set("tokenizer.ggml.model", GgufValue::from_string("llama"));
  writer.set("tokenizer.ggml.tokens", GgufValue::from_strings(tokens));
  writer.set("tokenizer.ggml.scores", GgufValue::from_f32s(scores));
  writer.set("tokenizer.ggml.token_type", GgufValue::from_i32s(types));
  writer.set("tokenizer.ggml.bos_token_id", GgufValue::from_u32(1));
  writer.set("tokenizer.ggml.eos_token_id", GgufValue::from_u32(2));
  writer.set("tokenizer.ggml.unknown_token_id", GgufValue::from_u32(0));
}

void command_bench_model(const BenchModelOptions& o) {
  const TensorTypeInfo* requested = find_type_info(o.type);
  if (!requested || !requested->from_float) fail("bench-model: cannot write type '" + o.type + "'");
  const TensorType type = requested->type;
  const bool k_quant = requested->block_size == 256;
  GgufWriter writer;
  writer.set("general.architecture", GgufValue::from_string("llama"));
  writer.set("general.name", GgufValue::from_string("loupe-bench-124m-" + std::string(requested->name)));
  writer.set("llama.block_count", GgufValue::from_u32(uint32_t(o.layers)));
  writer.set("llama.embedding_length", GgufValue::from_u32(uint32_t(o.dim)));
  writer.set("llama.feed_forward_length", GgufValue::from_u32(uint32_t(o.ff)));
  writer.set("llama.attention.head_count", GgufValue::from_u32(uint32_t(o.heads)));
  writer.set("llama.attention.head_count_kv", GgufValue::from_u32(uint32_t(o.kv_heads)));
  writer.set("llama.context_length", GgufValue::from_u32(uint32_t(o.context)));
  writer.set("llama.attention.layer_norm_rms_epsilon", GgufValue::from_f32(1e-5f));
  writer.set("llama.rope.freq_base", GgufValue::from_f32(10000.0f));
  writer.set("llama.vocab_size", GgufValue::from_u32(uint32_t(o.vocab)));
  // llama.cpp's file type (enum llama_ftype), which its loaders show as the model's type
  // (without it llama-bench prints "(guessed)"); the K type stands for its _M mix.
  const std::pair<const char*, uint32_t> file_types[] = {
      {"f32", 0}, {"f16", 1}, {"q4_0", 2}, {"q4_1", 3}, {"q8_0", 7}, {"q5_0", 8}, {"q5_1", 9},
      {"q4_K", 15}, {"q5_K", 17}, {"q6_K", 18}, {"bf16", 32}};
  for (const auto& [name, file_type] : file_types)
    if (std::string(requested->name) == name) writer.set("general.file_type", GgufValue::from_u32(file_type));
  if (type != TensorType::F32 && type != TensorType::F16 && type != TensorType::BF16)
    writer.set("general.quantization_version", GgufValue::from_u32(2));
  add_vocabulary(writer, o.vocab);

  std::mt19937 rng(o.seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  // As llama-quantize does for Q4_K_M: rows that are not a multiple of 256 fall back to a
  // 32-value type (Q4_K to Q5_0, Q5_K to Q5_1, Q6_K to Q8_0; Q8_0 for the more sensitive
  // ones), and some layers' v and down get more bits.
  auto pick = [&](int64_t cols, bool sensitive) {
    if (!k_quant) return type;
    if (cols % 256 != 0) {
      if (sensitive || type == TensorType::Q6_K) return TensorType::Q8_0;
      return type == TensorType::Q5_K ? TensorType::Q5_1 : TensorType::Q5_0;
    }
    return sensitive ? TensorType::Q6_K : type;
  };
  auto matrix = [&](const std::string& name, int64_t cols, int64_t rows, TensorType t, float sigma) {
    std::vector<float> values(size_t(cols * rows));
    for (float& v : values) v = sigma * normal(rng);
    writer.add_tensor_f32(name, t, {cols, rows}, values);
  };
  auto norm = [&](const std::string& name) {
    std::vector<float> values(size_t(o.dim));
    for (float& v : values) v = 1.0f + 0.1f * normal(rng);
    writer.add_tensor_f32(name, TensorType::F32, {o.dim}, values);
  };
  const int head_dim = o.dim / o.heads, kv_dim = head_dim * o.kv_heads;
  const float sigma = 0.02f;
  matrix("token_embd.weight", o.dim, o.vocab, pick(o.dim, true), 1.0f);
  for (int i = 0; i < o.layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    const bool more_bits = i < o.layers / 8 || i >= 7 * o.layers / 8 || (i - o.layers / 8) % 3 == 2;
    norm(p + "attn_norm.weight");
    matrix(p + "attn_q.weight", o.dim, o.dim, pick(o.dim, false), sigma);
    matrix(p + "attn_k.weight", o.dim, kv_dim, pick(o.dim, false), sigma);
    matrix(p + "attn_v.weight", o.dim, kv_dim, pick(o.dim, more_bits), sigma);
    matrix(p + "attn_output.weight", o.dim, o.dim, pick(o.dim, false), sigma);
    norm(p + "ffn_norm.weight");
    matrix(p + "ffn_gate.weight", o.dim, o.ff, pick(o.dim, false), sigma);
    matrix(p + "ffn_up.weight", o.dim, o.ff, pick(o.dim, false), sigma);
    matrix(p + "ffn_down.weight", o.ff, o.dim, pick(o.ff, more_bits), sigma);
  }
  norm("output_norm.weight");
  writer.write_file(o.out_path);
  std::printf("wrote %s (%s)\n", o.out_path.c_str(), requested->name);
}

// ---------------------------------------------------------------------------------------
// bench-kernels: the matrix products alone, per weight type, in GMAC/s (multiply-adds per
// second): 1 token (generation's product) and many (a prompt's), on a random packed
// matrix small enough to stay in cache, so that the figures are the kernels' own, and
// the native and web builds' can be compared type by type.
// ---------------------------------------------------------------------------------------

struct BenchKernelsOptions {
  std::vector<std::string> types = {"f16", "q8_0", "q4_0", "q5_0", "q4_K", "q5_K", "q6_K"};
  std::vector<int> tokens = {1, 128};
  int64_t rows = 2048, cols = 1536;
  int threads = 1;
  bool json = false;
};

void command_bench_kernels(const BenchKernelsOptions& o) {
  set_thread_count(o.threads);
  nlohmann::json results = nlohmann::json::array();
  for (const std::string& name : o.types) {
    const TensorTypeInfo* info = find_type_info(name);
    if (!info || !info->from_float) fail("bench-kernels: cannot write type '" + name + "'");
    if (o.cols % info->block_size != 0)
      fail("bench-kernels: --cols must be a multiple of " + std::to_string(info->block_size) + " for " + name);
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    std::vector<float> values(size_t(o.rows * o.cols));
    for (float& v : values) v = normal(rng);
    const size_t bytes_per_row = row_bytes(info->type, o.cols);
    std::vector<uint8_t> bytes(bytes_per_row * size_t(o.rows));
    for (int64_t r = 0; r < o.rows; ++r) info->from_float(values.data() + r * o.cols, bytes.data() + size_t(r) * bytes_per_row, o.cols);
    TensorView weight;
    weight.name = "w";
    weight.type = info->type;
    weight.shape = {o.cols, o.rows, 1, 1};
    weight.n_dims = 2;
    weight.data = bytes.data();
    weight.bytes = bytes.size();
    if (can_pack(weight)) pack_in_place(weight, bytes.data());
    for (int n_tokens : o.tokens) {
      std::vector<float> in(size_t(o.cols) * size_t(n_tokens)), out(size_t(o.rows) * size_t(n_tokens));
      for (float& v : in) v = 20.0f * normal(rng);
      // Warm up for 0.3 s (the web build's code is recompiled optimized once it is hot),
      // then the best of the runs of the next 0.3 s (5 runs at least in all).
      double best_ms = 1e30, total_ms = 0;
      for (int run = 0; total_ms < 600 || run < 5; ++run) {
        const Clock::time_point start = Clock::now();
        matmul(weight, in.data(), n_tokens, out.data());
        const double ms = ms_since(start);
        total_ms += ms;
        if (total_ms > 300) best_ms = std::min(best_ms, ms);
      }
      const double gmac_per_s = double(o.rows) * double(o.cols) * n_tokens / (best_ms * 1e6);
      results.push_back({{"type", info->name}, {"tokens", n_tokens}, {"gmac_per_s", gmac_per_s}, {"ms", best_ms},
                         {"packed", weight.packed}, {"rows", o.rows}, {"cols", o.cols}, {"threads", o.threads},
                         {"kernels", kernel_isa_name(kernel_isa())}});
      if (!o.json) std::printf("%-5s %4d tokens  %7.2f GMAC/s  (%.3f ms)\n", info->name, n_tokens, gmac_per_s, best_ms);
    }
  }
  if (o.json) std::printf("%s\n", results.dump().c_str());
}

}  // namespace

void add_bench_commands(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* bench = app.add_subcommand("bench",
      "Measure prompt reading and generation speed, time to first token, peak memory and memory bandwidth");
  bench->add_option("-m,--model", o->model_path, "GGUF file, or a Hugging Face folder with *.safetensors")->required();
  bench->add_option("-t,--threads", o->threads, "Threads (default: all cores)")->check(CLI::Range(1, 256));
  bench->add_option("--prompt-tokens", o->prompt_tokens, "Prompt length")->capture_default_str()->check(CLI::Range(1, 1 << 16));
  bench->add_option("--gen-tokens", o->gen_tokens, "Tokens to generate")->capture_default_str()->check(CLI::Range(0, 1 << 16));
  bench->add_option("--repeat", o->repeat, "Runs; the best is reported")->capture_default_str()->check(CLI::Range(1, 100));
  bench->add_option("--bandwidth-mb", o->bandwidth_mb, "Buffer for the memory bandwidth loop")->capture_default_str()->check(CLI::Range(16, 2048));
  bench->add_flag("--json", o->json, "Print one JSON object");
  bench->callback([o] { command_bench(*o); });

  auto m = std::make_shared<BenchModelOptions>();
  CLI::App* model = app.add_subcommand("bench-model", "Write a random-weight Llama-shaped model for benchmarks");
  model->group("");  // hidden from --help
  model->add_option("-o,--out", m->out_path, "Output GGUF file")->required();
  model->add_option("--type", m->type, "f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_K, q5_K, q6_K")->capture_default_str();
  model->add_option("--dim", m->dim)->capture_default_str();
  model->add_option("--layers", m->layers)->capture_default_str();
  model->add_option("--heads", m->heads)->capture_default_str();
  model->add_option("--kv-heads", m->kv_heads)->capture_default_str();
  model->add_option("--ff", m->ff)->capture_default_str();
  model->add_option("--vocab", m->vocab)->capture_default_str();
  model->add_option("--seed", m->seed)->capture_default_str();
  model->callback([m] { command_bench_model(*m); });

  auto k = std::make_shared<BenchKernelsOptions>();
  CLI::App* kernels = app.add_subcommand("bench-kernels", "Time the matrix products alone, per weight type, in GMAC/s");
  kernels->group("");  // hidden from --help
  kernels->add_option("--types", k->types, "Weight types")->delimiter(',')->capture_default_str();
  kernels->add_option("--tokens", k->tokens, "Token counts")->delimiter(',')->capture_default_str()->check(CLI::Range(1, 4096));
  kernels->add_option("--rows", k->rows)->capture_default_str()->check(CLI::Range(16, 1 << 20));
  kernels->add_option("--cols", k->cols)->capture_default_str()->check(CLI::Range(256, 1 << 20));
  kernels->add_option("-t,--threads", k->threads)->capture_default_str()->check(CLI::Range(1, 256));
  kernels->add_flag("--json", k->json, "Print one JSON array");
  kernels->callback([k] { command_bench_kernels(*k); });
}

}  // namespace loupe::cli
