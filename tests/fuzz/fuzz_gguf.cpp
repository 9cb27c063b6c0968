// libFuzzer target for the GGUF reader: parse any bytes; when they parse, read every
// metadata value and dequantize the first rows of each tensor, as a model load would.
// Any crash, sanitizer report or exception other than loupe::Error is a finding.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/error.h"
#include "formats/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    loupe::GgufFile file = loupe::read_gguf(std::span<const uint8_t>(data, size));
    for (const auto& [key, value] : file.metadata) {
      (void)value.to_display_string();
      if (value.is_number()) (void)value.as_number();
    }
    (void)file.get_string("general.architecture");
    (void)file.get_strings("tokenizer.ggml.tokens");
    (void)file.get_floats("tokenizer.ggml.scores");
    (void)file.get_ints("tokenizer.ggml.token_type");
    for (const loupe::TensorView& t : file.tensors) {
      const int64_t rows = t.rows() < 4 ? t.rows() : 4;
      if (t.row_length() <= 0 || t.row_length() > (int64_t(1) << 20)) continue;
      std::vector<float> row(size_t(t.row_length()));
      for (int64_t r = 0; r < rows; r++) loupe::type_info(t.type).to_float(t.row(r), row.data(), t.row_length());
    }
  } catch (const loupe::Error&) {
    // A clear refusal is the expected outcome for most inputs.
  }
  return 0;
}
