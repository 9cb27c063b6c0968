// Training a byte-level BPE vocabulary (GPT-2's scheme) from text.
//
// The text is split at "<|endoftext|>", each part is cut into words by GPT-2's
// pre-tokenizer (tokenizer/ pre_tokenize), and every distinct word is counted. Each word
// starts as its bytes (token ids 0..255 are the bytes: id b is byte b, written as GPT-2's
// printable byte character). Then, repeatedly, the adjacent pair of tokens that occurs most
// often (counting each word as many times as it appears) becomes a new token, until the
// vocabulary reaches vocab_size - 1 tokens or no pair occurs min_frequency times. The last
// token is <|endoftext|> (a control token, also BOS and EOS).
//
// Ties: among pairs with the same count, the pair with the smaller left token id wins,
// then the smaller right token id (ids are byte values for bytes and creation order for
// merged tokens). So the same text always gives the same vocabulary, on every platform.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace loupe::train {

struct BpeTrainResult {
  Tokenizer tokenizer;
  std::vector<std::pair<std::string, std::string>> merges;  // token texts, in rank order
};

inline constexpr const char* kEndOfText = "<|endoftext|>";

// The printable character GPT-2 writes for byte b ("Ġ" for ' ').
std::string byte_character(int b);

BpeTrainResult train_bpe(std::string_view text, int vocab_size, int min_frequency = 2);

}  // namespace loupe::train
