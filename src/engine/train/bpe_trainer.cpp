// Byte-level BPE training (see bpe_trainer.h). Pair counts are kept up to date
// incrementally: merging (a, b) rewrites only the words that hold it, and a max-heap with
// lazy deletion finds the next most frequent pair.
#include "train/bpe_trainer.h"

#include <cstdint>
#include <queue>
#include <unordered_map>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace loupe::train {

std::string byte_character(int b) {
  auto printable = [](int x) { return (x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || x >= 0xAE; };
  uint32_t cp = uint32_t(b);
  if (!printable(b)) {
    cp = 256;
    for (int x = 0; x < b; ++x) cp += !printable(x);
  }
  std::string s;
  unicode::append_utf8(s, cp);
  return s;
}

namespace {
uint64_t key(int32_t a, int32_t b) { return uint64_t(uint32_t(a)) << 32 | uint32_t(b); }

struct Candidate {
  int64_t count;
  uint64_t pair;
  // Max-heap order: higher count first, then smaller (left, right).
  bool operator<(const Candidate& o) const { return count != o.count ? count < o.count : pair > o.pair; }
};
}  // namespace

BpeTrainResult train_bpe(std::string_view text, int vocab_size, int min_frequency) {
  if (vocab_size < 257) fail("a byte-level BPE vocabulary needs more than 256 tokens");
  // Distinct words and their counts, in first-seen order (so ids do not depend on hashing).
  std::unordered_map<std::string_view, int32_t> word_index;
  std::vector<std::vector<int32_t>> words;
  std::vector<int64_t> freq;
  const std::string_view eot = kEndOfText;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(eot, start);
    if (end == std::string_view::npos) end = text.size();
    for (std::string_view w : pre_tokenize(PreTokenizer::GPT2, text.substr(start, end - start))) {
      auto [it, inserted] = word_index.emplace(w, int32_t(words.size()));
      if (inserted) {
        std::vector<int32_t> symbols;
        for (unsigned char ch : w) symbols.push_back(ch);
        words.push_back(std::move(symbols));
        freq.push_back(0);
      }
      freq[size_t(it->second)] += 1;
    }
    if (end == text.size()) break;
    start = end + eot.size();
  }

  std::unordered_map<uint64_t, int64_t> counts;
  std::unordered_map<uint64_t, std::vector<int32_t>> where;  // pair -> words that had it (may repeat)
  for (size_t w = 0; w < words.size(); ++w)
    for (size_t i = 0; i + 1 < words[w].size(); ++i) {
      const uint64_t k = key(words[w][i], words[w][i + 1]);
      counts[k] += freq[w];
      where[k].push_back(int32_t(w));
    }
  std::priority_queue<Candidate> heap;
  for (const auto& [k, n] : counts) heap.push({n, k});

  BpeTrainResult result;
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(byte_character(b));
  std::vector<int64_t> seen(words.size(), -1);
  std::vector<uint64_t> touched;
  while (int(tokens.size()) < vocab_size - 1 && !heap.empty()) {
    const Candidate top = heap.top();
    heap.pop();
    auto found = counts.find(top.pair);
    if (found == counts.end() || found->second != top.count) continue;  // stale entry
    if (top.count < min_frequency) break;
    const int32_t a = int32_t(top.pair >> 32), b = int32_t(top.pair & 0xFFFFFFFFu);
    const int32_t merged = int32_t(tokens.size());
    result.merges.emplace_back(tokens[size_t(a)], tokens[size_t(b)]);
    tokens.push_back(tokens[size_t(a)] + tokens[size_t(b)]);
    touched.clear();
    const std::vector<int32_t> holders = std::move(where[top.pair]);
    where.erase(top.pair);
    for (int32_t w : holders) {
      if (seen[size_t(w)] == merged) continue;
      seen[size_t(w)] = merged;
      std::vector<int32_t>& s = words[size_t(w)];
      bool has = false;
      for (size_t i = 0; i + 1 < s.size() && !has; ++i) has = s[i] == a && s[i + 1] == b;
      if (!has) continue;
      const int64_t f = freq[size_t(w)];
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        const uint64_t k = key(s[i], s[i + 1]);
        counts[k] -= f;
        touched.push_back(k);
      }
      std::vector<int32_t> out;
      for (size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
          out.push_back(merged);
          ++i;
        } else {
          out.push_back(s[i]);
        }
      }
      s = std::move(out);
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        const uint64_t k = key(s[i], s[i + 1]);
        counts[k] += f;
        where[k].push_back(w);
        touched.push_back(k);
      }
    }
    for (uint64_t k : touched) {
      auto it = counts.find(k);
      if (it == counts.end()) continue;
      if (it->second <= 0) {
        counts.erase(it);
        continue;
      }
      heap.push({it->second, k});  // duplicates are harmless: stale ones are skipped
    }
    counts.erase(top.pair);
  }

  tokens.push_back(kEndOfText);
  std::vector<TokenType> types(tokens.size(), TokenType::NORMAL);
  types.back() = TokenType::CONTROL;
  result.tokenizer = make_tokenizer(TokenizerModel::BYTE_BPE, PreTokenizer::GPT2, tokens, result.merges, {}, types);
  result.tokenizer.pre_name = "gpt-2";
  result.tokenizer.bos_id = result.tokenizer.eos_id = int32_t(tokens.size() - 1);
  return result;
}

}  // namespace loupe::train
