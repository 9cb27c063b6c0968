// llama.cpp's tokenizer test suites (../shared/reference/tokenizers): every case must give
// exactly the expected ids, and decode back to its text.
#include <chrono>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "formats/gguf.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace loupe {
namespace {

struct Suite {
  std::vector<std::string> texts;
  std::vector<std::vector<int32_t>> expected;
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// .inp: texts, each followed by "\n__ggml_vocab_test__\n" (the newlines belong to the
// separator, as in llama.cpp's test-tokenizer-0). .out: one line of ids per text.
Suite read_suite(const std::string& gguf_path) {
  Suite suite;
  const std::string raw = read_text(gguf_path + ".inp");
  const std::string sep = "\n__ggml_vocab_test__\n";
  for (size_t pos = 0; pos < raw.size();) {
    const size_t next = raw.find(sep, pos);
    if (next == std::string::npos) {
      suite.texts.push_back(raw.substr(pos));
      break;
    }
    suite.texts.push_back(raw.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::ifstream out(gguf_path + ".out");
  for (std::string line; std::getline(out, line);) {
    std::istringstream ids(line);
    suite.expected.emplace_back();
    for (int32_t id; ids >> id;) suite.expected.back().push_back(id);
  }
  return suite;
}

struct LoadedVocab {
  std::vector<uint8_t> bytes;  // the file; the GgufFile views into it
  Tokenizer tok;
};

LoadedVocab load(const std::string& path) {
  LoadedVocab v;
  v.bytes = test::read_file_bytes(path);
  v.tok = tokenizer_from_gguf(read_gguf(v.bytes));
  return v;
}

void check_suite(const std::string& path) {
  const LoadedVocab v = load(path);
  const Suite suite = read_suite(path);
  ASSERT_EQ(suite.texts.size(), 46u);
  ASSERT_EQ(suite.expected.size(), suite.texts.size());
  int passed = 0;
  for (size_t i = 0; i < suite.texts.size(); i++) {
    const std::vector<int32_t> got = encode(v.tok, suite.texts[i], /*add_bos=*/false, /*parse_special=*/false);
    EXPECT_EQ(got, suite.expected[i]) << "case " << i << ": \"" << suite.texts[i] << "\"";
    passed += got == suite.expected[i];
    EXPECT_EQ(decode(v.tok, suite.expected[i]), suite.texts[i]) << "case " << i;
    // Streaming gives the same text (SentencePiece keeps its leading space) in valid pieces.
    StreamDecoder stream(v.tok);
    std::string streamed;
    for (int32_t id : suite.expected[i]) {
      const std::string piece = stream.push(id);
      EXPECT_TRUE(unicode::is_valid_utf8(piece));
      streamed += piece;
    }
    streamed += stream.flush();
    if (v.tok.model == TokenizerModel::SPM && !streamed.empty()) streamed.erase(0, 1);
    EXPECT_EQ(streamed, suite.texts[i]) << "case " << i;
  }
  std::printf("%s: %d/%zu cases pass\n", path.c_str(), passed, suite.texts.size());

  // Speed: a megabyte of this text natively takes well under a second.
  std::string big;
  while (big.size() < (1u << 20)) big += suite.texts[big.size() % suite.texts.size()] + "\n";
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<int32_t> ids = encode(v.tok, big, false, false);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("1 MiB -> %zu tokens in %.3f s\n", ids.size(), seconds);
  EXPECT_LT(seconds, 10.0);
  EXPECT_EQ(decode(v.tok, ids), big);
}

TEST(TokenizerReference, Gpt2AllCasesMatchLlamaCpp) {
  LOUPE_REQUIRE_REFERENCE(path, "tokenizers/ggml-vocab-gpt-2.gguf");
  check_suite(path);
}

TEST(TokenizerReference, LlamaSpmAllCasesMatchLlamaCpp) {
  LOUPE_REQUIRE_REFERENCE(path, "tokenizers/ggml-vocab-llama-spm.gguf");
  check_suite(path);
}

TEST(TokenizerReference, GgufMetadataIsRead) {
  LOUPE_REQUIRE_REFERENCE(gpt2_path, "tokenizers/ggml-vocab-gpt-2.gguf");
  LOUPE_REQUIRE_REFERENCE(spm_path, "tokenizers/ggml-vocab-llama-spm.gguf");
  const LoadedVocab gpt2 = load(gpt2_path);
  EXPECT_EQ(gpt2.tok.model, TokenizerModel::BYTE_BPE);
  EXPECT_EQ(gpt2.tok.pre, PreTokenizer::GPT2);
  EXPECT_EQ(gpt2.tok.n_vocab(), 50257);
  EXPECT_EQ(gpt2.tok.bos_id, 50256);
  EXPECT_EQ(gpt2.tok.eos_id, 50256);
  EXPECT_FALSE(gpt2.tok.add_bos);
  EXPECT_EQ(gpt2.tok.merge_ranks.size(), 50000u);
  EXPECT_EQ(token_to_bytes(gpt2.tok, 50256), "<|endoftext|>");
  // Control tokens in text: one id with parse_special, plain text without.
  EXPECT_EQ(encode(gpt2.tok, "<|endoftext|>", false, true), std::vector<int32_t>{50256});
  EXPECT_GT(encode(gpt2.tok, "<|endoftext|>", false, false).size(), 1u);

  const LoadedVocab spm = load(spm_path);
  EXPECT_EQ(spm.tok.model, TokenizerModel::SPM);
  EXPECT_EQ(spm.tok.n_vocab(), 32000);
  EXPECT_EQ(spm.tok.bos_id, 1);
  EXPECT_EQ(spm.tok.eos_id, 2);
  EXPECT_EQ(spm.tok.unk_id, 0);
  EXPECT_TRUE(spm.tok.add_bos);
  EXPECT_TRUE(spm.tok.add_space_prefix);
  EXPECT_EQ(token_to_bytes(spm.tok, 3 + 0x0A), "\n");  // <0x0A>
  const std::vector<int32_t> hello = encode(spm.tok, "Hello world", spm.tok.add_bos);
  EXPECT_EQ(hello.front(), 1);
  EXPECT_EQ(decode(spm.tok, hello), "Hello world");
  EXPECT_EQ(encode(spm.tok, "<s>Hi</s>", false, true).front(), 1);
}

TEST(TokenizerReference, UnsupportedModelsGiveClearErrors) {
  GgufFile g;
  EXPECT_THROW(tokenizer_from_gguf(g), Error);
  g.metadata.emplace_back("tokenizer.ggml.model", GgufValue::from_string("bert"));
  g.metadata.emplace_back("tokenizer.ggml.tokens", GgufValue::from_strings({"a", "b"}));
  try {
    tokenizer_from_gguf(g);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bert"), std::string::npos);
  }
  g.metadata[0].second = GgufValue::from_string("gpt2");
  g.metadata.emplace_back("tokenizer.ggml.merges", GgufValue::from_strings({"a b"}));
  g.metadata.emplace_back("tokenizer.ggml.pre", GgufValue::from_string("deepseek-coder"));
  EXPECT_THROW(tokenizer_from_gguf(g), Error);
  g.metadata.back().second = GgufValue::from_string("qwen2");
  EXPECT_EQ(tokenizer_from_gguf(g).pre, PreTokenizer::QWEN2);
}

}  // namespace
}  // namespace loupe
