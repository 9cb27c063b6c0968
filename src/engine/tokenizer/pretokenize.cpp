// Pre-tokenizers: the regexes byte-level BPE families use to cut text into words, written
// out by hand as small matchers over codepoints (no regex engine: these run on every
// prompt and must behave the same natively and in the browser).
//
// Each matcher answers "where does the match starting at codepoint i end?", trying the
// regex's alternatives in order, as a backtracking regex engine would. Bytes that are not
// well-formed UTF-8 are codepoints of no class (they match [^\s\p{L}\p{N}]), so any input
// is cut into words that concatenate back to it.
#include <vector>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace loupe {

namespace {

// The text as codepoints, with the byte offset where each starts.
struct Codepoints {
  std::vector<uint32_t> cp;       // (n)
  std::vector<uint32_t> offset;   // (n + 1): offset[n] = text size
};

Codepoints to_codepoints(std::string_view text) {
  Codepoints c;
  c.cp.reserve(text.size());
  c.offset.reserve(text.size() + 1);
  for (size_t pos = 0; pos < text.size();) {
    size_t len;
    c.cp.push_back(unicode::decode_utf8(text, pos, &len));
    c.offset.push_back(static_cast<uint32_t>(pos));
    pos += len;
  }
  c.offset.push_back(static_cast<uint32_t>(text.size()));
  return c;
}

bool is_l(uint32_t cp) { return unicode::is_letter(cp); }
bool is_n(uint32_t cp) { return unicode::is_number(cp); }
bool is_s(uint32_t cp) { return unicode::is_whitespace(cp); }
bool is_other(uint32_t cp) { return unicode::flags(cp) == 0; }  // [^\s\p{L}\p{N}]
bool is_newline(uint32_t cp) { return cp == '\r' || cp == '\n'; }
uint32_t ascii_lower(uint32_t cp) { return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp; }

// 's|'t|'re|'ve|'m|'ll|'d at i (case-insensitive for Llama 3 / Qwen2): the end, or 0.
size_t match_contraction(const std::vector<uint32_t>& cp, size_t i, size_t end, bool ignore_case) {
  if (cp[i] != '\'' || i + 1 >= end) return 0;
  auto at = [&](size_t k) { return ignore_case ? ascii_lower(cp[k]) : cp[k]; };
  const uint32_t a = at(i + 1);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
  if (i + 2 >= end) return 0;
  const uint32_t b = at(i + 2);
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
  return 0;
}

// GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
size_t match_gpt2(const std::vector<uint32_t>& cp, size_t i, size_t end) {
  if (size_t e = match_contraction(cp, i, end, false)) return e;
  // ` ?X+` for the three classes: the space is taken only when a class char follows.
  size_t q = (cp[i] == ' ' && i + 1 < end && !is_s(cp[i + 1])) ? i + 1 : i;
  if (!is_s(cp[q])) {
    bool (*same)(uint32_t) = is_l(cp[q]) ? is_l : is_n(cp[q]) ? is_n : is_other;
    size_t e = q + 1;
    while (e < end && same(cp[e])) e++;
    return e;
  }
  // A whitespace run: \s+(?!\S) leaves its last char to the word that follows it.
  size_t e = i + 1;
  while (e < end && is_s(cp[e])) e++;
  if (e < end && e - i >= 2) return e - 1;
  return e;  // up to the end of text, or \s+ of length one
}

// Llama 3 (digits_max 3) and Qwen2 (digits_max 1):
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
// \s*[\r\n]+|\s+(?!\S)|\s+
size_t match_llama3(const std::vector<uint32_t>& cp, size_t i, size_t end, size_t digits_max) {
  if (size_t e = match_contraction(cp, i, end, true)) return e;
  const uint32_t c = cp[i];
  // [^\r\n\p{L}\p{N}]?\p{L}+
  size_t q = (!is_newline(c) && !is_l(c) && !is_n(c) && i + 1 < end && is_l(cp[i + 1])) ? i + 1 : i;
  if (is_l(cp[q])) {
    size_t e = q + 1;
    while (e < end && is_l(cp[e])) e++;
    return e;
  }
  // \p{N}{1,3}
  if (is_n(c)) {
    size_t e = i + 1;
    while (e < end && e - i < digits_max && is_n(cp[e])) e++;
    return e;
  }
  // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
  q = (c == ' ' && i + 1 < end && is_other(cp[i + 1])) ? i + 1 : i;
  if (is_other(cp[q])) {
    size_t e = q + 1;
    while (e < end && is_other(cp[e])) e++;
    while (e < end && is_newline(cp[e])) e++;
    return e;
  }
  // c is whitespace. \s*[\r\n]+: up to and including the run's last newline.
  size_t run_end = i + 1;
  while (run_end < end && is_s(cp[run_end])) run_end++;
  for (size_t k = run_end; k > i; k--)
    if (is_newline(cp[k - 1])) return k;
  // \s+(?!\S) | \s+
  if (run_end < end && run_end - i >= 2) return run_end - 1;
  return run_end;
}

using Matcher = size_t (*)(const std::vector<uint32_t>&, size_t, size_t);

size_t match_llama3_3(const std::vector<uint32_t>& cp, size_t i, size_t end) { return match_llama3(cp, i, end, 3); }
size_t match_qwen2(const std::vector<uint32_t>& cp, size_t i, size_t end) { return match_llama3(cp, i, end, 1); }

// Cuts codepoints [begin, end) into words with `match`, appending byte ranges to `words`.
void split(const Codepoints& c, std::string_view text, size_t begin, size_t end, Matcher match,
           std::vector<std::string_view>& words) {
  for (size_t i = begin; i < end;) {
    size_t e = match(c.cp, i, end);
    words.push_back(text.substr(c.offset[i], c.offset[e] - c.offset[i]));
    i = e;
  }
}

}  // namespace

std::vector<std::string_view> pre_tokenize(PreTokenizer pre, std::string_view text) {
  std::vector<std::string_view> words;
  if (text.empty()) return words;
  if (pre == PreTokenizer::NONE) {
    words.push_back(text);
    return words;
  }
  const Codepoints c = to_codepoints(text);
  const size_t n = c.cp.size();
  switch (pre) {
    case PreTokenizer::GPT2: split(c, text, 0, n, match_gpt2, words); break;
    case PreTokenizer::LLAMA3: split(c, text, 0, n, match_llama3_3, words); break;
    case PreTokenizer::QWEN2: split(c, text, 0, n, match_qwen2, words); break;
    case PreTokenizer::SMOLLM: {
      // \p{N} first: every digit is a word; the text between digits goes through GPT-2's regex.
      size_t start = 0;
      for (size_t i = 0; i < n; i++) {
        if (!is_n(c.cp[i])) continue;
        split(c, text, start, i, match_gpt2, words);
        split(c, text, i, i + 1, match_gpt2, words);
        start = i + 1;
      }
      split(c, text, start, n, match_gpt2, words);
      break;
    }
    case PreTokenizer::NONE: break;
  }
  return words;
}

}  // namespace loupe
