// The bytes of a file, mapped read-only (natively) or read into memory (wasm), kept alive
// by a shared owner so tensor views can point straight into them.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace loupe {

struct FileBytes {
  std::shared_ptr<const void> owner;
  std::span<const uint8_t> bytes;
};

// Throws loupe::Error naming the path when it cannot be opened or read.
FileBytes map_file(const std::string& path);

}  // namespace loupe
