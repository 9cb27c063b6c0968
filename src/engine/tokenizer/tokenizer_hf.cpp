// A tokenizer from Hugging Face's tokenizer.json (+ tokenizer_config.json). Only BPE models
// are read, in the two flavours the supported families use:
//   byte-level: a ByteLevel pre-tokenizer/decoder; the word-splitting regex is recognised
//     (GPT-2, Llama 3, Qwen2, or SmolLM's Digits(individual) + ByteLevel);
//   SentencePiece-style: "▁" for spaces (Replace normalizer or Metaspace), byte_fallback.
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace loupe {

namespace {

using nlohmann::json;

json parse_json(std::string_view text, const char* what) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) fail(std::string(what) + " is not valid JSON");
  if (!j.is_object()) fail(std::string(what) + " is not a JSON object");
  return j;
}

// Calls f on `node` and every object nested in it (pre-tokenizer Sequences and the like).
template <typename F>
void visit_objects(const json& node, F&& f) {
  if (node.is_object()) {
    f(node);
    for (const auto& [key, value] : node.items()) visit_objects(value, f);
  } else if (node.is_array()) {
    for (const auto& value : node) visit_objects(value, f);
  }
}

std::string string_field(const json& obj, const char* key) {
  auto it = obj.find(key);
  return (it != obj.end() && it->is_string()) ? it->get<std::string>() : std::string();
}

bool bool_field(const json& obj, const char* key, bool fallback) {
  auto it = obj.find(key);
  return (it != obj.end() && it->is_boolean()) ? it->get<bool>() : fallback;
}

bool has_type(const json& node, const char* type) {
  bool found = false;
  visit_objects(node, [&](const json& o) { found = found || string_field(o, "type") == type; });
  return found;
}

// A Split pre-tokenizer's regex; "" when there is none.
std::string split_regex(const json& pre) {
  std::string regex;
  visit_objects(pre, [&](const json& o) {
    if (string_field(o, "type") != "Split" || !regex.empty()) return;
    auto p = o.find("pattern");
    if (p != o.end() && p->is_object()) regex = string_field(*p, "Regex");
  });
  return regex;
}

constexpr const char* kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

PreTokenizer detect_pre_tokenizer(const json& pre, std::string& name) {
  const std::string regex = split_regex(pre);
  bool individual_digits = false;
  visit_objects(pre, [&](const json& o) {
    if (string_field(o, "type") == "Digits" && bool_field(o, "individual_digits", false))
      individual_digits = true;
  });
  if (!regex.empty()) {
    const bool contractions_ci = regex.find("(?i:'s") != std::string::npos;
    if (contractions_ci && regex.find(R"(\p{N}{1,3})") != std::string::npos) {
      name = "llama-bpe";
      return PreTokenizer::LLAMA3;
    }
    if (contractions_ci && regex.find(R"(|\p{N}|)") != std::string::npos) {
      name = "qwen2";
      return PreTokenizer::QWEN2;
    }
    if (regex == kGpt2Regex) {
      name = individual_digits ? "smollm" : "gpt-2";
      return individual_digits ? PreTokenizer::SMOLLM : PreTokenizer::GPT2;
    }
    fail("tokenizer.json: unsupported pre-tokenizer regex " + regex);
  }
  name = individual_digits ? "smollm" : "gpt-2";
  return individual_digits ? PreTokenizer::SMOLLM : PreTokenizer::GPT2;
}

// "<s>" or {"content": "<s>", ...} -> "<s>"
std::string token_text(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object()) return string_field(value, "content");
  return "";
}

}  // namespace

namespace {

Tokenizer from_hf_json(std::string_view tokenizer_json, std::string_view tokenizer_config_json) {
  const json j = parse_json(tokenizer_json, "tokenizer.json");
  const json config = tokenizer_config_json.empty() ? json::object()
                                                    : parse_json(tokenizer_config_json, "tokenizer_config.json");
  auto model_it = j.find("model");
  if (model_it == j.end() || !model_it->is_object()) fail("tokenizer.json has no \"model\"");
  const json& model = *model_it;
  const std::string model_type = string_field(model, "type");
  if (!model_type.empty() && model_type != "BPE")
    fail("unsupported tokenizer.json model '" + model_type + "': Loupe reads BPE tokenizers");
  auto vocab_it = model.find("vocab");
  if (vocab_it == model.end() || !vocab_it->is_object() || vocab_it->empty())
    fail("tokenizer.json: model.vocab is missing or empty");

  // --- the vocabulary: model.vocab plus added_tokens, placed by id -----------------------
  struct Entry { std::string text; TokenType type; };
  std::vector<std::pair<int64_t, Entry>> entries;
  for (const auto& [text, id] : vocab_it->items()) {
    if (!id.is_number_integer()) fail("tokenizer.json: the id of '" + text + "' is not an integer");
    entries.push_back({id.get<int64_t>(), {text, TokenType::NORMAL}});
  }
  auto add_special = [&](int64_t id, const std::string& text, bool special) {
    entries.push_back({id, {text, special ? TokenType::CONTROL : TokenType::USER_DEFINED}});
  };
  if (auto added = j.find("added_tokens"); added != j.end() && added->is_array())
    for (const json& a : *added)
      if (a.is_object() && a.contains("id") && a["id"].is_number_integer())
        add_special(a["id"].get<int64_t>(), string_field(a, "content"), bool_field(a, "special", false));
  if (auto added = config.find("added_tokens_decoder"); added != config.end() && added->is_object())
    for (const auto& [key, a] : added->items()) {
      char* end = nullptr;
      const long long id = std::strtoll(key.c_str(), &end, 10);
      if (end != key.c_str() && a.is_object())
        add_special(id, string_field(a, "content"), bool_field(a, "special", false));
    }
  int64_t max_id = -1;
  for (const auto& [id, e] : entries) {
    if (id < 0) fail("tokenizer.json: negative token id " + std::to_string(id));
    max_id = std::max(max_id, id);
  }
  if (max_id >= static_cast<int64_t>(entries.size()) * 2 + 1024)
    fail("tokenizer.json: token id " + std::to_string(max_id) + " is far beyond the vocabulary's size");
  std::vector<std::string> tokens(static_cast<size_t>(max_id + 1));
  std::vector<TokenType> types(tokens.size(), TokenType::UNUSED);  // ids nobody named
  for (auto& [id, e] : entries) {  // added tokens come last and win
    tokens[id] = std::move(e.text);
    types[id] = e.type;
  }

  // --- merges: "a b" strings or ["a", "b"] pairs -------------------------------------------
  std::vector<std::pair<std::string, std::string>> merges;
  if (auto m = model.find("merges"); m != model.end() && m->is_array()) {
    merges.reserve(m->size());
    for (const json& merge : *m) {
      if (merge.is_string()) {
        const std::string s = merge.get<std::string>();
        const size_t space = s.find(' ', 1);
        if (space == std::string::npos) fail("tokenizer.json: malformed merge '" + s + "'");
        merges.emplace_back(s.substr(0, space), s.substr(space + 1));
      } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
        merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
      } else {
        fail("tokenizer.json: malformed merge " + merge.dump());
      }
    }
  }

  // --- which flavour ------------------------------------------------------------------------
  const json null_json;
  auto section = [&](const char* key) -> const json& {
    auto it = j.find(key);
    return it != j.end() ? *it : null_json;
  };
  const json& pre = section("pre_tokenizer");
  const json& normalizer = section("normalizer");
  const json& decoder = section("decoder");
  const bool byte_level = has_type(pre, "ByteLevel") || has_type(decoder, "ByteLevel");
  bool metaspace = has_type(pre, "Metaspace") || has_type(decoder, "Metaspace");
  bool replaces_space = false, prepends = false;
  visit_objects(normalizer, [&](const json& o) {
    const std::string type = string_field(o, "type");
    if (type == "Replace" && o.contains("pattern") && o["pattern"].is_object() &&
        string_field(o["pattern"], "String") == " " && string_field(o, "content") == "\xE2\x96\x81")
      replaces_space = true;
    if (type == "Prepend" && string_field(o, "prepend") == "\xE2\x96\x81") prepends = true;
  });
  visit_objects(pre, [&](const json& o) {
    if (string_field(o, "type") != "Metaspace") return;
    const std::string scheme = string_field(o, "prepend_scheme");
    if (bool_field(o, "add_prefix_space", false) || scheme == "first" || scheme == "always") prepends = true;
  });

  TokenizerModel kind;
  PreTokenizer pre_kind = PreTokenizer::NONE;
  std::string pre_name;
  if (byte_level) {
    kind = TokenizerModel::BYTE_BPE;
    pre_kind = detect_pre_tokenizer(pre, pre_name);
    if (merges.empty()) fail("tokenizer.json: a byte-level BPE model without merges");
  } else if (replaces_space || metaspace) {
    kind = TokenizerModel::SPM;
    pre_name = "sentencepiece";
    if (!bool_field(model, "byte_fallback", false))
      fail("tokenizer.json: SentencePiece-style BPE without byte_fallback is not supported");
    for (size_t i = 0; i < tokens.size(); i++)
      if (types[i] == TokenType::NORMAL && tokens[i].size() == 6 && tokens[i].rfind("<0x", 0) == 0)
        types[i] = TokenType::BYTE;
    if (merges.empty()) fail("tokenizer.json: a BPE model without merges");
  } else {
    fail("unsupported tokenizer.json: neither byte-level BPE nor SentencePiece-style BPE");
  }
  const std::string unk = string_field(model, "unk_token");
  if (!unk.empty())
    for (size_t i = 0; i < tokens.size(); i++)
      if (tokens[i] == unk) types[i] = TokenType::UNKNOWN;

  Tokenizer t = make_tokenizer(kind, pre_kind, std::move(tokens), merges, {}, std::move(types));
  t.pre_name = pre_name;
  t.ignore_merges = bool_field(model, "ignore_merges", false);
  t.add_space_prefix = kind == TokenizerModel::SPM && prepends;

  // --- special ids, from the config, else from the post-processor, else by name -----------
  auto id_of = [&](const std::string& text) -> int32_t {
    if (text.empty()) return -1;
    auto it = t.token_to_id.find(text);
    return it != t.token_to_id.end() ? it->second : -1;
  };
  auto config_token = [&](const char* key) {
    auto it = config.find(key);
    return it != config.end() ? id_of(token_text(*it)) : -1;
  };
  auto first_known = [&](std::initializer_list<const char*> names) {
    for (const char* name : names)
      if (int32_t id = id_of(name); id >= 0) return id;
    return -1;
  };
  // TemplateProcessing: {"single": [{"SpecialToken": {"id": "<s>"}}, {"Sequence": ...}]}
  std::string post_bos;
  if (auto post = j.find("post_processor"); post != j.end())
    visit_objects(*post, [&](const json& o) {
      auto single = o.find("single");
      if (string_field(o, "type") != "TemplateProcessing" || single == o.end() || !single->is_array() ||
          single->empty() || !(*single)[0].is_object())
        return;
      auto st = (*single)[0].find("SpecialToken");
      if (st != (*single)[0].end() && st->is_object()) post_bos = string_field(*st, "id");
    });

  t.bos_id = config_token("bos_token");
  if (t.bos_id < 0) t.bos_id = id_of(post_bos);
  if (t.bos_id < 0) t.bos_id = first_known({"<s>", "<|begin_of_text|>", "<|endoftext|>"});
  t.eos_id = config_token("eos_token");
  if (t.eos_id < 0) t.eos_id = first_known({"</s>", "<|end_of_text|>", "<|endoftext|>", "<|im_end|>"});
  t.unk_id = config_token("unk_token");
  if (t.unk_id < 0) t.unk_id = id_of(unk);
  t.pad_id = config_token("pad_token");
  const bool bos_by_post = !post_bos.empty() && id_of(post_bos) == t.bos_id && t.bos_id >= 0;
  t.add_bos = bool_field(config, "add_bos_token", bos_by_post);
  t.add_eos = bool_field(config, "add_eos_token", false);

  if (auto ct = config.find("chat_template"); ct != config.end()) {
    if (ct->is_string()) {
      t.chat_template = ct->get<std::string>();
    } else if (ct->is_array()) {  // [{"name": "default", "template": "..."}, ...]
      for (const json& entry : *ct)
        if (entry.is_object() && (t.chat_template.empty() || string_field(entry, "name") == "default"))
          t.chat_template = string_field(entry, "template");
    }
  }
  return t;
}

}  // namespace

Tokenizer tokenizer_from_hf_json(std::string_view tokenizer_json, std::string_view tokenizer_config_json) {
  try {
    return from_hf_json(tokenizer_json, tokenizer_config_json);
  } catch (const nlohmann::json::exception& e) {  // a value of an unexpected type somewhere
    fail(std::string("tokenizer.json: ") + e.what());
  }
}

}  // namespace loupe
