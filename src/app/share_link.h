// Share links: the state a teacher wants every student to open — model, prompt,
// sampling settings, seed, view, selected token, layer and head — in the URL fragment,
// so nothing is ever sent to a server:
//
//   https://host/loupe/#v=1&view=attention&model=loupe-default&prompt=The%20nurse&seed=7&layer=2&head=1
//
// Format (version 1): "v=1" first, then key=value pairs joined by '&', each value
// percent-encoded as RFC 3986 says (everything but A-Z a-z 0-9 - . _ ~ is %XX of its
// UTF-8 bytes). Keys: view, model, prompt, seed, temperature, top_k, top_p, min_p,
// repeat_penalty, max_tokens, token, layer, head, method. Unknown keys are skipped (a
// newer Loupe may add some); a fragment that is not valid is rejected whole with a
// message for the reader. Encoding and decoding are pure functions.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace loupe::app {

inline constexpr int kShareLinkVersion = 1;
inline constexpr size_t kMaxShareFragment = 64 * 1024;  // bytes, before decoding
inline constexpr size_t kMaxSharePrompt = 16 * 1024;    // bytes of UTF-8, after decoding

struct ShareState {
  std::string view;   // a view's name in lower case: "attention", "logit-lens", ...
  std::string model;  // a bundled model's id, or an https:// URL
  std::string prompt;
  std::optional<uint64_t> seed;
  std::optional<double> temperature, top_p, min_p, repeat_penalty;
  std::optional<int> top_k, max_tokens;
  std::optional<int> token, layer, head;  // selected token position, layer, head
  std::string method;  // attribution method: grad_x_input | integrated_gradients | occlusion

  bool operator==(const ShareState&) const = default;
};

// "v=1&view=...": the fragment without '#'.
std::string EncodeShareFragment(const ShareState& state);

struct ShareDecode {
  bool ok = false;
  bool empty = false;  // no fragment at all: nothing to restore, nothing wrong
  ShareState state;
  std::string error;   // a sentence for the reader when !ok
};
// Accepts the fragment with or without its leading '#'.
ShareDecode DecodeShareFragment(std::string_view fragment);

// RFC 3986 percent-encoding of every byte outside the unreserved set.
std::string PercentEncode(std::string_view text);
// Decodes %XX (and '+' as a space, as forms write it); nullopt on a broken escape.
std::optional<std::string> PercentDecode(std::string_view text);
// True for well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool ValidUtf8(std::string_view text);

}  // namespace loupe::app
