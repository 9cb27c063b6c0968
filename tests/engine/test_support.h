// Helpers shared by the engine tests: where the optional ../shared reference data lives,
// a scratch folder, random weight matrices, and a fixture that leaves the kernels and
// threads as it found them.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "core/tensor_types.h"
#include "kernels/dispatch.h"
#include "kernels/thread_pool.h"

namespace loupe::test {

// For tests that switch instruction sets or thread counts: restores the kernels in use
// and one thread afterwards.
class KernelSettingsTest : public ::testing::Test {
 protected:
  void SetUp() override { saved_ = kernel_isa(); }
  void TearDown() override {
    set_kernel_isa(saved_);
    set_thread_count(1);
  }
  KernelIsa saved_ = KernelIsa::Scalar;
};

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

// n seeded normal values with standard deviation `scale`.
inline std::vector<float> random_normal(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// A rows x cols weight matrix of `type` (row-major, from random_normal values) and its view.
struct RandomMatrix {
  std::vector<uint8_t> bytes;
  TensorView view;
  RandomMatrix(TensorType type, int64_t cols, int64_t rows, uint32_t seed) {
    const std::vector<float> values = random_normal(size_t(cols * rows), seed);
    const size_t rb = row_bytes(type, cols);
    bytes.resize(rb * size_t(rows));
    for (int64_t r = 0; r < rows; ++r)
      type_info(type).from_float(values.data() + r * cols, bytes.data() + rb * size_t(r), cols);
    view.name = "w";
    view.type = type;
    view.shape = {cols, rows, 1, 1};
    view.n_dims = 2;
    view.data = bytes.data();
    view.bytes = bytes.size();
  }
};

}  // namespace loupe::test
