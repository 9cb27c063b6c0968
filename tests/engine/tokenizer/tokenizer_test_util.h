// Small hand-made vocabularies for the tokenizer tests.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace loupe::test {

// GPT-2's printable character for byte b (the inverse of what token_to_bytes undoes).
inline std::string byte_char(int b) {
  const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
  uint32_t cp = static_cast<uint32_t>(b);
  if (!printable) {
    cp = 256;
    for (int x = 0; x < b; x++)
      if (!((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE))) cp++;
  }
  std::string s;
  unicode::append_utf8(s, cp);
  return s;
}

// Byte-level BPE: ids 0..255 are the bytes (id == byte value), then the merged tokens
// 256 "he", 257 "Ġt", 258 "Ġthe", 259 "er", 260 "aa", then any `extra` tokens.
inline Tokenizer tiny_byte_bpe(PreTokenizer pre = PreTokenizer::GPT2,
                               std::vector<std::pair<std::string, TokenType>> extra = {}) {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; b++) tokens.push_back(byte_char(b));
  std::vector<std::pair<std::string, std::string>> merges = {
      {"h", "e"}, {"Ġ", "t"}, {"Ġt", "he"}, {"e", "r"}, {"a", "a"}};
  for (const auto& [a, b] : merges) tokens.push_back(a + b);
  std::vector<TokenType> types(tokens.size(), TokenType::NORMAL);
  for (const auto& [text, type] : extra) {
    tokens.push_back(text);
    types.push_back(type);
  }
  return make_tokenizer(TokenizerModel::BYTE_BPE, pre, tokens, merges, {}, types);
}

// SentencePiece: 0 <unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF>, then pieces with scores.
inline constexpr int kSpmFirstPiece = 259;
inline Tokenizer tiny_spm() {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<float> scores = {0, 0, 0};
  std::vector<TokenType> types = {TokenType::UNKNOWN, TokenType::CONTROL, TokenType::CONTROL};
  for (int b = 0; b < 256; b++) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    tokens.push_back(buf);
    scores.push_back(0);
    types.push_back(TokenType::BYTE);
  }
  // 259 ▁, 260 a, 261 b, 262 c, 263 ab, 264 ▁ab, 265 bc, 266 ▁▁
  const std::vector<std::pair<std::string, float>> pieces = {
      {"\xE2\x96\x81", -1}, {"a", -2}, {"b", -3}, {"c", -4}, {"ab", -5},
      {"\xE2\x96\x81" "ab", -6}, {"bc", -0.5f}, {"\xE2\x96\x81\xE2\x96\x81", -7}};
  for (const auto& [p, s] : pieces) {
    tokens.push_back(p);
    scores.push_back(s);
    types.push_back(TokenType::NORMAL);
  }
  Tokenizer t = make_tokenizer(TokenizerModel::SPM, PreTokenizer::NONE, tokens, {}, scores, types);
  t.bos_id = 1;
  t.eos_id = 2;
  t.unk_id = 0;
  t.add_bos = true;
  t.add_space_prefix = true;
  return t;
}

}  // namespace loupe::test
