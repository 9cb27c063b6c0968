// Tokenizer core: building the tables, encoding (special tokens, byte-level BPE,
// SentencePiece BPE) and decoding (whole sequences and streams). Loading from files is in
// tokenizer_load.cpp, chat formats in chat_template.cpp, the word-splitting regexes in
// pretokenize.cpp.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cstdio>
#include <queue>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace loupe {

// ============================================================================================
// GPT-2's byte <-> character mapping
// ============================================================================================
// Byte-level BPE vocabularies store bytes as printable characters so that every token is
// readable text: the printable bytes (! .. ~, ¡ .. ¬, ® .. ÿ) stand for themselves and the
// other 68 (controls, space, DEL, NBSP, soft hyphen) are moved to U+0100 onwards in byte
// order, so ' ' is 'Ġ' (U+0120) and '\n' is 'Ċ' (U+010A).

namespace {

struct ByteMapping {
  std::array<uint32_t, 256> byte_to_cp;  // (256)
  std::array<int16_t, 324> cp_to_byte;   // (324) -1 where a codepoint is no byte's character
  ByteMapping() {
    cp_to_byte.fill(-1);
    uint32_t next = 256;
    for (int b = 0; b < 256; b++) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      byte_to_cp[b] = printable ? static_cast<uint32_t>(b) : next++;
      cp_to_byte[byte_to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteMapping& byte_mapping() {
  static const ByteMapping mapping;
  return mapping;
}

// "Ġhello" -> " hello". Codepoints that are no byte's character are kept as UTF-8.
std::string unmap_bytes(std::string_view text) {
  const ByteMapping& m = byte_mapping();
  std::string out;
  for (size_t pos = 0; pos < text.size();) {
    size_t len;
    const uint32_t cp = unicode::decode_utf8(text, pos, &len);
    if (cp < m.cp_to_byte.size() && m.cp_to_byte[cp] >= 0)
      out += static_cast<char>(m.cp_to_byte[cp]);
    else
      out.append(text.substr(pos, len));
    pos += len;
  }
  return out;
}

constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // "▁" U+2581, SentencePiece's space

std::string replace_all(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0;;) {
    const size_t hit = text.find(from, pos);
    if (hit == std::string_view::npos) {
      out.append(text.substr(pos));
      return out;
    }
    out.append(text.substr(pos, hit - pos));
    out.append(to);
    pos = hit + from.size();
  }
}

// "<0x0A>" -> 10; -1 when `text` is not a byte piece.
int parse_byte_piece(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  int value = 0;
  for (char c : text.substr(3, 2)) {
    int digit = (c >= '0' && c <= '9') ? c - '0' : (c >= 'A' && c <= 'F') ? c - 'A' + 10
              : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

}  // namespace

bool Tokenizer::is_special(int32_t id) const {
  if (id < 0 || id >= n_vocab()) return false;
  return types[id] == TokenType::CONTROL || types[id] == TokenType::USER_DEFINED;
}

// ============================================================================================
// Building a tokenizer
// ============================================================================================

Tokenizer make_tokenizer(TokenizerModel model, PreTokenizer pre, std::vector<std::string> tokens,
                         const std::vector<std::pair<std::string, std::string>>& merges,
                         std::vector<float> scores, std::vector<TokenType> types) {
  Tokenizer t;
  t.model = model;
  t.pre = model == TokenizerModel::SPM ? PreTokenizer::NONE : pre;
  const size_t n = tokens.size();
  if (n == 0) fail("tokenizer: the vocabulary is empty");
  if (n > 0x7FFFFFFF) fail("tokenizer: the vocabulary is too large");
  if (!scores.empty() && scores.size() != n)
    fail("tokenizer: " + std::to_string(scores.size()) + " scores for " + std::to_string(n) + " tokens");
  if (!types.empty() && types.size() != n)
    fail("tokenizer: " + std::to_string(types.size()) + " token types for " + std::to_string(n) + " tokens");
  t.tokens = std::move(tokens);
  t.scores = scores.empty() ? std::vector<float>(n, 0.0f) : std::move(scores);
  if (types.empty()) {
    types.assign(n, TokenType::NORMAL);
    if (model == TokenizerModel::SPM)
      for (size_t i = 0; i < n; i++)
        if (parse_byte_piece(t.tokens[i]) >= 0) types[i] = TokenType::BYTE;
  }
  t.types = std::move(types);

  t.token_to_id.reserve(n);
  t.token_bytes.resize(n);
  for (size_t i = 0; i < n; i++) {
    const std::string& text = t.tokens[i];
    t.token_to_id.emplace(text, static_cast<int32_t>(i));  // the first of duplicates wins
    const TokenType type = t.types[i];
    if (type == TokenType::CONTROL || type == TokenType::USER_DEFINED || type == TokenType::UNKNOWN) {
      t.token_bytes[i] = text;  // written in text as is
    } else if (model == TokenizerModel::BYTE_BPE) {
      t.token_bytes[i] = unmap_bytes(text);
    } else if (type == TokenType::BYTE && parse_byte_piece(text) >= 0) {
      t.token_bytes[i] = std::string(1, static_cast<char>(parse_byte_piece(text)));
    } else {
      t.token_bytes[i] = replace_all(text, kSpmSpace, " ");
    }
  }

  // Single-byte tokens.
  t.byte_token.fill(-1);
  for (int b = 0; b < 256; b++) {
    std::string key;
    if (model == TokenizerModel::BYTE_BPE) {
      unicode::append_utf8(key, byte_mapping().byte_to_cp[b]);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "<0x%02X>", b);
      key = buf;
    }
    auto it = t.token_to_id.find(key);
    if (it != t.token_to_id.end()) t.byte_token[b] = it->second;
  }

  // Merges, by rank. A merge naming a token the vocabulary lacks can never apply: skipped.
  t.merge_ranks.reserve(merges.size());
  std::string joined;
  for (size_t rank = 0; rank < merges.size(); rank++) {
    const auto& [a, b] = merges[rank];
    auto ia = t.token_to_id.find(a), ib = t.token_to_id.find(b);
    joined = a;
    joined += b;
    auto iab = t.token_to_id.find(joined);
    if (ia == t.token_to_id.end() || ib == t.token_to_id.end() || iab == t.token_to_id.end()) continue;
    t.merge_ranks.emplace(pair_key(ia->second, ib->second),
                          std::make_pair(static_cast<int32_t>(rank), iab->second));
  }

  // Special tokens as written in text, grouped by first byte, longest first.
  for (size_t i = 0; i < n; i++) {
    const TokenType type = t.types[i];
    const bool special = type == TokenType::CONTROL || type == TokenType::USER_DEFINED ||
                         type == TokenType::UNKNOWN;
    if (special && !t.tokens[i].empty())
      t.specials_by_first_byte[static_cast<uint8_t>(t.tokens[i][0])].push_back(static_cast<int32_t>(i));
  }
  for (auto& bucket : t.specials_by_first_byte)
    std::stable_sort(bucket.begin(), bucket.end(), [&](int32_t x, int32_t y) {
      return t.tokens[x].size() > t.tokens[y].size();
    });
  return t;
}

// ============================================================================================
// Encoding
// ============================================================================================

namespace {

// Merges adjacent symbols by merge rank, lowest rank first (leftmost among equals), until no
// listed merge applies. `ids` are the symbols of one word; -1 marks one that cannot merge.
// A priority queue over a linked list keeps long words (a megabyte of "a") O(n log n).
void merge_by_rank(const Tokenizer& tok, std::vector<int32_t>& ids) {
  const size_t n = ids.size();
  if (n < 2) return;
  std::vector<int32_t> prev(n), next(n);  // (n) linked list of live symbols; -1 at the ends
  for (size_t i = 0; i < n; i++) {
    prev[i] = static_cast<int32_t>(i) - 1;
    next[i] = i + 1 < n ? static_cast<int32_t>(i + 1) : -1;
  }
  struct Candidate {
    int32_t rank, left, right, left_id, right_id, merged_id;
    bool operator<(const Candidate& o) const {  // "lower priority than"
      return rank != o.rank ? rank > o.rank : left > o.left;
    }
  };
  std::priority_queue<Candidate> queue;
  auto consider = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0 || ids[left] < 0 || ids[right] < 0) return;
    auto it = tok.merge_ranks.find(pair_key(ids[left], ids[right]));
    if (it == tok.merge_ranks.end()) return;
    queue.push({it->second.first, left, right, ids[left], ids[right], it->second.second});
  };
  for (size_t i = 0; i + 1 < n; i++) consider(static_cast<int32_t>(i), static_cast<int32_t>(i + 1));

  std::vector<bool> alive(n, true);
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    // Stale when either side has merged since the candidate was queued.
    if (!alive[c.left] || !alive[c.right] || next[c.left] != c.right || ids[c.left] != c.left_id ||
        ids[c.right] != c.right_id)
      continue;
    ids[c.left] = c.merged_id;
    alive[c.right] = false;
    next[c.left] = next[c.right];
    if (next[c.right] >= 0) prev[next[c.right]] = c.left;
    consider(prev[c.left], c.left);
    consider(c.left, next[c.left]);
  }
  size_t out = 0;
  for (size_t i = 0; i < n; i++)
    if (alive[i]) ids[out++] = ids[i];
  ids.resize(out);
}

void push_unknown(const Tokenizer& tok, std::vector<int32_t>& out) {
  if (tok.unk_id >= 0) out.push_back(tok.unk_id);
}

// One word of byte-level BPE.
void encode_byte_bpe_word(const Tokenizer& tok, std::string_view word, std::vector<int32_t>& out) {
  if (tok.ignore_merges) {
    std::string mapped;
    for (char ch : word) unicode::append_utf8(mapped, byte_mapping().byte_to_cp[static_cast<uint8_t>(ch)]);
    auto it = tok.token_to_id.find(mapped);
    if (it != tok.token_to_id.end()) {
      out.push_back(it->second);
      return;
    }
  }
  std::vector<int32_t> ids(word.size());
  for (size_t i = 0; i < word.size(); i++) ids[i] = tok.byte_token[static_cast<uint8_t>(word[i])];
  merge_by_rank(tok, ids);
  for (int32_t id : ids) {
    if (id >= 0) out.push_back(id);
    else push_unknown(tok, out);
  }
}

// Can piece `id` come out of SentencePiece merging? (Control, byte and unused pieces cannot.)
bool spm_mergeable(const Tokenizer& tok, int32_t id) {
  const TokenType type = tok.types[id];
  return type == TokenType::NORMAL || type == TokenType::UNDEFINED;
}

int32_t spm_piece(const Tokenizer& tok, std::string_view piece) {
  auto it = tok.token_to_id.find(piece);
  return (it != tok.token_to_id.end() && spm_mergeable(tok, it->second)) ? it->second : -1;
}

// A piece no token covers: its bytes as <0xXX> tokens (or <unk> without them).
void spm_byte_fallback(const Tokenizer& tok, std::string_view piece, std::vector<int32_t>& out) {
  for (char ch : piece) {
    const int32_t id = tok.byte_token[static_cast<uint8_t>(ch)];
    if (id >= 0) out.push_back(id);
    else push_unknown(tok, out);
  }
}

// SentencePiece BPE over `text` (spaces already "▁"): start from single characters, merge
// the adjacent pair whose concatenation is the best-scoring piece (leftmost among equals).
void encode_spm_by_score(const Tokenizer& tok, std::string_view text, std::vector<int32_t>& out) {
  struct Symbol {
    uint32_t start, len;  // bytes of text; len 0 once merged into its left neighbour
    int32_t prev, next;
  };
  std::vector<Symbol> sym;
  for (size_t pos = 0; pos < text.size();) {
    size_t len = unicode::utf8_sequence_length(text, pos);
    if (len == 0) len = 1;  // an ill-formed byte stands alone
    const int32_t i = static_cast<int32_t>(sym.size());
    sym.push_back({static_cast<uint32_t>(pos), static_cast<uint32_t>(len), i - 1, -1});
    if (i > 0) sym[i - 1].next = i;
    pos += len;
  }
  struct Candidate {
    float score;
    int32_t left, right;
    uint32_t size;  // bytes of the merged piece
    bool operator<(const Candidate& o) const {  // "lower priority than"
      return score != o.score ? score < o.score : left > o.left;
    }
  };
  std::priority_queue<Candidate> queue;
  auto consider = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const uint32_t size = sym[left].len + sym[right].len;
    const int32_t id = spm_piece(tok, text.substr(sym[left].start, size));
    if (id >= 0) queue.push({tok.scores[id], left, right, size});
  };
  for (size_t i = 1; i < sym.size(); i++) consider(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& left = sym[c.left];
    Symbol& right = sym[c.right];
    if (left.len == 0 || right.len == 0 || left.next != c.right || left.len + right.len != c.size) continue;
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (right.next >= 0) sym[right.next].prev = c.left;
    consider(left.prev, c.left);
    consider(c.left, left.next);
  }
  for (int32_t i = sym.empty() ? -1 : 0; i >= 0; i = sym[i].next) {
    const std::string_view piece = text.substr(sym[i].start, sym[i].len);
    const int32_t id = spm_piece(tok, piece);
    if (id >= 0) out.push_back(id);
    else spm_byte_fallback(tok, piece, out);
  }
}

// The tokenizer.json flavour of SentencePiece BPE: characters, merged by rank.
void encode_spm_by_rank(const Tokenizer& tok, std::string_view text, std::vector<int32_t>& out) {
  std::vector<int32_t> ids;
  std::vector<std::string_view> unknown;  // the text of each -1 symbol, in order
  for (size_t pos = 0; pos < text.size();) {
    size_t len = unicode::utf8_sequence_length(text, pos);
    if (len == 0) len = 1;
    const std::string_view ch = text.substr(pos, len);
    const int32_t id = spm_piece(tok, ch);
    if (id >= 0) {
      ids.push_back(id);
    } else {
      ids.push_back(-1);
      unknown.push_back(ch);
    }
    pos += len;
  }
  merge_by_rank(tok, ids);
  size_t next_unknown = 0;
  for (int32_t id : ids) {
    if (id >= 0) out.push_back(id);
    else spm_byte_fallback(tok, unknown[next_unknown++], out);
  }
}

// A stretch of text between special tokens. after_special: it starts the text or follows a
// special token, which is where SentencePiece puts its "▁" prefix.
void encode_fragment(const Tokenizer& tok, std::string_view text, bool after_special,
                     std::vector<int32_t>& out) {
  if (tok.model == TokenizerModel::SPM) {
    std::string escaped;
    if (tok.add_space_prefix && after_special) escaped = kSpmSpace;
    escaped += replace_all(text, " ", kSpmSpace);
    if (tok.merge_ranks.empty()) encode_spm_by_score(tok, escaped, out);
    else encode_spm_by_rank(tok, escaped, out);
    return;
  }
  // Byte-level BPE, word by word; words repeat, so remember each one's ids.
  std::unordered_map<std::string_view, std::vector<int32_t>> cache;
  for (std::string_view word : pre_tokenize(tok.pre, text)) {
    auto it = cache.find(word);
    if (it == cache.end()) {
      std::vector<int32_t> ids;
      encode_byte_bpe_word(tok, word, ids);
      it = cache.emplace(word, std::move(ids)).first;
    }
    out.insert(out.end(), it->second.begin(), it->second.end());
  }
}

// The special token written at text[pos] (longest wins), or -1.
int32_t match_special(const Tokenizer& tok, std::string_view text, size_t pos, bool parse_special) {
  for (int32_t id : tok.specials_by_first_byte[static_cast<uint8_t>(text[pos])]) {
    if (!parse_special && tok.types[id] != TokenType::USER_DEFINED) continue;
    if (text.compare(pos, tok.tokens[id].size(), tok.tokens[id]) == 0) return id;
  }
  return -1;
}

}  // namespace

std::vector<int32_t> encode(const Tokenizer& tok, std::string_view text, bool add_bos, bool parse_special) {
  std::vector<int32_t> out;
  if (add_bos && tok.bos_id >= 0) out.push_back(tok.bos_id);
  size_t start = 0;          // start of the text not yet encoded
  bool after_special = true;
  for (size_t pos = 0; pos < text.size();) {
    const int32_t id = match_special(tok, text, pos, parse_special);
    if (id < 0) {
      pos++;
      continue;
    }
    if (pos > start) encode_fragment(tok, text.substr(start, pos - start), after_special, out);
    out.push_back(id);
    pos += tok.tokens[id].size();
    start = pos;
    after_special = true;
  }
  if (text.size() > start) encode_fragment(tok, text.substr(start), after_special, out);
  return out;
}

// ============================================================================================
// Decoding
// ============================================================================================

std::string token_to_bytes(const Tokenizer& tok, int32_t id) {
  if (id < 0 || id >= tok.n_vocab()) return "";
  return tok.token_bytes[id];
}

std::string decode(const Tokenizer& tok, std::span<const int32_t> ids, bool render_special) {
  // SentencePiece put a "▁" in front of the text and after each special token; take it off.
  const bool strips = tok.model == TokenizerModel::SPM && tok.add_space_prefix;
  bool strip_next = strips;
  std::string out;
  for (int32_t id : ids) {
    if (id < 0 || id >= tok.n_vocab()) continue;
    const bool special = tok.is_special(id);
    if (tok.types[id] == TokenType::CONTROL && !render_special) {
      strip_next = strips;
      continue;
    }
    std::string_view piece = tok.token_bytes[id];
    if (strip_next && !special && !piece.empty()) {
      if (piece[0] == ' ') piece.remove_prefix(1);
      strip_next = false;
    }
    out.append(piece);
    if (special) strip_next = strips;
  }
  return out;
}

namespace {

// How many bytes from s[pos] agree with a well-formed UTF-8 sequence (0 when s[pos] cannot
// start one), and in *full the length that sequence would have.
size_t utf8_prefix(std::string_view s, size_t pos, size_t* full) {
  const auto b0 = static_cast<uint8_t>(s[pos]);
  uint8_t lo = 0x80, hi = 0xBF;
  if (b0 < 0x80) { *full = 1; return 1; }
  if (b0 >= 0xC2 && b0 <= 0xDF) *full = 2;
  else if (b0 >= 0xE0 && b0 <= 0xEF) {
    *full = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    *full = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    *full = 1;
    return 0;
  }
  size_t k = 1;
  for (; k < *full && pos + k < s.size(); k++) {
    const auto b = static_cast<uint8_t>(s[pos + k]);
    if (k == 1 ? (b < lo || b > hi) : (b & 0xC0) != 0x80) break;
  }
  return k;
}

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Appends the well-formed part of `bytes` to out (ill-formed parts as U+FFFD) and returns
// how many bytes it used; with keep_tail, an incomplete character at the end is not used.
size_t take_utf8(std::string_view bytes, bool keep_tail, std::string& out) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t full;
    const size_t k = utf8_prefix(bytes, pos, &full);
    if (k == full) {
      out.append(bytes.substr(pos, k));
      pos += k;
    } else if (k > 0 && pos + k == bytes.size() && keep_tail) {
      break;  // the next token may complete it
    } else {
      out.append(kReplacement);
      pos += std::max<size_t>(k, 1);
    }
  }
  return pos;
}

}  // namespace

std::string sanitize_utf8(std::string_view bytes) {
  std::string out;
  take_utf8(bytes, false, out);
  return out;
}

std::string StreamDecoder::push(int32_t id) {
  if (id >= 0 && id < tok_->n_vocab() && (render_special_ || tok_->types[id] != TokenType::CONTROL))
    pending_ += tok_->token_bytes[id];
  std::string out;
  pending_.erase(0, take_utf8(pending_, true, out));
  return out;
}

std::string StreamDecoder::flush() {
  std::string out = sanitize_utf8(pending_);
  pending_.clear();
  return out;
}

}  // namespace loupe
