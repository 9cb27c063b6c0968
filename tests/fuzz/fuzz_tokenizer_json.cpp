// libFuzzer target for tokenizer.json parsing: any bytes as tokenizer.json (and, after a
// NUL byte, tokenizer_config.json). When they parse, encode and decode some text and apply
// the chat template. Findings: a crash, a sanitizer report, any exception but loupe::Error.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  const size_t nul = all.find('\0');
  const std::string_view json = all.substr(0, nul);
  const std::string_view config = nul == std::string_view::npos ? std::string_view() : all.substr(nul + 1);
  try {
    const loupe::Tokenizer tok = loupe::tokenizer_from_hf_json(json, config);
    const std::string_view sample = json.substr(0, 200);
    for (bool special : {false, true}) {
      const std::vector<int32_t> ids = loupe::encode(tok, sample, true, special);
      for (int32_t id : ids)
        if (id < 0 || id >= tok.n_vocab()) __builtin_trap();
      (void)loupe::decode(tok, ids, special);
      loupe::StreamDecoder stream(tok);
      for (int32_t id : ids)
        if (!loupe::unicode::is_valid_utf8(stream.push(id))) __builtin_trap();
    }
    (void)loupe::apply_chat_template(tok, {{"system", "s"}, {"user", "u"}, {"assistant", "a"}}, true);
  } catch (const loupe::Error&) {
    // A clear refusal is the expected outcome for most inputs.
  }
  return 0;
}
