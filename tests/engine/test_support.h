// Helpers shared by the engine tests: where the optional ../shared reference data lives,
// and a scratch folder.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace loupe::test {

// Path of a file under ../shared/reference, or "" when the shared folder is absent
// (tests then GTEST_SKIP with a message saying so).
inline std::string reference_path(const std::string& relative) {
  std::filesystem::path path = std::filesystem::path(LOUPE_SHARED_DIR) / "reference" / relative;
  return std::filesystem::exists(path) ? path.string() : std::string();
}

#define LOUPE_REQUIRE_REFERENCE(var, relative)                                      \
  const std::string var = ::loupe::test::reference_path(relative);                  \
  if (var.empty()) GTEST_SKIP() << "SKIPPED: ../shared/reference/" << (relative)    \
                                << " not present"

inline std::string scratch_path(const std::string& name) {
  std::filesystem::create_directories(LOUPE_TEST_TMP_DIR);
  return (std::filesystem::path(LOUPE_TEST_TMP_DIR) / name).string();
}

inline std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

}  // namespace loupe::test
