// libFuzzer target for the tokenizers: encode any bytes with the reference vocabularies
// (GPT-2's byte-level BPE under each pre-tokenizer, Llama 2's SentencePiece), decode them
// back, and stream-decode them. Findings: a crash, a sanitizer report, an exception, a
// round trip that loses bytes, or a stream that emits ill-formed UTF-8 or other text than
// decode. Without ../shared/reference, small hand-made vocabularies stand in.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <vector>

#include "formats/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

#ifndef LOUPE_SHARED_DIR
#define LOUPE_SHARED_DIR "../shared"
#endif

namespace {

using namespace loupe;

bool load_gguf(const char* name, Tokenizer& out) {
  const std::string path = std::string(LOUPE_SHARED_DIR) + "/reference/tokenizers/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  out = tokenizer_from_gguf(read_gguf(bytes));
  return true;
}

Tokenizer fallback_byte_bpe() {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; b++) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    uint32_t cp = static_cast<uint32_t>(b);
    if (!printable) {
      cp = 256;
      for (int x = 0; x < b; x++)
        if (!((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE))) cp++;
    }
    std::string s;
    unicode::append_utf8(s, cp);
    tokens.push_back(s);
  }
  tokens.push_back("<|endoftext|>");
  std::vector<TokenType> types(tokens.size(), TokenType::NORMAL);
  types.back() = TokenType::CONTROL;
  tokens.push_back("he");
  types.push_back(TokenType::NORMAL);
  return make_tokenizer(TokenizerModel::BYTE_BPE, PreTokenizer::GPT2, tokens, {{"h", "e"}}, {}, types);
}

Tokenizer fallback_spm() {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  for (int b = 0; b < 256; b++) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    tokens.push_back(buf);
  }
  for (const char* p : {"\xE2\x96\x81", "a", "b", "ab", "\xE2\x96\x81" "a"}) tokens.push_back(p);
  std::vector<float> scores(tokens.size(), 0.0f);
  for (size_t i = 259; i < tokens.size(); i++) scores[i] = -static_cast<float>(i);
  std::vector<TokenType> types(tokens.size(), TokenType::NORMAL);
  types[0] = TokenType::UNKNOWN;
  types[1] = types[2] = TokenType::CONTROL;
  for (int b = 0; b < 256; b++) types[3 + b] = TokenType::BYTE;
  Tokenizer t = make_tokenizer(TokenizerModel::SPM, PreTokenizer::NONE, tokens, {}, scores, types);
  t.bos_id = 1;
  t.unk_id = 0;
  t.add_space_prefix = true;
  return t;
}

struct Tokenizers {
  std::vector<Tokenizer> all;  // gpt2, llama3, qwen2, smollm (byte-level), spm
  Tokenizers() {
    Tokenizer bpe, spm;
    if (!load_gguf("ggml-vocab-gpt-2.gguf", bpe)) bpe = fallback_byte_bpe();
    if (!load_gguf("ggml-vocab-llama-spm.gguf", spm)) spm = fallback_spm();
    for (PreTokenizer pre : {PreTokenizer::GPT2, PreTokenizer::LLAMA3, PreTokenizer::QWEN2, PreTokenizer::SMOLLM}) {
      all.push_back(bpe);
      all.back().pre = pre;
      all.back().ignore_merges = pre == PreTokenizer::LLAMA3;
    }
    all.push_back(std::move(spm));
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Tokenizers tokenizers;
  if (size == 0) return 0;
  const uint8_t control = data[0];
  const Tokenizer& tok = tokenizers.all[control % tokenizers.all.size()];
  const bool parse_special = control & 0x80;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  const std::vector<int32_t> ids = encode(tok, text, /*add_bos=*/control & 0x40, parse_special);
  for (int32_t id : ids)
    if (id < 0 || id >= tok.n_vocab()) __builtin_trap();
  const std::string decoded = decode(tok, ids, /*render_special=*/true);
  // Byte-level BPE keeps every byte; SentencePiece too, unless the text itself holds "▁".
  const bool exact = !parse_special &&
                     (tok.model == TokenizerModel::BYTE_BPE || text.find("\xE2\x96\x81") == std::string_view::npos);
  if (exact && decode(tok, ids) != text) __builtin_trap();

  StreamDecoder stream(tok, /*render_special=*/true);
  std::string streamed;
  for (int32_t id : ids) {
    const std::string piece = stream.push(id);
    if (!unicode::is_valid_utf8(piece)) __builtin_trap();
    streamed += piece;
  }
  const std::string rest = stream.flush();
  if (!unicode::is_valid_utf8(rest)) __builtin_trap();
  streamed += rest;
  // The stream is decode's text made valid (decode also drops SentencePiece's leading space).
  if (tok.model == TokenizerModel::BYTE_BPE && streamed != sanitize_utf8(decoded)) __builtin_trap();
  for (int32_t id : ids) (void)token_to_bytes(tok, id);
  return 0;
}
