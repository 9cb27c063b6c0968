// Byte-level BPE and SentencePiece on hand-made vocabularies: merges checked by hand,
// special tokens, round trips, streaming, hostile input.
#include <random>

#include "core/error.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
#include "tokenizer_test_util.h"

namespace loupe {
namespace {

using Ids = std::vector<int32_t>;
using test::kSpmFirstPiece;
using test::tiny_byte_bpe;
using test::tiny_spm;

TEST(BpeTokenizer, MergesByRankAsCheckedByHand) {
  const Tokenizer t = tiny_byte_bpe();
  // "the": t h e -> (h,e) rank 0 -> t he.  " there": Ġ t h e r e -> (h,e) -> (Ġ,t) -> (Ġt,he);
  // the queued (e,r) went stale when its e was merged, so r and e stay apart.
  EXPECT_EQ(encode(t, "the there", false), (Ids{'t', 256, 258, 'r', 'e'}));
  // "her": (h,e) rank 0 beats (e,r) rank 3, and "he"+"r" is no merge.
  EXPECT_EQ(encode(t, "her", false), (Ids{256, 'r'}));
}

TEST(BpeTokenizer, EqualRanksMergeLeftmostFirst) {
  const Tokenizer t = tiny_byte_bpe();
  EXPECT_EQ(encode(t, "aaa", false), (Ids{260, 'a'}));
  EXPECT_EQ(encode(t, "aaaa", false), (Ids{260, 260}));
}

TEST(BpeTokenizer, TokenToBytesUndoesTheByteMapping) {
  const Tokenizer t = tiny_byte_bpe();
  EXPECT_EQ(t.tokens[' '], "\xC4\xA0");  // Ġ
  EXPECT_EQ(token_to_bytes(t, ' '), " ");
  EXPECT_EQ(token_to_bytes(t, '\n'), "\n");
  EXPECT_EQ(token_to_bytes(t, 258), " the");
  EXPECT_EQ(token_to_bytes(t, 0xE4), "\xE4");
  EXPECT_EQ(token_to_bytes(t, -1), "");
  EXPECT_EQ(token_to_bytes(t, 100000), "");
}

TEST(BpeTokenizer, SpecialTokensAreMatchedWhole) {
  const Tokenizer t = tiny_byte_bpe(PreTokenizer::GPT2, {{"<|im_start|>", TokenType::CONTROL},
                                                         {"<|im_end|>", TokenType::CONTROL},
                                                         {"<tool>", TokenType::USER_DEFINED}});
  const int32_t start = 261, end = 262, tool = 263;
  EXPECT_EQ(encode(t, "<|im_start|>the<|im_end|>", false), (Ids{start, 't', 256, end}));
  // Without parse_special control tokens are plain text; user-defined ones still match.
  const Ids plain = encode(t, "<|im_start|><tool>", false, false);
  EXPECT_EQ(plain.size(), std::string("<|im_start|>").size() + 1);
  EXPECT_EQ(plain.back(), tool);
  EXPECT_EQ(decode(t, encode(t, "x<|im_end|>y", false)), "xy");  // control tokens not rendered
  EXPECT_EQ(decode(t, encode(t, "x<|im_end|>y", false), true), "x<|im_end|>y");
  EXPECT_EQ(decode(t, encode(t, "x<tool>y", false)), "x<tool>y");
}

TEST(BpeTokenizer, BosIsAddedOnlyWhenAskedAndKnown) {
  Tokenizer t = tiny_byte_bpe();
  EXPECT_EQ(encode(t, "a", true), (Ids{'a'}));  // no BOS in this vocabulary
  t.bos_id = 260;
  EXPECT_EQ(encode(t, "a", true), (Ids{260, 'a'}));
  EXPECT_EQ(encode(t, "", true), (Ids{260}));
  EXPECT_EQ(encode(t, "", false), Ids{});
}

TEST(SpmTokenizer, MergesBestScoreFirst) {
  const Tokenizer t = tiny_spm();
  const int32_t sp = kSpmFirstPiece, a = sp + 1, bc = sp + 6, sp_ab = sp + 5, spsp = sp + 7;
  // "▁abc": (b,c) scores -0.5, better than (a,b) -5; then nothing merges with bc.
  EXPECT_EQ(encode(t, "abc", false), (Ids{sp, a, bc}));
  // "▁ab": (a,b) -> ab, then (▁,ab) -> ▁ab.
  EXPECT_EQ(encode(t, "ab", true), (Ids{1, sp_ab}));
  // " ab" -> "▁▁ab": (▁,▁) -7 is listed too but (a,b) -5 goes first, then ▁ab -6 beats ▁▁.
  EXPECT_EQ(encode(t, " ab", false), (Ids{sp, sp_ab}));
  EXPECT_EQ(encode(t, " ", false), (Ids{spsp}));
  EXPECT_EQ(encode(t, "", false), Ids{});
}

TEST(SpmTokenizer, UnknownCharactersFallBackToBytes) {
  const Tokenizer t = tiny_spm();
  // "é" = C3 A9: no piece, so <0xC3> <0xA9> (ids 3 + byte).
  EXPECT_EQ(encode(t, "é", false), (Ids{kSpmFirstPiece, 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ(token_to_bytes(t, 3 + 0xC3), "\xC3");
  EXPECT_EQ(token_to_bytes(t, kSpmFirstPiece), " ");
  EXPECT_EQ(decode(t, encode(t, "é", true)), "é");
}

TEST(SpmTokenizer, DecodeDropsTheAddedSpaceOnly) {
  const Tokenizer t = tiny_spm();
  EXPECT_EQ(decode(t, encode(t, "ab", true)), "ab");
  EXPECT_EQ(decode(t, encode(t, " ab", true)), " ab");
  EXPECT_EQ(decode(t, encode(t, "ab ab", false)), "ab ab");
  // A special token in the text: SentencePiece prefixes the text after it with ▁ too.
  const Ids ids = encode(t, "ab</s>ab", false);
  EXPECT_EQ(ids, (Ids{kSpmFirstPiece + 5, 2, kSpmFirstPiece + 5}));
  EXPECT_EQ(decode(t, ids, true), "ab</s>ab");
}

// Random text from pieces that exercise every byte length, plus raw bytes.
std::string random_text(std::mt19937& rng, bool valid_utf8) {
  static const std::vector<std::string> pieces = {
      "a", "the", " ", "  ", "\n", "\t", "'s", "123", "Tiếng Việt", "có dấu", "ữ", "漢字", "かな",
      "한국어", "👩‍💻", "🎉", "é", "½", "!!", "Ω", "\r\n", "ab", "bc", "\xC2\xA0"};
  std::string text;
  const int n = static_cast<int>(rng() % 12);
  for (int i = 0; i < n; i++) {
    if (!valid_utf8 && rng() % 4 == 0) text += static_cast<char>(rng() % 256);
    else text += pieces[rng() % pieces.size()];
  }
  return text;
}

TEST(TokenizerRoundTrip, DecodeOfEncodeIsTheText) {
  std::mt19937 rng(1234);
  const Tokenizer spm = tiny_spm();
  for (PreTokenizer pre : {PreTokenizer::GPT2, PreTokenizer::LLAMA3, PreTokenizer::QWEN2, PreTokenizer::SMOLLM}) {
    const Tokenizer bpe = tiny_byte_bpe(pre);
    for (int round = 0; round < 300; round++) {
      const std::string valid = random_text(rng, true);
      EXPECT_EQ(decode(bpe, encode(bpe, valid, false)), valid);
      EXPECT_EQ(decode(spm, encode(spm, valid, true)), valid);
      // Byte-level BPE and byte fallback keep even ill-formed bytes.
      const std::string raw = random_text(rng, false);
      EXPECT_EQ(decode(bpe, encode(bpe, raw, false)), raw);
      EXPECT_EQ(decode(spm, encode(spm, raw, false)), raw);
    }
  }
}

TEST(StreamDecoder, NeverEmitsBrokenUtf8) {
  std::mt19937 rng(99);
  const Tokenizer bpe = tiny_byte_bpe();
  const Tokenizer spm = tiny_spm();
  for (int round = 0; round < 300; round++) {
    const std::string text = random_text(rng, true);
    for (const Tokenizer* t : {&bpe, &spm}) {
      StreamDecoder stream(*t);
      std::string joined;
      for (int32_t id : encode(*t, text, false)) {
        const std::string piece = stream.push(id);
        EXPECT_TRUE(unicode::is_valid_utf8(piece));
        joined += piece;
      }
      joined += stream.flush();
      // The stream keeps SentencePiece's leading space; decode drops it.
      EXPECT_EQ(t == &spm && !joined.empty() ? joined.substr(1) : joined, text);
    }
  }
}

TEST(StreamDecoder, HoldsBackSplitCharactersAndReplacesBrokenOnes) {
  const Tokenizer t = tiny_byte_bpe();  // id == byte
  StreamDecoder s(t);
  EXPECT_EQ(s.push(0xF0), "");
  EXPECT_EQ(s.push(0x9F), "");
  EXPECT_EQ(s.push(0x8E), "");
  EXPECT_EQ(s.push(0x89), "🎉");
  EXPECT_EQ(s.push(0xFF), "\xEF\xBF\xBD");      // can never start a character
  EXPECT_EQ(s.push(0xE2), "");
  EXPECT_EQ(s.push('a'), "\xEF\xBF\xBD" "a");   // E2 followed by 'a': broken
  EXPECT_EQ(s.push(0xE2), "");
  EXPECT_EQ(s.push(0x82), "");
  EXPECT_EQ(s.flush(), "\xEF\xBF\xBD");         // the stream ended mid-character
  EXPECT_EQ(s.flush(), "");
  EXPECT_EQ(s.push(-5), "");
  EXPECT_EQ(sanitize_utf8("a\xED\xA0\x80z"), "a\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDz");  // surrogate
}

TEST(TokenizerHostileInput, NeverCrashes) {
  const Tokenizer spm = tiny_spm();
  std::string nuls("a\0b\0\0c", 6);
  std::vector<std::string> inputs = {nuls, "\xFF\xFE\xFD", "\xE2\x82", "\xC0\xAF", std::string(200000, 'a'),
                                     std::string(200000, ' '), std::string(100000, '\n'),
                                     std::string(100000, '7'), std::string(50000, '<')};
  std::string emoji;
  for (int i = 0; i < 20000; i++) emoji += "👩‍💻";
  inputs.push_back(emoji);
  for (PreTokenizer pre : {PreTokenizer::GPT2, PreTokenizer::LLAMA3, PreTokenizer::QWEN2, PreTokenizer::SMOLLM}) {
    const Tokenizer bpe = tiny_byte_bpe(pre, {{"<|im_start|>", TokenType::CONTROL}});
    for (const std::string& text : inputs) {
      EXPECT_EQ(decode(bpe, encode(bpe, text, false)), text);
    }
  }
  for (const std::string& text : inputs) EXPECT_EQ(decode(spm, encode(spm, text, false)), text);
  const Ids bad = {-1, 1 << 30, 5, -100};
  EXPECT_NO_THROW(decode(spm, bad));
}

TEST(TokenizerBuild, RejectsInconsistentVectors) {
  EXPECT_THROW(make_tokenizer(TokenizerModel::BYTE_BPE, PreTokenizer::GPT2, {}, {}), Error);
  EXPECT_THROW(make_tokenizer(TokenizerModel::SPM, PreTokenizer::NONE, {"a", "b"}, {}, {1.0f}), Error);
  EXPECT_THROW(make_tokenizer(TokenizerModel::SPM, PreTokenizer::NONE, {"a"}, {}, {}, {TokenType::NORMAL, TokenType::NORMAL}),
               Error);
  // Merges naming missing tokens are ignored, not trusted.
  const Tokenizer t = make_tokenizer(TokenizerModel::BYTE_BPE, PreTokenizer::GPT2, {"a", "b"}, {{"a", "b"}, {"x", "y"}});
  EXPECT_TRUE(t.merge_ranks.empty());
  EXPECT_EQ(encode(t, "ab", false), (Ids{0, 1}));
  EXPECT_EQ(encode(t, "c", false), Ids{});  // no byte token, no <unk>: dropped, no crash
}

}  // namespace
}  // namespace loupe
