// Entry points for loading a model, and the shape checks every loader runs.
#include "model/model.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/file_bytes.h"
#include "kernels/dispatch.h"
#include "kernels/packed.h"
#include "model/model_checks.h"

namespace loupe {

const char* architecture_name(Architecture arch) {
  switch (arch) {
    case Architecture::Gpt2: return "gpt2";
    case Architecture::Llama: return "llama";
    case Architecture::Qwen2: return "qwen2";
  }
  return "?";
}

namespace {

std::string shape_string(const TensorView& t) {
  std::string s = "[";
  for (int i = 0; i < t.n_dims; ++i) s += (i ? ", " : "") + std::to_string(t.shape[size_t(i)]);
  return s + "]";
}

// `t` must be a matrix of `rows` rows of `row_length` values (or a vector when rows == 0).
void expect(const TensorView& t, int64_t row_length, int64_t rows, bool required = true) {
  if (t.empty()) {
    if (required) fail("a tensor the model needs is missing");
    return;
  }
  const bool is_vector = rows == 0;
  const bool fits = t.shape[0] == row_length && (is_vector ? t.rows() == 1 : t.rows() == rows);
  if (!fits)
    fail("tensor '" + t.name + "' has shape " + shape_string(t) + " but the model needs [" +
         std::to_string(row_length) + (is_vector ? "" : ", " + std::to_string(rows)) + "]");
  if (is_vector && t.type != TensorType::F32 && t.type != TensorType::F16 && t.type != TensorType::BF16)
    fail("tensor '" + t.name + "' is a norm or bias stored as " + type_info(t.type).name + "; expected f32");
}

}  // namespace

void pack_weights(Model& model) {
  if (const char* env = std::getenv("LOUPE_PACKED"); env && std::strcmp(env, "0") == 0) return;
  ModelWeights& w = model.weights;
  // The token embedding is read a row at a time; it is packed only when it is also
  // the output matrix (tied embeddings), which the unembedding multiplies by.
  std::vector<TensorView*> matrices = {&w.output};
  for (LayerWeights& l : w.layers)
    for (TensorView* t : {&l.wq, &l.wk, &l.wv, &l.wqkv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) matrices.push_back(t);
  for (TensorView* t : matrices) {
    // Packed only where this machine has packed kernels as fast as its row-major ones.
    if (!can_pack(*t) || type_kernels(t->type).packed_isa != kernel_isa()) continue;
    // A matrix that shares its bytes with one already packed must not be packed twice.
    const bool shared = std::any_of(matrices.begin(), matrices.end(), [&](const TensorView* other) {
      return other != t && other->packed && other->data == t->data;
    });
    if (!shared) pack_in_place(*t, const_cast<uint8_t*>(t->data));  // the model's private bytes
    t->packed = true;
  }
  if (w.token_embedding.data == w.output.data) w.token_embedding.packed = w.output.packed;
}

void check_model_shapes(const Model& model) {
  const ModelConfig& c = model.config;
  if (c.n_heads <= 0 || c.n_kv_heads <= 0 || c.n_heads % c.n_kv_heads != 0)
    fail("head counts do not fit: " + std::to_string(c.n_heads) + " heads, " + std::to_string(c.n_kv_heads) + " KV heads");
  if (c.head_dim <= 0 || c.head_dim > 1024) fail("head size " + std::to_string(c.head_dim) + " is out of range");
  if (c.arch != Architecture::Gpt2 && (c.rope_dims <= 0 || c.rope_dims > c.head_dim || c.rope_dims % 2))
    fail("RoPE dimension count " + std::to_string(c.rope_dims) + " does not fit head size " + std::to_string(c.head_dim));
  if (c.vocab_size <= 0) fail("the model has an empty vocabulary");
  if (c.context_length > (1 << 20)) fail("context length " + std::to_string(c.context_length) + " is absurd");

  const ModelWeights& w = model.weights;
  const int q_dim = c.n_heads * c.head_dim, kv_dim = c.n_kv_heads * c.head_dim;
  expect(w.token_embedding, c.dim, c.vocab_size);
  expect(w.output, c.dim, c.vocab_size);
  expect(w.output_norm, c.dim, 0);
  expect(w.output_norm_bias, c.dim, 0, false);
  if (c.arch == Architecture::Gpt2) expect(w.position_embedding, c.dim, c.context_length);
  if (!w.rope_freqs.empty()) {
    if (w.rope_freqs.type != TensorType::F32 || w.rope_freqs.elements() != c.rope_dims / 2)
      fail("tensor 'rope_freqs.weight' must be f32 with " + std::to_string(c.rope_dims / 2) + " values");
  }
  if (int(w.layers.size()) != c.n_layers) fail("the model has the wrong number of layers");
  for (const LayerWeights& l : w.layers) {
    expect(l.attn_norm, c.dim, 0);
    expect(l.ffn_norm, c.dim, 0);
    expect(l.wo, q_dim, c.dim);
    expect(l.w_up, c.dim, c.ff_dim);
    expect(l.w_down, c.ff_dim, c.dim);
    if (c.arch == Architecture::Gpt2) {
      expect(l.attn_norm_bias, c.dim, 0);
      expect(l.ffn_norm_bias, c.dim, 0);
      expect(l.wqkv, c.dim, 3 * c.dim);
      expect(l.bqkv, 3 * c.dim, 0);
      expect(l.bo, c.dim, 0);
      expect(l.b_up, c.ff_dim, 0);
      expect(l.b_down, c.dim, 0);
    } else {
      expect(l.wq, c.dim, q_dim);
      expect(l.wk, c.dim, kv_dim);
      expect(l.wv, c.dim, kv_dim);
      expect(l.w_gate, c.dim, c.ff_dim);
      expect(l.bq, q_dim, 0, false);
      expect(l.bk, kv_dim, 0, false);
      expect(l.bv, kv_dim, 0, false);
    }
  }
}

uint64_t kv_cache_bytes(const ModelConfig& c, int context) {
  return 2ull * sizeof(float) * uint64_t(c.n_layers) * uint64_t(context) * uint64_t(c.n_kv_heads) * c.head_dim;
}

Model load_model(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (fs::is_directory(path, error)) {
    std::map<std::string, FileBytes> files;
    for (const auto& entry : fs::directory_iterator(path, error)) {
      const std::string name = entry.path().filename().string();
      const bool wanted = name == "config.json" || name == "tokenizer.json" || name == "tokenizer_config.json" ||
                          name == "model.safetensors.index.json" ||
                          (name.size() > 12 && name.substr(name.size() - 12) == ".safetensors");
      if (wanted && entry.is_regular_file()) files[name] = read_file_bytes(entry.path().string());
    }
    if (error) fail("cannot read the folder '" + path + "': " + error.message());
    return load_model_from_safetensors(std::move(files), path);
  }
  FileBytes bytes = read_file_bytes(path);
  if (bytes.bytes.size() >= 4 && std::equal(bytes.bytes.begin(), bytes.bytes.begin() + 4, "GGUF"))
    return load_model_from_gguf(std::move(bytes), path);
  fail("'" + path + "' is not a GGUF file (it does not start with 'GGUF'); for safetensors, pass the model's folder");
}

Model load_model_from_bytes(std::vector<uint8_t> bytes, std::string source_name) {
  auto owned = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
  FileBytes file_bytes{owned, {owned->data(), owned->size()}};
  if (owned->size() < 4 || !std::equal(owned->begin(), owned->begin() + 4, "GGUF"))
    fail("'" + source_name + "' is not a GGUF file (it does not start with 'GGUF')");
  return load_model_from_gguf(std::move(file_bytes), std::move(source_name));
}

Model load_model_from_files(std::map<std::string, std::vector<uint8_t>> files, std::string source_name) {
  std::map<std::string, FileBytes> mapped;
  for (auto& [name, bytes] : files) {
    auto owned = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
    mapped[name] = FileBytes{owned, {owned->data(), owned->size()}};
  }
  if (mapped.size() == 1 && mapped.begin()->second.bytes.size() >= 4 &&
      std::equal(mapped.begin()->second.bytes.begin(), mapped.begin()->second.bytes.begin() + 4, "GGUF"))
    return load_model_from_gguf(std::move(mapped.begin()->second), source_name);
  return load_model_from_safetensors(std::move(mapped), std::move(source_name));
}

}  // namespace loupe
