// Training small GPT-2- or Llama-shaped models from scratch, in nanoGPT's spirit: the
// configuration is plain data (TrainConfig, readable from JSON), the model is a
// grad::Parameters<float>, one step is forward + backward (gradients/), global-norm
// clipping and AdamW with a warm-up + cosine learning rate.
//
// Determinism: the same config and data give the same weights, bit for bit, whatever the
// thread count and timing. A batch is cut into `shards` (fixed by the config, not by the
// thread count); each shard's gradient goes into its own buffer, and the buffers are summed
// in shard order. Batches come from a permutation of the token stream's windows drawn
// from the seed and the epoch number, so a checkpoint needs only (epoch, position).
//
// Checkpoints hold the weights, both AdamW moments, the step, the RNG state, the data
// position and the running totals; they are written to `path.tmp` and renamed, so a
// killed run leaves the previous checkpoint intact. A run stopped and resumed ends with
// the same weights as one run straight through (tests/engine/train/train_test.cpp).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor_types.h"
#include "gradients/gradients.h"
#include "tokenizer/tokenizer.h"

namespace loupe {
class ThreadPool;
}

namespace loupe::train {

// xoshiro256** seeded by splitmix64: small state (four words) that a checkpoint stores.
struct Rng {
  uint64_t s[4] = {};
  explicit Rng(uint64_t seed = 1);
  uint64_t next();
  double uniform();        // [0, 1)
  float normal();          // N(0, 1), Box-Muller
  uint64_t below(uint64_t n);  // [0, n)
};

struct ModelShape {
  Architecture arch = Architecture::Llama;  // Gpt2 or Llama
  int n_layers = 2;
  int dim = 64;
  int n_heads = 4;
  int n_kv_heads = 0;  // 0: n_heads
  int ff_dim = 0;      // 0: 4*dim (GPT-2) or a multiple of 32 near 8/3*dim (Llama)
  int context = 128;
  bool tied_output = true;
};

// The recipe. Every field has a JSON key of the same name (train_config_from_json).
struct TrainConfig {
  std::string name = "loupe-model";
  ModelShape model;
  int vocab_size = 4096;       // BPE target (the CLI trains the tokenizer)
  int steps = 1000;
  int batch = 16;              // sequences per step
  int seq_len = 128;           // tokens per sequence (<= model.context)
  float lr = 3e-3f, min_lr = 3e-4f;
  int warmup = 100;
  float weight_decay = 0.1f, beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f;
  float grad_clip = 1.0f;      // global norm; 0 = off
  float init_std = 0.02f;
  uint64_t seed = 1;
  int shards = 2;              // gradient buffers per batch (fixed: results don't depend on threads)
  int threads = 2;
  int eval_every = 100, eval_batches = 8;
  double checkpoint_every_s = 180;  // CLI: seconds between checkpoints
  // CLI only: files and metadata.
  std::string train_text, val_text, out_dir = "build/train", export_path, export_type = "q8_0";
  size_t bpe_sample_bytes = 4 << 20;
  std::string license = "CC0-1.0", author = "Loupe", description;
  std::vector<std::string> data_sources;  // "name (licence)"
};

TrainConfig train_config_from_json(const std::string& json_text);
std::string train_config_to_json(const TrainConfig& c);

// The grad::ModelConfig of a shape and vocabulary.
ModelConfig model_config(const ModelShape& shape, int vocab_size);
// Fresh weights: matrices N(0, std), the residual outputs (wo, w_down) N(0, std/√(2·layers))
// as GPT-2 does, norms 1, biases 0.
grad::Parameters<float> init_parameters(const ModelConfig& config, float std, Rng& rng);

// Learning rate at `step` (0-based): linear warm-up to lr, then cosine down to min_lr.
float learning_rate(const TrainConfig& c, int step);

// A token stream cut into windows of seq_len + 1 tokens (stride seq_len), visited in a
// seeded random order per epoch.
struct DataLoader {
  const std::vector<int32_t>* tokens = nullptr;
  int seq_len = 0;
  uint64_t seed = 0;
  uint64_t epoch = 0, position = 0;  // saved in checkpoints
  std::vector<uint32_t> order;       // the current epoch's permutation of windows

  void init(const std::vector<int32_t>& stream, int seq_len, uint64_t seed);
  size_t windows() const;
  // Fills inputs and targets (batch, seq_len) with the next `batch` windows.
  void next_batch(int batch, std::vector<int32_t>& inputs, std::vector<int32_t>& targets);
  void restore(uint64_t epoch, uint64_t position);
 private:
  void shuffle();
};

struct StepStats {
  int step = 0;           // steps done after this one
  float loss = 0, grad_norm = 0, lr = 0;
};

class Trainer {
 public:
  Trainer(TrainConfig config, const std::vector<int32_t>& train_tokens, const std::vector<int32_t>& val_tokens,
          int vocab_size);
  ~Trainer();

  StepStats step();                         // one optimizer step
  float validation_loss(int batches = -1);  // mean cross-entropy over the first windows of val
  void save_checkpoint(const std::string& path) const;   // atomic: tmp + rename
  void load_checkpoint(const std::string& path);

  const TrainConfig& config() const { return config_; }
  const grad::Parameters<float>& parameters() const { return params_; }
  grad::Parameters<float>& parameters() { return params_; }
  int steps_done() const { return step_; }
  uint64_t tokens_seen() const { return tokens_seen_; }
  double train_seconds() const { return train_seconds_; }  // summed over sessions
  float last_val_loss() const { return last_val_loss_; }
  void set_last_val_loss(float v) { last_val_loss_ = v; }

 private:
  float batch_gradients(const std::vector<int32_t>& inputs, const std::vector<int32_t>& targets, int batch,
                        bool want_grads);

  TrainConfig config_;
  const std::vector<int32_t>* val_;
  grad::Parameters<float> params_, m_, v_;
  std::vector<grad::Parameters<float>> shard_grads_;
  std::vector<bool> decay_;  // per array of params_.arrays()
  Rng rng_;
  DataLoader loader_;
  int step_ = 0;
  uint64_t tokens_seen_ = 0;
  double train_seconds_ = 0;
  float last_val_loss_ = 0;
  std::unique_ptr<ThreadPool> pool_;
};

// --- export -------------------------------------------------------------------------------

// What the GGUF's general.* and loupe.* keys say about where the model came from.
struct ExportInfo {
  std::string name, license, author, description;
  std::vector<std::string> data_sources;  // "Brown Corpus (permission of copyright holder)"
  int steps = 0, batch = 0, seq_len = 0;
  float lr = 0, val_loss = 0, train_loss = 0;
  uint64_t tokens_seen = 0, parameters = 0;
  double wall_seconds = 0;
  std::string machine;
  uint64_t seed = 0;
};

// GGUF bytes of `p` with `tokenizer` (byte-level BPE), loadable by load_model and by
// other GGUF tools: architecture "gpt2" or "llama", standard keys and tensor names.
// Matrices in `type` (F32, F16 or Q8_0; a tensor whose rows don't fit the block stays
// F32); norms and biases F32.
std::vector<uint8_t> export_gguf(const grad::Parameters<float>& p, const Tokenizer& tokenizer, const ExportInfo& info,
                                 TensorType type = TensorType::F32);
ExportInfo export_info(const Trainer& trainer, float train_loss, const std::string& machine);

// --- tokenizer files (the trainer's own, to resume with the same vocabulary) ---------------
std::string tokenizer_to_json(const Tokenizer& tok);
Tokenizer tokenizer_from_json(const std::string& json_text);

// Mean cross-entropy of the windows of `tokens` (seq_len each, at most max_windows).
float evaluate_loss(const grad::Parameters<float>& p, const std::vector<int32_t>& tokens, int seq_len,
                    int max_windows);

}  // namespace loupe::train
