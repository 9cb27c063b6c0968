// Tokenizers: text <-> token ids for the model families Loupe runs.
//
//   byte-level BPE (GGUF model "gpt2"; GPT-2, Llama 3, Qwen2, SmolLM): the text is cut into
//     words by a pre-tokenizer (a hand-written version of the family's regex), each byte of a
//     word becomes one of 256 printable "byte characters", and adjacent symbols are merged
//     by merge rank (lowest first) until no listed merge applies.
//   SentencePiece BPE (GGUF model "llama"; Llama 2, TinyLlama): spaces become "▁", a "▁" is
//     put in front of the text, and the adjacent pair whose concatenation is the
//     best-scoring vocabulary piece is merged repeatedly; what no piece covers falls back to
//     <0xXX> byte tokens. (tokenizer.json files list merges instead of scores; those are
//     merged by rank, as Hugging Face does.)
//
// Special tokens (control and user-defined) are cut out of the text first and never split.
// The Tokenizer is plain data: build it with tokenizer_from_gguf / tokenizer_from_hf_json,
// or from vectors with make_tokenizer (tests do), then call the free functions below.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace loupe {

struct GgufFile;

// Lets token_to_id be searched with a string_view, without building a std::string.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TokenIndex = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

enum class TokenizerModel { BYTE_BPE, SPM };

// Which regex cuts text into words before byte-level BPE.
enum class PreTokenizer {
  GPT2,    // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  LLAMA3,  // case-insensitive contractions, [^\r\n\p{L}\p{N}]?\p{L}+, \p{N}{1,3}, ...
  QWEN2,   // like LLAMA3 but numbers one digit at a time
  SMOLLM,  // every digit alone, then GPT2 on the rest
  NONE,    // SentencePiece: no pre-tokenizer
};

// GGUF's tokenizer.ggml.token_type values.
enum class TokenType : int32_t {
  UNDEFINED = 0, NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6,
};

struct Tokenizer {
  TokenizerModel model = TokenizerModel::BYTE_BPE;
  PreTokenizer pre = PreTokenizer::GPT2;
  std::string pre_name;                    // as the file named it ("gpt-2", "llama-bpe", ...)

  // --- the vocabulary, indexed by token id ----------------------------------------------
  std::vector<std::string> tokens;         // (n_vocab) text as stored: "Ġthe", "▁the", "<0x0A>"
  std::vector<std::string> token_bytes;    // (n_vocab) the raw bytes each token stands for
  std::vector<float> scores;               // (n_vocab) SentencePiece piece scores; may be empty
  std::vector<TokenType> types;            // (n_vocab)
  TokenIndex token_to_id;

  // --- merges --------------------------------------------------------------------------
  // (left id, right id) packed as left << 32 | right  ->  (rank, id of the merged token).
  // Empty for SentencePiece vocabularies merged by score.
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merge_ranks;
  bool ignore_merges = false;              // Llama 3: a word that is a token is taken whole

  // Byte-level BPE: byte b is token byte_token[b] (the token "Ġ" for ' ' ...).
  // SentencePiece: the <0xXX> byte-fallback token of b. -1 when missing.
  std::array<int32_t, 256> byte_token{};

  // Control and user-defined tokens as they appear in text, for cutting them out before
  // BPE: grouped by first byte, longest first.
  std::array<std::vector<int32_t>, 256> specials_by_first_byte;

  int32_t bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1;
  bool add_bos = false;           // the model expects BOS in front of a prompt
  bool add_eos = false;           // ... and EOS after it (rare; encode never adds it)
  bool add_space_prefix = false;  // SentencePiece: "▁" in front of the text
  std::string chat_template;      // Jinja source from the file, recognised, not run

  int32_t n_vocab() const { return static_cast<int32_t>(tokens.size()); }
  bool is_special(int32_t id) const;  // control or user-defined
};

// Builds a tokenizer from plain vectors and fills every derived table (token_to_id,
// token_bytes, merge_ranks, byte_token, the special-token index). `merges` are pairs of
// token texts in rank order; `scores` and `types` may be empty (scores 0, types NORMAL,
// except <0xXX> pieces in SPM which become BYTE). Throws loupe::Error on inconsistent input.
Tokenizer make_tokenizer(TokenizerModel model, PreTokenizer pre, std::vector<std::string> tokens,
                         const std::vector<std::pair<std::string, std::string>>& merges,
                         std::vector<float> scores = {}, std::vector<TokenType> types = {});

// From GGUF metadata (tokenizer.ggml.*). Throws loupe::Error for unsupported models.
Tokenizer tokenizer_from_gguf(const GgufFile& gguf);

// From Hugging Face tokenizer.json text (and tokenizer_config.json text, may be empty).
Tokenizer tokenizer_from_hf_json(std::string_view tokenizer_json, std::string_view tokenizer_config_json);

// --- encoding -----------------------------------------------------------------------------

// Text -> ids. add_bos: put the BOS token first (when the vocabulary has one); pass
// tok.add_bos for what the model expects. parse_special: control tokens written in the text
// ("<|im_start|>") become their ids; user-defined tokens always do. EOS is never added.
std::vector<int32_t> encode(const Tokenizer& tok, std::string_view text, bool add_bos,
                            bool parse_special = true);

// The words a pre-tokenizer cuts `text` into (byte-level BPE works on each separately).
// Exposed for the Tokens view and tests. Concatenated, the words give back `text`.
std::vector<std::string_view> pre_tokenize(PreTokenizer pre, std::string_view text);

// --- decoding -----------------------------------------------------------------------------

// The raw bytes token `id` stands for (GPT-2's byte characters undone, "▁" -> ' ', <0xAB> ->
// the byte 0xAB; control tokens: their text). "" for an id out of range. May be part of a
// UTF-8 character.
std::string token_to_bytes(const Tokenizer& tok, int32_t id);

// Ids -> text (bytes, possibly not valid UTF-8 if the ids split a character). Control
// tokens are left out unless render_special. SentencePiece: the space that encode put in
// front of the text (at the start and after a special token) is dropped again.
std::string decode(const Tokenizer& tok, std::span<const int32_t> ids, bool render_special = false);

// Turns a stream of ids into text that is always valid UTF-8: push() returns only complete
// characters and holds back the start of one that the next token may finish; bytes that
// can never become a character come out as U+FFFD. flush() ends the stream. Unlike decode,
// no leading space is dropped (a generated continuation keeps its spaces).
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, bool render_special = false)
      : tok_(&tok), render_special_(render_special) {}
  std::string push(int32_t id);
  std::string flush();  // what is held back, as U+FFFD
 private:
  const Tokenizer* tok_;
  bool render_special_;
  std::string pending_;  // bytes not yet returned: an incomplete character
};

// Replaces ill-formed UTF-8 by U+FFFD (one per maximal ill-formed subpart).
std::string sanitize_utf8(std::string_view bytes);

// --- chat templates -------------------------------------------------------------------------

struct ChatMessage {
  std::string role;     // "system", "user", "assistant"
  std::string content;
};

enum class ChatTemplateKind { CHATML, LLAMA3, LLAMA2, ZEPHYR };

// Which family's format tok.chat_template is (recognised by its markers, not run as Jinja);
// without a template, ChatML when the vocabulary has <|im_start|>. Throws otherwise.
ChatTemplateKind detect_chat_template(const Tokenizer& tok);

// The prompt text for `messages` in the model's chat format, ending with the opening of the
// assistant's turn when add_generation_prompt. It never starts with the BOS token: encode it
// with encode(tok, text, tok.add_bos, /*parse_special=*/true).
std::string apply_chat_template(const Tokenizer& tok, const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt);

}  // namespace loupe
