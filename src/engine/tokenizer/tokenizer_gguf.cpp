// A tokenizer from GGUF metadata (the tokenizer.ggml.* keys llama.cpp's converter writes).
#include "core/error.h"
#include "formats/gguf.h"
#include "tokenizer/tokenizer.h"

namespace loupe {

namespace {

PreTokenizer pre_tokenizer_from_gguf_name(const std::string& name) {
  if (name.empty() || name == "default" || name == "gpt-2" || name == "gpt2") return PreTokenizer::GPT2;
  if (name == "llama-bpe" || name == "llama3" || name == "llama-v3" || name == "smaug-bpe")
    return PreTokenizer::LLAMA3;
  if (name == "qwen2") return PreTokenizer::QWEN2;
  if (name == "smollm") return PreTokenizer::SMOLLM;
  fail("unsupported pre-tokenizer '" + name +
       "' (tokenizer.ggml.pre): Loupe knows gpt-2, llama-bpe, qwen2 and smollm");
}

// A special-token id from the file, or -1 when missing or outside the vocabulary.
int32_t token_id(const GgufFile& gguf, const char* key, int32_t n_vocab) {
  const int64_t id = gguf.get_int(key, -1);
  return (id >= 0 && id < n_vocab) ? static_cast<int32_t>(id) : -1;
}

}  // namespace

Tokenizer tokenizer_from_gguf(const GgufFile& gguf) {
  const std::string model_name = gguf.get_string("tokenizer.ggml.model");
  if (model_name.empty()) fail("this GGUF file has no tokenizer (tokenizer.ggml.model is missing)");
  TokenizerModel model;
  if (model_name == "gpt2") model = TokenizerModel::BYTE_BPE;
  else if (model_name == "llama") model = TokenizerModel::SPM;
  else
    fail("unsupported tokenizer model '" + model_name +
         "' (tokenizer.ggml.model): Loupe reads 'gpt2' (byte-level BPE) and 'llama' (SentencePiece)");

  std::vector<std::string> tokens = gguf.get_strings("tokenizer.ggml.tokens");
  if (tokens.empty()) fail("this GGUF file has no vocabulary (tokenizer.ggml.tokens is missing or empty)");
  std::vector<float> scores = gguf.get_floats("tokenizer.ggml.scores");
  std::vector<TokenType> types;
  for (int32_t t : gguf.get_ints("tokenizer.ggml.token_type"))
    types.push_back(t >= 0 && t <= 6 ? static_cast<TokenType>(t) : TokenType::NORMAL);

  // Merges are "left right"; the left part may itself start with a space (search from 1).
  std::vector<std::pair<std::string, std::string>> merges;
  for (const std::string& m : gguf.get_strings("tokenizer.ggml.merges")) {
    const size_t space = m.find(' ', 1);
    if (space == std::string::npos) fail("tokenizer.ggml.merges: malformed merge '" + m + "'");
    merges.emplace_back(m.substr(0, space), m.substr(space + 1));
  }
  if (model == TokenizerModel::BYTE_BPE && merges.empty())
    fail("this GGUF file's byte-level BPE tokenizer has no merges (tokenizer.ggml.merges)");

  const std::string pre_name = gguf.get_string("tokenizer.ggml.pre", "default");
  const PreTokenizer pre =
      model == TokenizerModel::SPM ? PreTokenizer::NONE : pre_tokenizer_from_gguf_name(pre_name);
  // SentencePiece vocabularies are merged by score, not by the (rarely present) merge list.
  if (model == TokenizerModel::SPM && !scores.empty()) merges.clear();

  Tokenizer t = make_tokenizer(model, pre, std::move(tokens), merges, std::move(scores), std::move(types));
  t.pre_name = pre_name;
  t.ignore_merges = pre == PreTokenizer::LLAMA3;
  const int32_t n = t.n_vocab();
  t.bos_id = token_id(gguf, "tokenizer.ggml.bos_token_id", n);
  t.eos_id = token_id(gguf, "tokenizer.ggml.eos_token_id", n);
  t.unk_id = token_id(gguf, "tokenizer.ggml.unknown_token_id", n);
  t.pad_id = token_id(gguf, "tokenizer.ggml.padding_token_id", n);
  if (t.unk_id < 0 && model == TokenizerModel::SPM) {
    auto it = t.token_to_id.find("<unk>");
    if (it != t.token_to_id.end()) t.unk_id = it->second;
  }
  const bool spm = model == TokenizerModel::SPM;
  t.add_bos = gguf.get_bool("tokenizer.ggml.add_bos_token", spm);
  t.add_eos = gguf.get_bool("tokenizer.ggml.add_eos_token", false);
  t.add_space_prefix = gguf.get_bool("tokenizer.ggml.add_space_prefix", spm);
  t.chat_template = gguf.get_string("tokenizer.chat_template");
  return t;
}

}  // namespace loupe
