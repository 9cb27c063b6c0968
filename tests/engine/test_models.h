// Tiny models built in memory for tests: random (seeded) weights of any shape for the
// three architectures, with a small vocabulary, written as GGUF bytes that
// load_model_from_bytes reads like any file. `edit` lets a test set weights by hand.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/tensor_types.h"
#include "model/model.h"

namespace loupe::test {

enum class TinyVocab {
  Letters,  // SentencePiece: 0 <unk>, 1 <s> (BOS, added), 2 </s>, 3 "▁", 4.. "a".."z", then "x0", "x1", ... up to vocab_size
  Bytes,    // byte-level BPE: the 256 byte characters, then "he", "Ġt", "Ġthe" (259 tokens); no BOS
};

struct TinyModelSpec {
  Architecture arch = Architecture::Llama;
  int n_layers = 2;
  int dim = 16;
  int n_heads = 2;
  int n_kv_heads = 0;       // 0: n_heads
  int ff_dim = 24;
  int context = 32;
  TinyVocab vocab = TinyVocab::Letters;
  int vocab_size = 40;      // Letters only (at least 30)
  bool qkv_bias = false;    // Llama: add q/k/v biases (Qwen2 always has them)
  bool tied_output = false;
  TensorType type = TensorType::F32;  // of the matrices (norms and biases stay f32)
  uint64_t seed = 1;
  float weight_scale = 0.35f;  // standard deviation of the random matrices
  // Called for every tensor after the random fill: name (GGUF's, e.g. "blk.0.attn_q.weight")
  // and its values in ggml order (rows of shape[0] values).
  std::function<void(const std::string& name, std::vector<float>& values)> edit;
};

std::vector<uint8_t> tiny_model_gguf(const TinyModelSpec& spec);
Model tiny_model(const TinyModelSpec& spec);

}  // namespace loupe::test
