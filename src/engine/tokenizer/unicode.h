// The little Unicode the tokenizers need: decoding UTF-8 one codepoint at a time (never
// failing: a byte that does not start a well-formed sequence is taken alone), encoding a
// codepoint, and the character classes \p{L}, \p{N} and \s of the pre-tokenizer regexes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace loupe::unicode {

enum CodepointFlags : uint8_t { CPT_LETTER = 1, CPT_NUMBER = 2, CPT_WHITESPACE = 4 };

struct CodepointRange {
  uint32_t first, last;
  uint8_t flags;
};
extern const CodepointRange kCodepointRanges[];  // generated: unicode_tables.cpp
extern const size_t kCodepointRangeCount;

// Flags of a codepoint (0 for anything unlisted, including kInvalid).
uint8_t flags(uint32_t cp);
inline bool is_letter(uint32_t cp) { return flags(cp) & CPT_LETTER; }
inline bool is_number(uint32_t cp) { return flags(cp) & CPT_NUMBER; }
inline bool is_whitespace(uint32_t cp) { return flags(cp) & CPT_WHITESPACE; }

// Stands for a byte that is not part of well-formed UTF-8: no class matches it.
constexpr uint32_t kInvalid = 0xFFFFFFFF;

// Length (1..4) of the well-formed UTF-8 sequence at text[pos], or 0 when the bytes there
// are not one (a stray continuation byte, an overlong form, a surrogate, a truncated tail).
size_t utf8_sequence_length(std::string_view text, size_t pos);

// Decodes the codepoint at text[pos] and its length in bytes; an ill-formed byte decodes
// to kInvalid with length 1. pos must be < text.size().
uint32_t decode_utf8(std::string_view text, size_t pos, size_t* length);

// Appends the UTF-8 form of cp (which must be <= 0x10FFFF).
void append_utf8(std::string& out, uint32_t cp);

// True when the whole of `text` is well-formed UTF-8.
bool is_valid_utf8(std::string_view text);

}  // namespace loupe::unicode
