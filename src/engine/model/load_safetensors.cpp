// Turning a Hugging Face model folder (config.json, tokenizer.json, model.safetensors or
// shards listed in model.safetensors.index.json) into a Model. Tensors stay where they
// are in the mapped files, except GPT-2's Conv1D weights, which Hugging Face stores
// transposed ([in][out]) and are transposed once here.
#include <nlohmann/json.hpp>

#include <cstring>

#include "core/error.h"
#include "core/half.h"
#include "formats/safetensors.h"
#include "model/model.h"
#include "model/model_checks.h"

namespace loupe {

namespace {

using Json = nlohmann::json;

std::string text_of(const FileBytes& file) {
  return std::string(reinterpret_cast<const char*>(file.bytes.data()), file.bytes.size());
}

int config_int(const Json& config, std::initializer_list<const char*> keys, int fallback = -1) {
  for (const char* key : keys) {
    auto it = config.find(key);
    if (it != config.end() && it->is_number_integer()) {
      const int64_t value = it->get<int64_t>();
      if (value <= 0 || value > (int64_t(1) << 24)) fail(std::string("config.json: ") + key + " is out of range");
      return int(value);
    }
  }
  if (fallback < 0) fail(std::string("config.json has no ") + *keys.begin());
  return fallback;
}

double config_number(const Json& config, const char* key, double fallback) {
  auto it = config.find(key);
  return it != config.end() && it->is_number() ? it->get<double>() : fallback;
}

ModelConfig config_from_json(const Json& json) {
  if (!json.is_object()) fail("config.json is not a JSON object");
  const std::string type = json.value("model_type", "");
  ModelConfig c;
  if (type == "gpt2") {
    c.arch = Architecture::Gpt2;
    c.dim = config_int(json, {"n_embd", "hidden_size"});
    c.n_layers = config_int(json, {"n_layer", "num_hidden_layers"});
    c.n_heads = config_int(json, {"n_head", "num_attention_heads"});
    c.n_kv_heads = c.n_heads;
    c.context_length = config_int(json, {"n_positions", "n_ctx", "max_position_embeddings"});
    c.ff_dim = config_int(json, {"n_inner"}, 4 * c.dim);
    c.norm_eps = float(config_number(json, "layer_norm_epsilon", 1e-5));
    c.head_dim = c.dim / c.n_heads;
    return c;
  }
  if (type == "llama" || type == "mistral") c.arch = Architecture::Llama;
  else if (type == "qwen2") c.arch = Architecture::Qwen2;
  else fail("config.json: model_type '" + type + "' is not supported (gpt2, llama, mistral, qwen2 are)");
  c.dim = config_int(json, {"hidden_size"});
  c.n_layers = config_int(json, {"num_hidden_layers"});
  c.n_heads = config_int(json, {"num_attention_heads"});
  c.n_kv_heads = config_int(json, {"num_key_value_heads"}, c.n_heads);
  c.ff_dim = config_int(json, {"intermediate_size"});
  c.context_length = config_int(json, {"max_position_embeddings"});
  c.head_dim = config_int(json, {"head_dim"}, c.dim / c.n_heads);
  c.norm_eps = float(config_number(json, "rms_norm_eps", 1e-6));
  c.rope_base = float(config_number(json, "rope_theta", 10000.0));
  c.rope_dims = c.head_dim;
  c.rope_style = RopeStyle::HalfSplit;  // Hugging Face checkpoints rotate (x[i], x[i + d/2])
  auto scaling = json.find("rope_scaling");
  if (scaling != json.end() && scaling->is_object()) {
    const std::string kind = scaling->value("rope_type", scaling->value("type", ""));
    if (kind != "llama3" && kind != "default")
      fail("config.json: RoPE scaling '" + kind + "' is not supported (only Llama 3 style)");
    if (kind == "llama3") {
      c.rope_scale_factor = float(config_number(*scaling, "factor", 8.0));
      c.rope_low_freq_factor = float(config_number(*scaling, "low_freq_factor", 1.0));
      c.rope_high_freq_factor = float(config_number(*scaling, "high_freq_factor", 4.0));
      c.rope_original_context = config_int(*scaling, {"original_max_position_embeddings"}, 8192);
    }
  }
  return c;
}

// Hugging Face's GPT-2 stores Conv1D weights as [in][out]; the engine wants one row per
// output. Transposes into a new buffer owned by the model.
TensorView transposed(const TensorView& t, Model& model) {
  const int64_t in = t.shape[1], out = t.shape[0];  // ggml order: shape[0] contiguous = out
  const size_t element = t.type == TensorType::F32 ? 4 : 2;
  auto buffer = std::make_shared<std::vector<uint8_t>>(t.bytes);
  for (int64_t i = 0; i < in; ++i)
    for (int64_t o = 0; o < out; ++o)
      std::memcpy(buffer->data() + (size_t(o) * in + i) * element, t.data + (size_t(i) * out + o) * element, element);
  TensorView result = t;
  result.shape[0] = in;
  result.shape[1] = out;
  result.data = buffer->data();
  model.keep_alive(buffer);
  return result;
}

}  // namespace

Model load_model_from_safetensors(std::map<std::string, FileBytes> files, std::string source) {
  auto file = [&](const std::string& name) -> const FileBytes* {
    auto it = files.find(name);
    return it == files.end() ? nullptr : &it->second;
  };
  const FileBytes* config_file = file("config.json");
  if (!config_file) fail("the model has no config.json (a Hugging Face model needs config.json, tokenizer.json and *.safetensors)");
  const FileBytes* tokenizer_file = file("tokenizer.json");
  if (!tokenizer_file) fail("the model has no tokenizer.json");

  Model model;
  Json config_json;
  try {
    config_json = Json::parse(text_of(*config_file));
  } catch (const Json::exception& e) {
    fail(std::string("config.json is not valid JSON: ") + e.what());
  }
  model.config = config_from_json(config_json);
  ModelConfig& c = model.config;

  // Every tensor by name, from one file or from the shards the index lists.
  std::map<std::string, TensorView> tensors;
  std::vector<std::string> shard_names;
  if (const FileBytes* index = file("model.safetensors.index.json")) {
    for (const auto& [tensor, shard] : read_safetensors_index(text_of(*index)))
      if (std::find(shard_names.begin(), shard_names.end(), shard) == shard_names.end()) shard_names.push_back(shard);
  } else if (file("model.safetensors")) {
    shard_names.push_back("model.safetensors");
  } else {
    fail("the model has no model.safetensors (nor a model.safetensors.index.json listing shards)");
  }
  for (const std::string& shard_name : shard_names) {
    const FileBytes* shard = file(shard_name);
    if (!shard) fail("the shard '" + shard_name + "' listed in model.safetensors.index.json is missing");
    model.keep_alive(shard->owner);
    const SafetensorsFile parsed = read_safetensors(shard->bytes);
    for (const TensorView& t : parsed.tensors) {
      TensorView view = t;
      // f32 vectors are read in place as float arrays; a safetensors header may leave them
      // unaligned, so such a tensor is copied once to aligned memory.
      if (view.type == TensorType::F32 && reinterpret_cast<uintptr_t>(view.data) % alignof(float) != 0) {
        auto aligned = std::make_shared<std::vector<float>>(view.bytes / sizeof(float));
        std::memcpy(aligned->data(), view.data, view.bytes);
        view.data = reinterpret_cast<const uint8_t*>(aligned->data());
        model.keep_alive(aligned);
      }
      tensors[view.name] = view;
    }
    model.info.file_bytes += shard->bytes.size();
    for (const auto& [k, v] : parsed.metadata) model.info.metadata["safetensors." + k] = v;
  }

  auto tensor = [&](const std::string& name, bool required = true) -> TensorView {
    for (const std::string& prefix : {std::string(), std::string("transformer."), std::string("model.")}) {
      auto it = tensors.find(prefix + name);
      if (it != tensors.end()) return it->second;
    }
    if (required) fail("the model has no tensor '" + name + "'");
    return {};
  };

  ModelWeights& w = model.weights;
  if (c.arch == Architecture::Gpt2) {
    w.token_embedding = tensor("wte.weight");
    w.position_embedding = tensor("wpe.weight");
    w.output_norm = tensor("ln_f.weight");
    w.output_norm_bias = tensor("ln_f.bias");
    w.output = tensor("lm_head.weight", false);
    for (int i = 0; i < c.n_layers; ++i) {
      const std::string p = "h." + std::to_string(i) + ".";
      LayerWeights lw;
      lw.attn_norm = tensor(p + "ln_1.weight");
      lw.attn_norm_bias = tensor(p + "ln_1.bias");
      lw.wqkv = transposed(tensor(p + "attn.c_attn.weight"), model);
      lw.bqkv = tensor(p + "attn.c_attn.bias");
      lw.wo = transposed(tensor(p + "attn.c_proj.weight"), model);
      lw.bo = tensor(p + "attn.c_proj.bias");
      lw.ffn_norm = tensor(p + "ln_2.weight");
      lw.ffn_norm_bias = tensor(p + "ln_2.bias");
      lw.w_up = transposed(tensor(p + "mlp.c_fc.weight"), model);
      lw.b_up = tensor(p + "mlp.c_fc.bias");
      lw.w_down = transposed(tensor(p + "mlp.c_proj.weight"), model);
      lw.b_down = tensor(p + "mlp.c_proj.bias");
      w.layers.push_back(lw);
    }
  } else {
    w.token_embedding = tensor("embed_tokens.weight");
    w.output_norm = tensor("norm.weight");
    w.output = tensor("lm_head.weight", false);
    for (int i = 0; i < c.n_layers; ++i) {
      const std::string p = "layers." + std::to_string(i) + ".";
      LayerWeights lw;
      lw.attn_norm = tensor(p + "input_layernorm.weight");
      lw.wq = tensor(p + "self_attn.q_proj.weight");
      lw.wk = tensor(p + "self_attn.k_proj.weight");
      lw.wv = tensor(p + "self_attn.v_proj.weight");
      const bool biases = c.arch == Architecture::Qwen2;
      lw.bq = tensor(p + "self_attn.q_proj.bias", biases);
      lw.bk = tensor(p + "self_attn.k_proj.bias", biases);
      lw.bv = tensor(p + "self_attn.v_proj.bias", biases);
      lw.wo = tensor(p + "self_attn.o_proj.weight");
      lw.ffn_norm = tensor(p + "post_attention_layernorm.weight");
      lw.w_gate = tensor(p + "mlp.gate_proj.weight");
      lw.w_up = tensor(p + "mlp.up_proj.weight");
      lw.w_down = tensor(p + "mlp.down_proj.weight");
      w.layers.push_back(lw);
    }
  }
  c.vocab_size = int(w.token_embedding.rows());
  c.tied_output = w.output.empty();
  if (c.tied_output) w.output = w.token_embedding;
  check_model_shapes(model);

  const FileBytes* tokenizer_config = file("tokenizer_config.json");
  model.tokenizer = tokenizer_from_hf_json(text_of(*tokenizer_file), tokenizer_config ? text_of(*tokenizer_config) : "");
  if (model.tokenizer.n_vocab() > c.vocab_size)
    fail("the tokenizer has " + std::to_string(model.tokenizer.n_vocab()) + " tokens but the embedding only " +
         std::to_string(c.vocab_size) + " rows");

  ModelInfo& info = model.info;
  info.format = "safetensors";
  info.source = source;
  info.name = config_json.value("_name_or_path", source);
  for (const auto& [key, value] : tensors) {
    info.parameter_count += uint64_t(value.elements());
    info.tensor_type_counts[type_info(value.type).name] += 1;
  }
  for (auto& [key, value] : config_json.items())
    if (!value.is_object() && !value.is_array()) info.metadata["config." + key] = value.is_string() ? value.get<std::string>() : value.dump();
  pack_weights(model);
  return model;
}

}  // namespace loupe
