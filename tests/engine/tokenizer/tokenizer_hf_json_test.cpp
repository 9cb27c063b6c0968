// tokenizer.json (+ tokenizer_config.json) parsing, both BPE flavours, on small hand-written files.
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace loupe {
namespace {

using nlohmann::json;
using Ids = std::vector<int32_t>;

// A byte-level tokenizer.json: the 256 byte characters, "he", "Ġt", "Ġthe", special tokens.
json byte_level_json(const json& pre_tokenizer, bool merges_as_pairs) {
  json vocab = json::object();
  for (int b = 0; b < 256; b++) vocab[test::byte_char(b)] = b;
  vocab["he"] = 256;
  vocab["Ġt"] = 257;
  vocab["Ġthe"] = 258;
  json merges = merges_as_pairs ? json::parse(R"([["h","e"],["Ġ","t"],["Ġt","he"]])")
                                : json::parse(R"(["h e","Ġ t","Ġt he"])");
  return {{"version", "1.0"},
          {"added_tokens", json::parse(R"([{"id": 259, "content": "<|im_start|>", "special": true},
                                           {"id": 260, "content": "<|im_end|>", "special": true},
                                           {"id": 261, "content": "<|endoftext|>", "special": true}])")},
          {"normalizer", nullptr},
          {"pre_tokenizer", pre_tokenizer},
          {"post_processor", json::parse(R"({"type": "ByteLevel", "add_prefix_space": true})")},
          {"decoder", json::parse(R"({"type": "ByteLevel"})")},
          {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}};
}

json split_then_byte_level(const std::string& regex) {
  return {{"type", "Sequence"},
          {"pretokenizers",
           {{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}},
            {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
}

TEST(HfJsonTokenizer, Gpt2ByteLevel) {
  const json pre = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  const Tokenizer t = tokenizer_from_hf_json(byte_level_json(pre, false).dump(), "");
  EXPECT_EQ(t.model, TokenizerModel::BYTE_BPE);
  EXPECT_EQ(t.pre, PreTokenizer::GPT2);
  EXPECT_EQ(t.n_vocab(), 262);
  EXPECT_EQ(encode(t, "the the", false), (Ids{'t', 256, 258}));
  EXPECT_EQ(encode(t, "<|im_start|>the", false), (Ids{259, 't', 256}));
  EXPECT_EQ(t.types[259], TokenType::CONTROL);
  EXPECT_EQ(t.bos_id, 261);  // <|endoftext|>, found by name
  EXPECT_EQ(t.eos_id, 261);
  EXPECT_FALSE(t.add_bos);
}

TEST(HfJsonTokenizer, RecognisesLlama3Qwen2AndSmolLM) {
  const std::string llama3 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  const std::string qwen2 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  json j = byte_level_json(split_then_byte_level(llama3), true);
  j["model"]["ignore_merges"] = true;
  j["post_processor"] = json::parse(R"({"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]})");
  Tokenizer t = tokenizer_from_hf_json(j.dump(), "");
  EXPECT_EQ(t.pre, PreTokenizer::LLAMA3);
  EXPECT_TRUE(t.ignore_merges);
  EXPECT_TRUE(t.add_bos);  // from the TemplateProcessing post-processor
  EXPECT_EQ(encode(t, "the", true), (Ids{261, 't', 256}));

  t = tokenizer_from_hf_json(byte_level_json(split_then_byte_level(qwen2), false).dump(), "");
  EXPECT_EQ(t.pre, PreTokenizer::QWEN2);

  const json smollm = {{"type", "Sequence"},
                       {"pretokenizers",
                        {{{"type", "Digits"}, {"individual_digits", true}},
                         {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}}}};
  t = tokenizer_from_hf_json(byte_level_json(smollm, false).dump(), "");
  EXPECT_EQ(t.pre, PreTokenizer::SMOLLM);
  EXPECT_EQ(encode(t, "12", false), (Ids{'1', '2'}));

  EXPECT_THROW(tokenizer_from_hf_json(byte_level_json(split_then_byte_level("\\w+"), false).dump(), ""), Error);
}

TEST(HfJsonTokenizer, ConfigGivesSpecialsAndChatTemplate) {
  const json pre = {{"type", "ByteLevel"}};
  const std::string config = R"({"bos_token": {"content": "<|im_start|>"}, "eos_token": "<|im_end|>",
      "add_bos_token": false, "chat_template": "{% for m in messages %}<|im_start|>...{% endfor %}"})";
  const Tokenizer t = tokenizer_from_hf_json(byte_level_json(pre, false).dump(), config);
  EXPECT_EQ(t.bos_id, 259);
  EXPECT_EQ(t.eos_id, 260);
  EXPECT_EQ(detect_chat_template(t), ChatTemplateKind::CHATML);
}

// SentencePiece-style: Prepend/Replace normalizer, byte_fallback, merges by rank.
json spm_json(bool metaspace) {
  json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (int b = 0; b < 256; b++) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    vocab[buf] = 3 + b;
  }
  vocab["▁"] = 259;
  vocab["a"] = 260;
  vocab["b"] = 261;
  vocab["ab"] = 262;
  vocab["▁ab"] = 263;
  json j = {{"added_tokens", json::parse(R"([{"id": 0, "content": "<unk>", "special": true},
                                              {"id": 1, "content": "<s>", "special": true},
                                              {"id": 2, "content": "</s>", "special": true}])")},
            {"post_processor", json::parse(R"({"type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]})")},
            {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"a b", "▁ ab"}},
                       {"byte_fallback", true}, {"unk_token", "<unk>"}}}};
  if (metaspace) {
    j["normalizer"] = nullptr;
    j["pre_tokenizer"] = json::parse(R"({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false})");
  } else {
    j["normalizer"] = json::parse(R"({"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "▁"},
        {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]})");
    j["pre_tokenizer"] = nullptr;
  }
  return j;
}

TEST(HfJsonTokenizer, SentencePieceStyleBpe) {
  for (bool metaspace : {false, true}) {
    const Tokenizer t = tokenizer_from_hf_json(spm_json(metaspace).dump(), "");
    EXPECT_EQ(t.model, TokenizerModel::SPM);
    EXPECT_TRUE(t.add_space_prefix);
    EXPECT_TRUE(t.add_bos);
    EXPECT_EQ(t.bos_id, 1);
    EXPECT_EQ(t.eos_id, 2);
    EXPECT_EQ(t.unk_id, 0);
    EXPECT_EQ(t.types[3 + 0x41], TokenType::BYTE);
    EXPECT_EQ(encode(t, "ab", true), (Ids{1, 263}));
    // "▁ab▁é": é has no piece: its bytes.
    EXPECT_EQ(encode(t, "ab é", false), (Ids{263, 259, 3 + 0xC3, 3 + 0xA9}));
    EXPECT_EQ(decode(t, encode(t, "ab é", true)), "ab é");
  }
}

TEST(HfJsonTokenizer, BrokenFilesGiveClearErrors) {
  for (const char* text : {"", "{", "[]", "{\"model\": 3}", R"({"model": {"type": "WordPiece", "vocab": {"a": 0}}})",
                           R"({"model": {"type": "BPE", "vocab": {}}})",
                           R"({"model": {"type": "BPE", "vocab": {"a": -1}}})",
                           R"({"model": {"type": "BPE", "vocab": {"a": 2000000000}}})",
                           R"({"model": {"type": "BPE", "vocab": {"a": "x"}}})",
                           R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [3]}, "decoder": {"type": "ByteLevel"}})",
                           R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}})"}) {
    EXPECT_THROW(tokenizer_from_hf_json(text, ""), Error) << text;
  }
  const json pre = {{"type", "ByteLevel"}};
  EXPECT_THROW(tokenizer_from_hf_json(byte_level_json(pre, false).dump(), "{oops"), Error);
}

}  // namespace
}  // namespace loupe
