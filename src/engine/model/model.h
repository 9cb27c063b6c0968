// A loaded model: its configuration, views of its weights, its tokenizer and the bytes
// that back them. Loading reads GGUF (one file) or safetensors (a Hugging Face folder:
// config.json, tokenizer.json, one or more *.safetensors) from disk (mmap) or from a
// buffer already in memory (the browser). Weights are never copied: every TensorView
// points into the mapped file or the buffer the Model owns.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "tokenizer/tokenizer.h"

namespace loupe {

enum class Architecture { Gpt2, Llama, Qwen2 };
const char* architecture_name(Architecture arch);

// How RoPE pairs up the dimensions of a head. GGUF's `llama` rotates adjacent pairs
// (x[2i], x[2i+1]); Hugging Face checkpoints and GGUF's `qwen2` rotate x[i] with
// x[i + head_dim/2] ("neox" order).
enum class RopeStyle { Adjacent, HalfSplit };

struct ModelConfig {
  Architecture arch = Architecture::Llama;
  int n_layers = 0;
  int dim = 0;            // residual stream width
  int n_heads = 0;
  int n_kv_heads = 0;     // < n_heads for grouped-query attention
  int head_dim = 0;
  int ff_dim = 0;         // hidden width of the MLP
  int vocab_size = 0;
  int context_length = 0;
  float norm_eps = 1e-5f;
  // RoPE (Llama family only)
  RopeStyle rope_style = RopeStyle::Adjacent;
  int rope_dims = 0;              // dimensions rotated per head (usually head_dim)
  float rope_base = 10000.0f;
  // Llama 3 style frequency scaling: 0 factor means none.
  float rope_scale_factor = 0.0f;
  float rope_low_freq_factor = 1.0f;
  float rope_high_freq_factor = 4.0f;
  int rope_original_context = 8192;
  bool tied_output = false;       // logits reuse the token embedding
};

struct LayerWeights {
  // Attention. Llama/Qwen2: separate q/k/v (biases only in Qwen2). GPT-2: one stacked
  // qkv matrix, biases everywhere, LayerNorm with bias.
  TensorView attn_norm, attn_norm_bias;       // (dim)
  TensorView wq, wk, wv;                      // (dim -> n_heads*head_dim / n_kv_heads*head_dim)
  TensorView bq, bk, bv;
  TensorView wqkv, bqkv;                      // GPT-2: (dim -> 3*dim), rows q then k then v
  TensorView wo, bo;                          // (n_heads*head_dim -> dim)
  // MLP. Llama/Qwen2: SwiGLU (gate, up, down). GPT-2: up, GELU, down.
  TensorView ffn_norm, ffn_norm_bias;         // (dim)
  TensorView w_gate;                          // (dim -> ff_dim)
  TensorView w_up, b_up;                      // (dim -> ff_dim)
  TensorView w_down, b_down;                  // (ff_dim -> dim)
};

struct ModelWeights {
  TensorView token_embedding;     // (vocab, dim): one row per token
  TensorView position_embedding;  // GPT-2: (context, dim)
  std::vector<LayerWeights> layers;
  TensorView output_norm, output_norm_bias;  // (dim)
  TensorView output;              // (dim -> vocab); token_embedding when tied
  TensorView rope_freqs;          // optional f32 (head_dim/2): Llama 3 RoPE scaling factors
};

// Where a model came from and what it says about itself: the model card's facts.
struct ModelInfo {
  std::string format;           // "gguf" or "safetensors"
  std::string name;             // general.name or the folder/file name
  std::string source;           // path or URL
  uint64_t file_bytes = 0;
  uint64_t parameter_count = 0;
  std::map<std::string, std::string> metadata;  // key -> display string (general.*, etc.)
  std::map<std::string, int> tensor_type_counts;  // "q8_0" -> number of tensors
};

class Model {
 public:
  ModelConfig config;
  ModelWeights weights;
  Tokenizer tokenizer;
  ModelInfo info;

  Model() = default;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  Model(Model&&) = default;
  Model& operator=(Model&&) = default;

  // Keeps `storage` alive for as long as the model: the tensor views point into it.
  void keep_alive(std::shared_ptr<const void> storage) { storage_.push_back(std::move(storage)); }

 private:
  std::vector<std::shared_ptr<const void>> storage_;
};

// A GGUF file, or a folder with config.json + tokenizer.json + *.safetensors.
Model load_model(const std::string& path);
// A GGUF file already in memory; the model takes ownership of the bytes (no copy).
Model load_model_from_bytes(std::vector<uint8_t> bytes, std::string source_name = "memory");
// Safetensors files already in memory, by file name (config.json, tokenizer.json,
// tokenizer_config.json, model.safetensors or shards with model.safetensors.index.json).
Model load_model_from_files(std::map<std::string, std::vector<uint8_t>> files,
                            std::string source_name = "memory");

// Bytes needed to run `model` with a KV cache of `context` positions, beyond the weights.
uint64_t kv_cache_bytes(const ModelConfig& config, int context);

}  // namespace loupe
