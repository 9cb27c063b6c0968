// Turning a parsed GGUF file into a Model: the configuration from `{arch}.*` metadata,
// the weights by their GGUF tensor names, each checked for the shape the architecture
// needs, so a file that does not fit fails here with a message, not later in a kernel.
#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "formats/gguf.h"
#include "model/model.h"
#include "model/model_checks.h"

namespace loupe {

namespace {

Architecture architecture_from_gguf(const std::string& name) {
  if (name == "gpt2") return Architecture::Gpt2;
  if (name == "llama") return Architecture::Llama;
  if (name == "qwen2") return Architecture::Qwen2;
  fail("unsupported architecture '" + name + "': Loupe runs gpt2, llama (Llama, TinyLlama, SmolLM, Mistral-style) and qwen2");
}

ModelConfig config_from_gguf(const GgufFile& file) {
  const std::string arch_name = file.get_string("general.architecture");
  if (arch_name.empty()) fail("the GGUF file has no general.architecture: it is not a model (perhaps a vocabulary-only file)");
  ModelConfig c;
  c.arch = architecture_from_gguf(arch_name);
  auto key = [&](const char* suffix) { return arch_name + "." + suffix; };
  auto required_int = [&](const char* suffix) {
    const int64_t value = file.get_int(key(suffix), -1);
    if (value <= 0 || value > (int64_t(1) << 24)) fail("model metadata " + key(suffix) + " is missing or out of range");
    return int(value);
  };
  c.n_layers = required_int("block_count");
  c.dim = required_int("embedding_length");
  c.ff_dim = required_int("feed_forward_length");
  c.n_heads = required_int("attention.head_count");
  c.n_kv_heads = int(file.get_int(key("attention.head_count_kv"), c.n_heads));
  c.context_length = required_int("context_length");
  c.head_dim = c.dim / c.n_heads;
  if (c.arch == Architecture::Gpt2) {
    c.norm_eps = float(file.get_number(key("attention.layer_norm_epsilon"), 1e-5));
  } else {
    c.norm_eps = float(file.get_number(key("attention.layer_norm_rms_epsilon"), 1e-5));
    c.head_dim = int(file.get_int(key("attention.key_length"), c.head_dim));
    c.rope_dims = int(file.get_int(key("rope.dimension_count"), c.head_dim));
    c.rope_base = float(file.get_number(key("rope.freq_base"), 10000.0));
    c.rope_style = c.arch == Architecture::Qwen2 ? RopeStyle::HalfSplit : RopeStyle::Adjacent;
    const std::string scaling = file.get_string(key("rope.scaling.type"), "none");
    if (scaling != "none" && scaling != "llama3")
      fail("RoPE scaling '" + scaling + "' is not supported (only Llama 3 style)");
  }
  return c;
}

}  // namespace

Model load_model_from_gguf(FileBytes file_bytes, std::string source) {
  Model model;
  const GgufFile file = read_gguf(file_bytes.bytes);
  model.keep_alive(file_bytes.owner);
  model.config = config_from_gguf(file);
  ModelConfig& c = model.config;

  auto tensor = [&](const std::string& name, bool required = true) -> TensorView {
    const TensorView* found = file.find_tensor(name);
    if (!found) {
      if (required) fail("the model file has no tensor '" + name + "'");
      return {};
    }
    return *found;
  };
  ModelWeights& w = model.weights;
  w.token_embedding = tensor("token_embd.weight");
  c.vocab_size = int(w.token_embedding.rows());
  w.output_norm = tensor("output_norm.weight");
  w.output_norm_bias = tensor("output_norm.bias", false);
  w.output = tensor("output.weight", false);
  c.tied_output = w.output.empty();
  if (c.tied_output) w.output = w.token_embedding;
  if (c.arch == Architecture::Gpt2) w.position_embedding = tensor("position_embd.weight");
  w.rope_freqs = tensor("rope_freqs.weight", false);

  for (int i = 0; i < c.n_layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    LayerWeights lw;
    lw.attn_norm = tensor(p + "attn_norm.weight");
    lw.ffn_norm = tensor(p + "ffn_norm.weight");
    lw.wo = tensor(p + "attn_output.weight");
    lw.w_up = tensor(p + "ffn_up.weight");
    lw.w_down = tensor(p + "ffn_down.weight");
    if (c.arch == Architecture::Gpt2) {
      lw.attn_norm_bias = tensor(p + "attn_norm.bias");
      lw.ffn_norm_bias = tensor(p + "ffn_norm.bias");
      lw.wqkv = tensor(p + "attn_qkv.weight");
      lw.bqkv = tensor(p + "attn_qkv.bias");
      lw.bo = tensor(p + "attn_output.bias");
      lw.b_up = tensor(p + "ffn_up.bias");
      lw.b_down = tensor(p + "ffn_down.bias");
    } else {
      lw.wq = tensor(p + "attn_q.weight");
      lw.wk = tensor(p + "attn_k.weight");
      lw.wv = tensor(p + "attn_v.weight");
      lw.w_gate = tensor(p + "ffn_gate.weight");
      const bool biases = c.arch == Architecture::Qwen2;
      lw.bq = tensor(p + "attn_q.bias", biases);
      lw.bk = tensor(p + "attn_k.bias", biases);
      lw.bv = tensor(p + "attn_v.bias", biases);
    }
    w.layers.push_back(lw);
  }
  check_model_shapes(model);

  model.tokenizer = tokenizer_from_gguf(file);
  // The embedding may have padding rows beyond the vocabulary, never fewer rows.
  if (model.tokenizer.n_vocab() > c.vocab_size)
    fail("the tokenizer has " + std::to_string(model.tokenizer.n_vocab()) + " tokens but the embedding has " +
         std::to_string(c.vocab_size) + " rows");

  ModelInfo& info = model.info;
  info.format = "gguf";
  info.source = source;
  info.file_bytes = file_bytes.bytes.size();
  info.name = file.get_string("general.name", std::filesystem::path(source).stem().string());
  for (const auto& [k, value] : file.metadata)
    if (k.rfind("tokenizer.ggml.", 0) != 0 && k != "tokenizer.chat_template")
      info.metadata[k] = value.to_display_string();
  for (const TensorView& t : file.tensors) {
    info.parameter_count += uint64_t(t.elements());
    info.tensor_type_counts[type_info(t.type).name] += 1;
  }
  pack_weights(model);
  return model;
}

}  // namespace loupe
