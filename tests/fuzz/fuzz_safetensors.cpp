// libFuzzer target for the safetensors reader and index reader: parse any bytes; when
// they parse, read the metadata and dequantize the first rows of each tensor. Any crash,
// sanitizer report or exception other than loupe::Error is a finding.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "formats/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    loupe::SafetensorsFile file = loupe::read_safetensors(std::span<const uint8_t>(data, size));
    size_t total = 0;
    for (const auto& [key, value] : file.metadata) total += key.size() + value.size();
    (void)total;
    for (const loupe::TensorView& t : file.tensors) {
      const int64_t rows = t.rows() < 4 ? t.rows() : 4;
      if (t.row_length() <= 0 || t.row_length() > (int64_t(1) << 20)) continue;
      std::vector<float> row(size_t(t.row_length()));
      for (int64_t r = 0; r < rows; r++) loupe::type_info(t.type).to_float(t.row(r), row.data(), t.row_length());
    }
  } catch (const loupe::Error&) {
  }
  // The same bytes as the text of a model.safetensors.index.json.
  try {
    (void)loupe::read_safetensors_index(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const loupe::Error&) {
  }
  return 0;
}
