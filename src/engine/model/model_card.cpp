// model_card_json (see model_card.h).
#include "model/model_card.h"

namespace loupe {

static nlohmann::json tokenizer_summary(const Tokenizer& tokenizer) {
  nlohmann::json summary;
  summary["kind"] = tokenizer.model == TokenizerModel::SPM ? "sentencepiece-bpe" : "byte-level-bpe";
  summary["pre_tokenizer"] = tokenizer.pre_name;
  summary["vocab_size"] = tokenizer.n_vocab();
  summary["merges"] = tokenizer.merge_ranks.size();
  auto token_text = [&](int32_t id) { return id >= 0 && id < tokenizer.n_vocab() ? tokenizer.tokens[size_t(id)] : ""; };
  summary["bos"] = token_text(tokenizer.bos_id);
  summary["eos"] = token_text(tokenizer.eos_id);
  summary["add_bos"] = tokenizer.add_bos;
  summary["has_chat_template"] = !tokenizer.chat_template.empty();
  return summary;
}

nlohmann::json model_card_json(const Model& model) {
  const ModelConfig& c = model.config;
  const ModelInfo& info = model.info;
  nlohmann::json card;
  card["name"] = info.name;
  card["format"] = info.format;
  card["source"] = info.source;
  card["architecture"] = architecture_name(c.arch);
  card["parameters"] = info.parameter_count;
  card["file_bytes"] = info.file_bytes;
  card["layers"] = c.n_layers;
  card["dim"] = c.dim;
  card["heads"] = c.n_heads;
  card["kv_heads"] = c.n_kv_heads;
  card["head_dim"] = c.head_dim;
  card["ff_dim"] = c.ff_dim;
  card["vocab_size"] = c.vocab_size;
  card["context_length"] = c.context_length;
  card["tied_output"] = c.tied_output;
  card["kv_cache_bytes"] = kv_cache_bytes(c, c.context_length);
  if (c.arch != Architecture::Gpt2) {
    card["rope_base"] = c.rope_base;
    card["rope_style"] = c.rope_style == RopeStyle::Adjacent ? "adjacent" : "half-split";
  }
  card["tensor_types"] = info.tensor_type_counts;
  card["tokenizer"] = tokenizer_summary(model.tokenizer);
  for (const char* key : {"general.license", "general.author", "general.organization", "general.description",
                          "general.source.url", "general.datasets", "general.file_type"}) {
    auto it = info.metadata.find(key);
    if (it != info.metadata.end()) card[std::string(key).substr(8)] = it->second;
  }
  card["metadata"] = info.metadata;
  return card;
}

}  // namespace loupe
