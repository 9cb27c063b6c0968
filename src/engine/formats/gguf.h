// GGUF (v2 and v3) reader and writer. The reader parses a file already in memory (an mmap
// natively, an ArrayBuffer in the browser) and returns views into it: no tensor data is
// copied. Every size, count and offset is checked against the buffer before it is used,
// so a truncated or hostile file ends in a loupe::Error, never an out-of-bounds read.
#pragma once
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.h"

namespace loupe {

enum class GgufValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
  BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};

// One metadata value. Scalars keep their declared type so a file round-trips exactly.
struct GgufValue {
  GgufValueType type = GgufValueType::UINT32;
  GgufValueType array_type = GgufValueType::UINT8;  // element type when type == ARRAY
  uint64_t u64 = 0;      // unsigned integers and bool
  int64_t i64 = 0;       // signed integers
  double f64 = 0;        // FLOAT32 and FLOAT64
  std::string str;       // STRING
  std::vector<GgufValue> array;

  static GgufValue from_u32(uint32_t v);
  static GgufValue from_i32(int32_t v);
  static GgufValue from_u64(uint64_t v);
  static GgufValue from_f32(float v);
  static GgufValue from_bool(bool v);
  static GgufValue from_string(std::string v);
  static GgufValue from_strings(const std::vector<std::string>& v);
  static GgufValue from_f32s(const std::vector<float>& v);
  static GgufValue from_i32s(const std::vector<int32_t>& v);

  bool is_integer() const;
  bool is_number() const;
  double as_number() const;      // any integer or float type; throws otherwise
  int64_t as_int() const;        // any integer type; throws otherwise
  std::string to_display_string(size_t max_array_items = 8) const;  // for model cards
};

struct GgufFile {
  uint32_t version = 3;
  size_t alignment = 32;
  std::vector<std::pair<std::string, GgufValue>> metadata;  // in file order
  std::vector<TensorView> tensors;                            // in file order; views into the buffer

  const GgufValue* find(std::string_view key) const;
  const TensorView* find_tensor(std::string_view name) const;
  // Typed look-ups: nullopt-like defaults when missing, loupe::Error when the type is wrong.
  std::string get_string(std::string_view key, std::string fallback = "") const;
  int64_t get_int(std::string_view key, int64_t fallback) const;
  double get_number(std::string_view key, double fallback) const;
  bool get_bool(std::string_view key, bool fallback) const;
  std::vector<std::string> get_strings(std::string_view key) const;   // empty when missing
  std::vector<float> get_floats(std::string_view key) const;          // empty when missing
  std::vector<int32_t> get_ints(std::string_view key) const;          // empty when missing
};

// Parses `bytes`; the returned views point into `bytes`, which must outlive them.
GgufFile read_gguf(std::span<const uint8_t> bytes);

// Builds a GGUF v3 file in memory. Tensor data is copied in at add time.
struct GgufWriter {
  size_t alignment = 32;
  std::vector<std::pair<std::string, GgufValue>> metadata;
  struct PendingTensor {
    std::string name;
    TensorType type;
    std::vector<int64_t> shape;  // shape[0] contiguous
    std::vector<uint8_t> data;
  };
  std::vector<PendingTensor> tensors;

  void set(std::string key, GgufValue value);  // replaces an existing key
  void add_tensor(std::string name, TensorType type, std::vector<int64_t> shape,
                  std::span<const uint8_t> data);
  // Quantizes f32 values into `type` (which must have from_float) and adds them.
  void add_tensor_f32(std::string name, TensorType type, std::vector<int64_t> shape,
                      std::span<const float> values);
  std::vector<uint8_t> to_bytes() const;
  void write_file(const std::string& path) const;
};

}  // namespace loupe
