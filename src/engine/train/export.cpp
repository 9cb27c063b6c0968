// Trained weights -> GGUF, with the keys and tensor names model/load_gguf.cpp (and
// llama.cpp) read, and the provenance the model card shows: general.* and loupe.*.
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "formats/gguf.h"
#include "train/train.h"

namespace loupe::train {

ExportInfo export_info(const Trainer& trainer, float train_loss, const std::string& machine) {
  const TrainConfig& c = trainer.config();
  ExportInfo info;
  info.name = c.name;
  info.license = c.license;
  info.author = c.author;
  info.description = c.description;
  info.data_sources = c.data_sources;
  info.steps = trainer.steps_done();
  info.batch = c.batch;
  info.seq_len = c.seq_len;
  info.lr = c.lr;
  info.val_loss = trainer.last_val_loss();
  info.train_loss = train_loss;
  info.tokens_seen = trainer.tokens_seen();
  info.parameters = trainer.parameters().count();
  info.wall_seconds = trainer.train_seconds();
  info.machine = machine;
  info.seed = c.seed;
  return info;
}

std::vector<uint8_t> export_gguf(const grad::Parameters<float>& p, const Tokenizer& tok, const ExportInfo& info,
                                 TensorType type) {
  const ModelConfig& c = p.config;
  const bool gpt2 = c.arch == Architecture::Gpt2;
  if (c.arch == Architecture::Qwen2) fail("export_gguf writes gpt2 or llama models");
  if (tok.model != TokenizerModel::BYTE_BPE) fail("export_gguf needs a byte-level BPE tokenizer");
  if (tok.n_vocab() != c.vocab_size) fail("the tokenizer's vocabulary does not match the model's");
  const std::string arch = gpt2 ? "gpt2" : "llama";
  GgufWriter w;
  w.set("general.architecture", GgufValue::from_string(arch));
  w.set("general.name", GgufValue::from_string(info.name));
  if (!info.license.empty()) w.set("general.license", GgufValue::from_string(info.license));
  if (!info.author.empty()) w.set("general.author", GgufValue::from_string(info.author));
  if (!info.description.empty()) w.set("general.description", GgufValue::from_string(info.description));
  if (!info.data_sources.empty()) {
    w.set("general.datasets", GgufValue::from_strings(info.data_sources));
    w.set("loupe.data.sources", GgufValue::from_strings(info.data_sources));
  }
  w.set("general.file_type", GgufValue::from_u32(type == TensorType::Q8_0 ? 7 : type == TensorType::F16 ? 1 : 0));
  w.set("loupe.train.steps", GgufValue::from_u32(uint32_t(info.steps)));
  w.set("loupe.train.batch", GgufValue::from_u32(uint32_t(info.batch)));
  w.set("loupe.train.seq_len", GgufValue::from_u32(uint32_t(info.seq_len)));
  w.set("loupe.train.lr", GgufValue::from_f32(info.lr));
  w.set("loupe.train.tokens_seen", GgufValue::from_u64(info.tokens_seen));
  w.set("loupe.train.wall_seconds", GgufValue::from_f32(float(info.wall_seconds)));
  w.set("loupe.train.machine", GgufValue::from_string(info.machine));
  w.set("loupe.train.seed", GgufValue::from_u64(info.seed));
  w.set("loupe.train.train_loss", GgufValue::from_f32(info.train_loss));
  w.set("loupe.train.val_loss", GgufValue::from_f32(info.val_loss));
  w.set("loupe.train.val_perplexity", GgufValue::from_f32(std::exp(info.val_loss)));
  w.set("loupe.train.parameters", GgufValue::from_u64(info.parameters));

  w.set(arch + ".block_count", GgufValue::from_u32(uint32_t(c.n_layers)));
  w.set(arch + ".context_length", GgufValue::from_u32(uint32_t(c.context_length)));
  w.set(arch + ".embedding_length", GgufValue::from_u32(uint32_t(c.dim)));
  w.set(arch + ".feed_forward_length", GgufValue::from_u32(uint32_t(c.ff_dim)));
  w.set(arch + ".attention.head_count", GgufValue::from_u32(uint32_t(c.n_heads)));
  w.set(arch + ".attention.head_count_kv", GgufValue::from_u32(uint32_t(c.n_kv_heads)));
  if (gpt2) {
    w.set(arch + ".attention.layer_norm_epsilon", GgufValue::from_f32(c.norm_eps));
  } else {
    w.set(arch + ".attention.layer_norm_rms_epsilon", GgufValue::from_f32(c.norm_eps));
    w.set(arch + ".rope.freq_base", GgufValue::from_f32(c.rope_base));
    w.set(arch + ".rope.dimension_count", GgufValue::from_u32(uint32_t(c.rope_dims)));
    w.set(arch + ".vocab_size", GgufValue::from_u32(uint32_t(c.vocab_size)));
  }

  // Tokenizer: GPT-2 style byte-level BPE.
  std::vector<std::string> merges(tok.merge_ranks.size());
  for (const auto& [pair, rank_id] : tok.merge_ranks)
    merges.at(size_t(rank_id.first)) =
        tok.tokens[size_t(pair >> 32)] + " " + tok.tokens[size_t(uint32_t(pair & 0xFFFFFFFFu))];
  std::vector<int32_t> types;
  for (TokenType t : tok.types) types.push_back(int32_t(t));
  w.set("tokenizer.ggml.model", GgufValue::from_string("gpt2"));
  w.set("tokenizer.ggml.pre", GgufValue::from_string("gpt-2"));
  w.set("tokenizer.ggml.tokens", GgufValue::from_strings(tok.tokens));
  w.set("tokenizer.ggml.token_type", GgufValue::from_i32s(types));
  w.set("tokenizer.ggml.merges", GgufValue::from_strings(merges));
  if (tok.bos_id >= 0) w.set("tokenizer.ggml.bos_token_id", GgufValue::from_u32(uint32_t(tok.bos_id)));
  if (tok.eos_id >= 0) w.set("tokenizer.ggml.eos_token_id", GgufValue::from_u32(uint32_t(tok.eos_id)));
  w.set("tokenizer.ggml.add_bos_token", GgufValue::from_bool(false));

  // Tensors: a matrix of `out` rows of `in` values has GGUF shape {in, out}.
  auto matrix = [&](const std::string& name, const std::vector<float>& v, int in, int out) {
    if (v.size() != size_t(in) * size_t(out)) fail("export_gguf: " + name + " has the wrong size");
    const TensorType t = in % type_info(type).block_size == 0 ? type : TensorType::F32;
    w.add_tensor_f32(name, t, {in, out}, v);
  };
  auto vec = [&](const std::string& name, const std::vector<float>& v) {
    w.add_tensor_f32(name, TensorType::F32, {int64_t(v.size())}, v);
  };
  const int dim = c.dim, q_dim = c.n_heads * c.head_dim, kv_dim = c.n_kv_heads * c.head_dim, ff = c.ff_dim;
  matrix("token_embd.weight", p.token_embedding, dim, c.vocab_size);
  if (gpt2) matrix("position_embd.weight", p.position_embedding, dim, c.context_length);
  for (int l = 0; l < c.n_layers; ++l) {
    const grad::LayerParameters<float>& lp = p.layers[size_t(l)];
    const std::string b = "blk." + std::to_string(l) + ".";
    vec(b + "attn_norm.weight", lp.attn_norm);
    if (gpt2) {
      vec(b + "attn_norm.bias", lp.attn_norm_bias);
      matrix(b + "attn_qkv.weight", lp.wqkv, dim, 3 * dim);
      vec(b + "attn_qkv.bias", lp.bqkv);
      matrix(b + "attn_output.weight", lp.wo, dim, dim);
      vec(b + "attn_output.bias", lp.bo);
      vec(b + "ffn_norm.weight", lp.ffn_norm);
      vec(b + "ffn_norm.bias", lp.ffn_norm_bias);
      matrix(b + "ffn_up.weight", lp.w_up, dim, ff);
      vec(b + "ffn_up.bias", lp.b_up);
      matrix(b + "ffn_down.weight", lp.w_down, ff, dim);
      vec(b + "ffn_down.bias", lp.b_down);
    } else {
      matrix(b + "attn_q.weight", lp.wq, dim, q_dim);
      matrix(b + "attn_k.weight", lp.wk, dim, kv_dim);
      matrix(b + "attn_v.weight", lp.wv, dim, kv_dim);
      matrix(b + "attn_output.weight", lp.wo, q_dim, dim);
      vec(b + "ffn_norm.weight", lp.ffn_norm);
      matrix(b + "ffn_gate.weight", lp.w_gate, dim, ff);
      matrix(b + "ffn_up.weight", lp.w_up, dim, ff);
      matrix(b + "ffn_down.weight", lp.w_down, ff, dim);
    }
  }
  vec("output_norm.weight", p.output_norm);
  if (gpt2) vec("output_norm.bias", p.output_norm_bias);
  if (!p.output.empty()) matrix("output.weight", p.output, dim, c.vocab_size);
  return w.to_bytes();
}

// The trainer's tokenizer file: {"tokens": [...], "types": [...], "merges": [[a, b], ...]}.
std::string tokenizer_to_json(const Tokenizer& tok) {
  std::vector<std::pair<std::string, std::string>> merges(tok.merge_ranks.size());
  for (const auto& [pair, rank_id] : tok.merge_ranks)
    merges.at(size_t(rank_id.first)) = {tok.tokens[size_t(pair >> 32)], tok.tokens[size_t(uint32_t(pair & 0xFFFFFFFFu))]};
  std::vector<int> types;
  for (TokenType t : tok.types) types.push_back(int(t));
  nlohmann::json j{{"tokens", tok.tokens}, {"types", types}, {"merges", merges}, {"eos_id", tok.eos_id},
                   {"bos_id", tok.bos_id}};
  return j.dump();
}

Tokenizer tokenizer_from_json(const std::string& text) {
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    std::vector<TokenType> types;
    for (int t : j.at("types").get<std::vector<int>>()) types.push_back(TokenType(t));
    Tokenizer tok = make_tokenizer(TokenizerModel::BYTE_BPE, PreTokenizer::GPT2,
                                   j.at("tokens").get<std::vector<std::string>>(),
                                   j.at("merges").get<std::vector<std::pair<std::string, std::string>>>(), {}, types);
    tok.pre_name = "gpt-2";
    tok.eos_id = j.at("eos_id").get<int32_t>();
    tok.bos_id = j.at("bos_id").get<int32_t>();
    return tok;
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("tokenizer file is malformed: ") + e.what());
  }
}

}  // namespace loupe::train
