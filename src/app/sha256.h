// SHA-256 (FIPS 180-4), for the model card's fingerprint of a file opened natively.
// The browser uses crypto.subtle.digest for the same number.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace loupe::app {

// Lower-case hex digest of `size` bytes at `data`.
std::string Sha256Hex(const uint8_t* data, size_t size);

}  // namespace loupe::app
