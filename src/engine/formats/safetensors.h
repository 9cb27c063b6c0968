// safetensors reader and writer. A safetensors file is an 8-byte little-endian header
// length, a JSON header naming each tensor's dtype, shape and byte range, then the raw
// tensor bytes. The reader works over a file already in memory and returns views into it
// (no tensor data copied), checking every offset against the buffer.
//
// Shapes: safetensors (like PyTorch) lists dimensions outermost first; TensorView uses
// ggml order (shape[0] = the contiguous dimension), so the reader reverses them and the
// writer takes row-major (outermost-first) shapes as safetensors does.
#pragma once
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.h"

namespace loupe {

struct SafetensorsFile {
  std::map<std::string, std::string> metadata;  // the header's "__metadata__" (string -> string)
  std::vector<TensorView> tensors;               // in the order of their bytes in the file

  const TensorView* find_tensor(std::string_view name) const;
};

// Parses `bytes`; the returned views point into `bytes`, which must outlive them. Reads
// F32, F16 and BF16 tensors; any other dtype is refused with a loupe::Error.
SafetensorsFile read_safetensors(std::span<const uint8_t> bytes);

// Parses the text of a sharded model's `model.safetensors.index.json` into tensor name ->
// shard file name (e.g. "model-00001-of-00002.safetensors"). Shard names that are not
// plain file names (paths, "..") are refused.
std::map<std::string, std::string> read_safetensors_index(std::string_view json_text);

// Builds a safetensors file in memory (for tests and export).
struct SafetensorsWriter {
  struct PendingTensor {
    std::string name;
    TensorType dtype;             // F32, F16 or BF16
    std::vector<int64_t> shape;   // row-major, outermost first (as safetensors stores it)
    std::vector<uint8_t> data;
  };
  std::map<std::string, std::string> metadata;
  std::vector<PendingTensor> tensors;

  void add_tensor(std::string name, TensorType dtype, std::vector<int64_t> shape,
                  std::span<const uint8_t> data);
  std::vector<uint8_t> to_bytes() const;
};

}  // namespace loupe
