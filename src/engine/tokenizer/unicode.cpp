// UTF-8 decoding and codepoint classes for the tokenizers (see unicode.h).
#include "tokenizer/unicode.h"

#include <algorithm>

namespace loupe::unicode {

uint8_t flags(uint32_t cp) {
  // ASCII is most text: answer it without the binary search.
  if (cp < 0x80) {
    if (cp >= 'a' && cp <= 'z') return CPT_LETTER;
    if (cp >= 'A' && cp <= 'Z') return CPT_LETTER;
    if (cp >= '0' && cp <= '9') return CPT_NUMBER;
    if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return CPT_WHITESPACE;
    return 0;
  }
  const CodepointRange* end = kCodepointRanges + kCodepointRangeCount;
  // First range whose last >= cp.
  const CodepointRange* it = std::lower_bound(
      kCodepointRanges, end, cp, [](const CodepointRange& r, uint32_t v) { return r.last < v; });
  return (it != end && it->first <= cp) ? it->flags : 0;
}

size_t utf8_sequence_length(std::string_view text, size_t pos) {
  auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t b0 = byte(pos);
  if (b0 < 0x80) return 1;
  size_t n;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte (Unicode Table 3-7)
  if (b0 >= 0xC2 && b0 <= 0xDF) n = 2;
  else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) lo = 0xA0;   // no overlong forms
    if (b0 == 0xED) hi = 0x9F;   // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) lo = 0x90;   // no overlong forms
    if (b0 == 0xF4) hi = 0x8F;   // nothing above U+10FFFF
  } else {
    return 0;  // a continuation byte, C0, C1 or F5..FF
  }
  if (pos + n > text.size()) return 0;
  if (byte(pos + 1) < lo || byte(pos + 1) > hi) return 0;
  for (size_t i = 2; i < n; i++)
    if ((byte(pos + i) & 0xC0) != 0x80) return 0;
  return n;
}

uint32_t decode_utf8(std::string_view text, size_t pos, size_t* length) {
  const size_t n = utf8_sequence_length(text, pos);
  const auto* s = reinterpret_cast<const uint8_t*>(text.data()) + pos;
  *length = n == 0 ? 1 : n;
  switch (n) {
    case 1: return s[0];
    case 2: return ((s[0] & 0x1Fu) << 6) | (s[1] & 0x3Fu);
    case 3: return ((s[0] & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
    case 4:
      return ((s[0] & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3Fu);
    default: return kInvalid;
  }
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool is_valid_utf8(std::string_view text) {
  for (size_t pos = 0; pos < text.size();) {
    const size_t n = utf8_sequence_length(text, pos);
    if (n == 0) return false;
    pos += n;
  }
  return true;
}

}  // namespace loupe::unicode
