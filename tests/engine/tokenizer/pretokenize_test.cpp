// The hand-written pre-tokenizer regexes, on hand-checked examples.
#include <random>

#include "test_support.h"
#include "tokenizer/tokenizer.h"

namespace loupe {
namespace {

std::vector<std::string> words(PreTokenizer pre, std::string_view text) {
  std::vector<std::string> out;
  for (std::string_view w : pre_tokenize(pre, text)) out.emplace_back(w);
  return out;
}
using V = std::vector<std::string>;

TEST(PreTokenizerGpt2, WordsSpacesAndContractions) {
  EXPECT_EQ(words(PreTokenizer::GPT2, "Hello world"), (V{"Hello", " world"}));
  EXPECT_EQ(words(PreTokenizer::GPT2, "I've  got 123 apples!!\n\n"),
            (V{"I", "'ve", " ", " got", " 123", " apples", "!!", "\n\n"}));
  EXPECT_EQ(words(PreTokenizer::GPT2, "'sa 'S"), (V{"'s", "a", " '", "S"}));  // case-sensitive
  EXPECT_EQ(words(PreTokenizer::GPT2, "\tx  \n y"), (V{"\t", "x", "  \n", " y"}));
  EXPECT_EQ(words(PreTokenizer::GPT2, "a   "), (V{"a", "   "}));
  EXPECT_EQ(words(PreTokenizer::GPT2, "Việt 漢字 ½"), (V{"Việt", " 漢字", " ½"}));
  EXPECT_EQ(words(PreTokenizer::GPT2, ""), V{});
}

TEST(PreTokenizerLlama3, NumbersInThreesAndNewlines) {
  EXPECT_EQ(words(PreTokenizer::LLAMA3, "12345"), (V{"123", "45"}));
  EXPECT_EQ(words(PreTokenizer::LLAMA3, "Hello\n\nworld"), (V{"Hello", "\n\n", "world"}));
  EXPECT_EQ(words(PreTokenizer::LLAMA3, "I'M HERE"), (V{"I", "'M", " HERE"}));  // case-insensitive
  EXPECT_EQ(words(PreTokenizer::LLAMA3, "\tfoo,bar"), (V{"\tfoo", ",bar"}));
  EXPECT_EQ(words(PreTokenizer::LLAMA3, "x!!\n\ny"), (V{"x", "!!\n\n", "y"}));
  EXPECT_EQ(words(PreTokenizer::LLAMA3, "a  \n x"), (V{"a", "  \n", " x"}));
  EXPECT_EQ(words(PreTokenizer::LLAMA3, "a  b"), (V{"a", " ", " b"}));
}

TEST(PreTokenizerQwen2, SingleDigits) {
  EXPECT_EQ(words(PreTokenizer::QWEN2, "12345"), (V{"1", "2", "3", "4", "5"}));
  EXPECT_EQ(words(PreTokenizer::QWEN2, "It's 42!"), (V{"It", "'s", " ", "4", "2", "!"}));
}

TEST(PreTokenizerSmolLM, DigitsAloneThenGpt2) {
  EXPECT_EQ(words(PreTokenizer::SMOLLM, "abc123 def"), (V{"abc", "1", "2", "3", " def"}));
  EXPECT_EQ(words(PreTokenizer::SMOLLM, "x 42"), (V{"x", " ", "4", "2"}));
  EXPECT_EQ(words(PreTokenizer::SMOLLM, "I've 2  cats"), (V{"I", "'ve", " ", "2", " ", " cats"}));
}

TEST(PreTokenizer, InvalidUtf8IsKeptAndWordsConcatenateBack) {
  EXPECT_EQ(words(PreTokenizer::GPT2, "a\xFF\xFE" "b"), (V{"a", "\xFF\xFE", "b"}));
  std::mt19937 rng(7);
  for (PreTokenizer pre : {PreTokenizer::GPT2, PreTokenizer::LLAMA3, PreTokenizer::QWEN2, PreTokenizer::SMOLLM}) {
    for (int round = 0; round < 200; round++) {
      std::string text(rng() % 64, '\0');
      for (char& c : text) c = static_cast<char>(rng() % 2 ? rng() % 256 : " \n\ta1'!"[rng() % 7]);
      std::string joined;
      for (std::string_view w : pre_tokenize(pre, text)) {
        EXPECT_FALSE(w.empty());
        joined += w;
      }
      EXPECT_EQ(joined, text);
    }
  }
}

}  // namespace
}  // namespace loupe
