// The bytes of a file, read into memory the loader may rewrite (natively in huge pages), kept alive
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
FileBytes read_file_bytes(const std::string& path);

}  // namespace loupe
