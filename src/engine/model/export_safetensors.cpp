// A loaded model written back as a Hugging Face folder (F32 safetensors + config.json +
// tokenizer.json), undoing the two layout changes llama.cpp's converter makes: Llama q/k
// rows re-ordered for adjacent-pair RoPE, and GPT-2's Conv1D weights stored transposed.
// loupe-cli to-safetensors writes it; the tests read it back and compare logits.
#include "model/export_safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "core/tensor_types.h"
#include "formats/safetensors.h"
#include "kernels/matmul.h"

namespace loupe {
namespace {


// Packed matrices (kernels/packed.h) are read back row by row.
std::vector<float> dequantized(const TensorView& t) { return dequantize_rows(t); }

std::span<const uint8_t> as_bytes(const std::vector<float>& v) {
  return {reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(float)};
}

// GGUF's Llama q/k rows interleave each head's two halves; Hugging Face keeps them apart.
std::vector<float> unpermute_rows(const std::vector<float>& w, int n_heads, int head_dim, int row_length) {
  std::vector<float> out(w.size());
  for (int h = 0; h < n_heads; ++h)
    for (int i = 0; i < head_dim / 2; ++i)
      for (int j = 0; j < 2; ++j) {
        const size_t from = size_t(h * head_dim + 2 * i + j) * row_length;
        const size_t to = size_t(h * head_dim + j * head_dim / 2 + i) * row_length;
        std::copy(w.begin() + ptrdiff_t(from), w.begin() + ptrdiff_t(from + row_length), out.begin() + ptrdiff_t(to));
      }
  return out;
}

std::vector<float> transpose(const std::vector<float>& w, int64_t rows, int64_t cols) {
  std::vector<float> out(w.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[size_t(c * rows + r)] = w[size_t(r * cols + c)];
  return out;
}

nlohmann::json tokenizer_json(const Tokenizer& tok) {
  nlohmann::json vocab = nlohmann::json::object();
  for (int32_t id = 0; id < tok.n_vocab(); ++id) vocab[tok.tokens[size_t(id)]] = id;
  std::vector<std::string> merges(tok.merge_ranks.size());
  for (const auto& [pair, rank_and_id] : tok.merge_ranks)
    merges[size_t(rank_and_id.first)] = tok.tokens[size_t(pair >> 32)] + " " + tok.tokens[size_t(pair & 0xffffffffu)];
  if (tok.model == TokenizerModel::SPM) {
    // SentencePiece vocabularies have scores, not merges: as Hugging Face's converter
    // does, list every split of a piece into two pieces, best-scoring result first.
    std::vector<std::pair<float, std::string>> scored;
    for (int32_t id = 0; id < tok.n_vocab(); ++id) {
      if (tok.types[size_t(id)] != TokenType::NORMAL) continue;
      const std::string& piece = tok.tokens[size_t(id)];
      for (size_t cut = 1; cut < piece.size(); ++cut) {
        const std::string left = piece.substr(0, cut), right = piece.substr(cut);
        if (tok.token_to_id.count(left) && tok.token_to_id.count(right))
          scored.push_back({tok.scores[size_t(id)], left + " " + right});
      }
    }
    std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (auto& [score, merge] : scored) merges.push_back(merge);
  }
  nlohmann::json added = nlohmann::json::array();
  for (int32_t id = 0; id < tok.n_vocab(); ++id)
    if (tok.types[size_t(id)] == TokenType::CONTROL)
      added.push_back({{"id", id}, {"content", tok.tokens[size_t(id)]}, {"special", true}});
  nlohmann::json j;
  j["added_tokens"] = added;
  if (tok.model == TokenizerModel::SPM) {
    j["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "Prepend"}, {"prepend", "\u2581"}},
                                                              {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}}}}};
    j["model"] = {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}, {"byte_fallback", true}, {"unk_token", "<unk>"}};
  } else {
    j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
    j["decoder"] = {{"type", "ByteLevel"}};
    j["model"] = {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}};
  }
  return j;
}

}  // namespace

HuggingFaceFiles to_hugging_face(const Model& model) {
  const ModelConfig& c = model.config;
  const ModelWeights& w = model.weights;
  SafetensorsWriter writer;
  auto add = [&](const std::string& name, const std::vector<float>& values, std::vector<int64_t> shape) {
    writer.add_tensor(name, TensorType::F32, std::move(shape), as_bytes(values));
  };
  auto add_view = [&](const std::string& name, const TensorView& t) {
    if (t.rows() == 1) add(name, dequantized(t), {t.shape[0]});
    else add(name, dequantized(t), {t.rows(), t.shape[0]});
  };
  nlohmann::json config;
  if (c.arch == Architecture::Gpt2) {
    config = {{"model_type", "gpt2"}, {"n_embd", c.dim}, {"n_layer", c.n_layers}, {"n_head", c.n_heads},
              {"n_positions", c.context_length}, {"n_inner", c.ff_dim}, {"layer_norm_epsilon", c.norm_eps},
              {"vocab_size", c.vocab_size}};
    add_view("wte.weight", w.token_embedding);
    add_view("wpe.weight", w.position_embedding);
    add_view("ln_f.weight", w.output_norm);
    add_view("ln_f.bias", w.output_norm_bias);
    if (!c.tied_output) add_view("lm_head.weight", w.output);
    auto conv1d = [&](const std::string& name, const TensorView& t) {  // stored [in][out]
      add(name, transpose(dequantized(t), t.rows(), t.shape[0]), {t.shape[0], t.rows()});
    };
    for (int i = 0; i < c.n_layers; ++i) {
      const LayerWeights& l = w.layers[size_t(i)];
      const std::string p = "h." + std::to_string(i) + ".";
      add_view(p + "ln_1.weight", l.attn_norm);
      add_view(p + "ln_1.bias", l.attn_norm_bias);
      conv1d(p + "attn.c_attn.weight", l.wqkv);
      add_view(p + "attn.c_attn.bias", l.bqkv);
      conv1d(p + "attn.c_proj.weight", l.wo);
      add_view(p + "attn.c_proj.bias", l.bo);
      add_view(p + "ln_2.weight", l.ffn_norm);
      add_view(p + "ln_2.bias", l.ffn_norm_bias);
      conv1d(p + "mlp.c_fc.weight", l.w_up);
      add_view(p + "mlp.c_fc.bias", l.b_up);
      conv1d(p + "mlp.c_proj.weight", l.w_down);
      add_view(p + "mlp.c_proj.bias", l.b_down);
    }
  } else {
    config = {{"model_type", "llama"}, {"hidden_size", c.dim}, {"num_hidden_layers", c.n_layers},
              {"num_attention_heads", c.n_heads}, {"num_key_value_heads", c.n_kv_heads},
              {"intermediate_size", c.ff_dim}, {"max_position_embeddings", c.context_length},
              {"rms_norm_eps", c.norm_eps}, {"rope_theta", c.rope_base}, {"vocab_size", c.vocab_size},
              {"tie_word_embeddings", c.tied_output}};
    add_view("model.embed_tokens.weight", w.token_embedding);
    add_view("model.norm.weight", w.output_norm);
    if (!c.tied_output) add_view("lm_head.weight", w.output);
    for (int i = 0; i < c.n_layers; ++i) {
      const LayerWeights& l = w.layers[size_t(i)];
      const std::string p = "model.layers." + std::to_string(i) + ".";
      add_view(p + "input_layernorm.weight", l.attn_norm);
      add(p + "self_attn.q_proj.weight", unpermute_rows(dequantized(l.wq), c.n_heads, c.head_dim, c.dim), {l.wq.rows(), c.dim});
      add(p + "self_attn.k_proj.weight", unpermute_rows(dequantized(l.wk), c.n_kv_heads, c.head_dim, c.dim), {l.wk.rows(), c.dim});
      add_view(p + "self_attn.v_proj.weight", l.wv);
      add_view(p + "self_attn.o_proj.weight", l.wo);
      add_view(p + "post_attention_layernorm.weight", l.ffn_norm);
      add_view(p + "mlp.gate_proj.weight", l.w_gate);
      add_view(p + "mlp.up_proj.weight", l.w_up);
      add_view(p + "mlp.down_proj.weight", l.w_down);
    }
  }
  HuggingFaceFiles files;
  files["model.safetensors"] = writer.to_bytes();
  const std::string config_text = config.dump(), tokenizer_text = tokenizer_json(model.tokenizer).dump();
  files["config.json"] = std::vector<uint8_t>(config_text.begin(), config_text.end());
  files["tokenizer.json"] = std::vector<uint8_t>(tokenizer_text.begin(), tokenizer_text.end());
  return files;
}


}  // namespace loupe
