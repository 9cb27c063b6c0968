// Tiny GGUF models for tests (see test_models.h).
#include "test_models.h"

#include <cmath>
#include <random>

#include "formats/gguf.h"
#include "tokenizer/tokenizer_test_util.h"

namespace loupe::test {

namespace {

// Normal(0, 1) draws from mt19937_64 by Box-Muller: the same numbers on every platform.
struct Gaussian {
  std::mt19937_64 rng;
  explicit Gaussian(uint64_t seed) : rng(seed) {}
  double uniform() { return (double(rng() >> 11) + 0.5) / double(1ull << 53); }
  float next() { return float(std::sqrt(-2 * std::log(uniform())) * std::cos(2 * M_PI * uniform())); }
};

void add_vocabulary(GgufWriter& w, const TinyModelSpec& spec, int& vocab_size) {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  if (spec.vocab == TinyVocab::Bytes) {
    for (int b = 0; b < 256; ++b) tokens.push_back(byte_char(b));
    std::vector<std::string> merges = {"h e", "Ġ t", "Ġt he"};
    for (const char* m : {"he", "Ġt", "Ġthe"}) tokens.push_back(m);
    types.assign(tokens.size(), 1);
    w.set("tokenizer.ggml.model", GgufValue::from_string("gpt2"));
    w.set("tokenizer.ggml.pre", GgufValue::from_string("gpt-2"));
    w.set("tokenizer.ggml.merges", GgufValue::from_strings(merges));
    w.set("tokenizer.ggml.add_bos_token", GgufValue::from_bool(false));
  } else {
    tokens = {"<unk>", "<s>", "</s>", "\xE2\x96\x81"};
    types = {2, 3, 3, 1};
    for (char ch = 'a'; ch <= 'z'; ++ch) tokens.push_back(std::string(1, ch)), types.push_back(1);
    for (int i = 0; int(tokens.size()) < spec.vocab_size; ++i) tokens.push_back("x" + std::to_string(i)), types.push_back(1);
    std::vector<float> scores(tokens.size());
    for (size_t i = 0; i < scores.size(); ++i) scores[i] = -float(i);
    w.set("tokenizer.ggml.model", GgufValue::from_string("llama"));
    w.set("tokenizer.ggml.scores", GgufValue::from_f32s(scores));
    w.set("tokenizer.ggml.bos_token_id", GgufValue::from_u32(1));
    w.set("tokenizer.ggml.eos_token_id", GgufValue::from_u32(2));
    w.set("tokenizer.ggml.unknown_token_id", GgufValue::from_u32(0));
    w.set("tokenizer.ggml.add_bos_token", GgufValue::from_bool(true));
  }
  w.set("tokenizer.ggml.tokens", GgufValue::from_strings(tokens));
  w.set("tokenizer.ggml.token_type", GgufValue::from_i32s(types));
  vocab_size = int(tokens.size());
}

}  // namespace

std::vector<uint8_t> tiny_model_gguf(const TinyModelSpec& spec) {
  const bool gpt2 = spec.arch == Architecture::Gpt2;
  const std::string arch = gpt2 ? "gpt2" : spec.arch == Architecture::Qwen2 ? "qwen2" : "llama";
  const int n_kv = spec.n_kv_heads > 0 ? spec.n_kv_heads : spec.n_heads;
  const int hd = spec.dim / spec.n_heads, q_dim = spec.n_heads * hd, kv_dim = n_kv * hd;
  GgufWriter w;
  w.set("general.architecture", GgufValue::from_string(arch));
  w.set("general.name", GgufValue::from_string("tiny-" + arch));
  w.set(arch + ".block_count", GgufValue::from_u32(uint32_t(spec.n_layers)));
  w.set(arch + ".embedding_length", GgufValue::from_u32(uint32_t(spec.dim)));
  w.set(arch + ".feed_forward_length", GgufValue::from_u32(uint32_t(spec.ff_dim)));
  w.set(arch + ".attention.head_count", GgufValue::from_u32(uint32_t(spec.n_heads)));
  w.set(arch + ".attention.head_count_kv", GgufValue::from_u32(uint32_t(n_kv)));
  w.set(arch + ".context_length", GgufValue::from_u32(uint32_t(spec.context)));
  if (gpt2) {
    w.set(arch + ".attention.layer_norm_epsilon", GgufValue::from_f32(1e-5f));
  } else {
    w.set(arch + ".attention.layer_norm_rms_epsilon", GgufValue::from_f32(1e-5f));
    w.set(arch + ".rope.freq_base", GgufValue::from_f32(10000.0f));
  }
  int vocab = 0;
  add_vocabulary(w, spec, vocab);

  Gaussian g(spec.seed);
  // kind: 'm' matrix (spec.type, random), 'n' norm weight (1 + noise), 'b' bias (noise)
  auto add = [&](const std::string& name, std::vector<int64_t> shape, char kind) {
    size_t count = 1;
    for (int64_t s : shape) count *= size_t(s);
    std::vector<float> values(count);
    for (float& v : values) {
      const float z = g.next();
      v = kind == 'm' ? spec.weight_scale * z : kind == 'n' ? 1.0f + 0.1f * z : 0.1f * z;
    }
    if (spec.edit) spec.edit(name, values);
    w.add_tensor_f32(name, kind == 'm' ? spec.type : TensorType::F32, shape, values);
  };
  add("token_embd.weight", {spec.dim, vocab}, 'm');
  if (gpt2) add("position_embd.weight", {spec.dim, spec.context}, 'm');
  for (int l = 0; l < spec.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add(p + "attn_norm.weight", {spec.dim}, 'n');
    if (gpt2) {
      add(p + "attn_norm.bias", {spec.dim}, 'b');
      add(p + "attn_qkv.weight", {spec.dim, 3 * spec.dim}, 'm');
      add(p + "attn_qkv.bias", {3 * spec.dim}, 'b');
      add(p + "attn_output.weight", {q_dim, spec.dim}, 'm');
      add(p + "attn_output.bias", {spec.dim}, 'b');
      add(p + "ffn_norm.weight", {spec.dim}, 'n');
      add(p + "ffn_norm.bias", {spec.dim}, 'b');
      add(p + "ffn_up.weight", {spec.dim, spec.ff_dim}, 'm');
      add(p + "ffn_up.bias", {spec.ff_dim}, 'b');
      add(p + "ffn_down.weight", {spec.ff_dim, spec.dim}, 'm');
      add(p + "ffn_down.bias", {spec.dim}, 'b');
    } else {
      add(p + "attn_q.weight", {spec.dim, q_dim}, 'm');
      add(p + "attn_k.weight", {spec.dim, kv_dim}, 'm');
      add(p + "attn_v.weight", {spec.dim, kv_dim}, 'm');
      if (spec.arch == Architecture::Qwen2 || spec.qkv_bias) {
        add(p + "attn_q.bias", {q_dim}, 'b');
        add(p + "attn_k.bias", {kv_dim}, 'b');
        add(p + "attn_v.bias", {kv_dim}, 'b');
      }
      add(p + "attn_output.weight", {q_dim, spec.dim}, 'm');
      add(p + "ffn_norm.weight", {spec.dim}, 'n');
      add(p + "ffn_gate.weight", {spec.dim, spec.ff_dim}, 'm');
      add(p + "ffn_up.weight", {spec.dim, spec.ff_dim}, 'm');
      add(p + "ffn_down.weight", {spec.ff_dim, spec.dim}, 'm');
    }
  }
  add("output_norm.weight", {spec.dim}, 'n');
  if (gpt2) add("output_norm.bias", {spec.dim}, 'b');
  if (!spec.tied_output) add("output.weight", {spec.dim, vocab}, 'm');
  return w.to_bytes();
}

Model tiny_model(const TinyModelSpec& spec) {
  return load_model_from_bytes(tiny_model_gguf(spec), "tiny-model");
}

}  // namespace loupe::test
