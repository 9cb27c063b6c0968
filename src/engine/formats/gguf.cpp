// GGUF reader and writer (see gguf.h). The file layout, all little-endian:
//
//   "GGUF"  u32 version  u64 tensor_count  u64 metadata_count
//   metadata_count x { string key, u32 value_type, value }
//   tensor_count   x { string name, u32 n_dims, u64 dims[n_dims], u32 type, u64 offset }
//   padding to `general.alignment` (default 32)
//   tensor data; each offset is relative to the start of this section and aligned
//
// where a string is { u64 length, bytes } and an array value is { u32 element_type,
// u64 count, elements }. Version 1 used 32-bit counts and lengths; Loupe refuses it.
//
// The reader never trusts a number from the file: each count is checked against the bytes
// left before anything is allocated, and sizes are computed with overflow checks.
#include "formats/gguf.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <numeric>

#include "core/error.h"

namespace loupe {
namespace {

constexpr size_t kDefaultAlignment = 32;
constexpr int kMaxDims = 4;
// Nested arrays deeper than this are refused (real files use at most one level).
constexpr int kMaxArrayDepth = 8;
// Array elements held in memory over all metadata. Each takes ~90 bytes as a GgufValue,
// so this bounds the memory a hostile file can make us allocate (~0.75 GB); real files
// (vocabularies of 256k tokens with merges, scores and types) stay far below.
constexpr uint64_t kMaxMetadataElements = uint64_t(1) << 23;

const char* value_type_name(GgufValueType type) {
  switch (type) {
    case GgufValueType::UINT8: return "uint8";
    case GgufValueType::INT8: return "int8";
    case GgufValueType::UINT16: return "uint16";
    case GgufValueType::INT16: return "int16";
    case GgufValueType::UINT32: return "uint32";
    case GgufValueType::INT32: return "int32";
    case GgufValueType::FLOAT32: return "float32";
    case GgufValueType::BOOL: return "bool";
    case GgufValueType::STRING: return "string";
    case GgufValueType::ARRAY: return "array";
    case GgufValueType::UINT64: return "uint64";
    case GgufValueType::INT64: return "int64";
    case GgufValueType::FLOAT64: return "float64";
  }
  return "unknown";
}

// Bytes one value of a fixed-size type takes in the file; 0 for STRING and ARRAY.
size_t fixed_size(GgufValueType type) {
  switch (type) {
    case GgufValueType::UINT8: case GgufValueType::INT8: case GgufValueType::BOOL: return 1;
    case GgufValueType::UINT16: case GgufValueType::INT16: return 2;
    case GgufValueType::UINT32: case GgufValueType::INT32: case GgufValueType::FLOAT32: return 4;
    case GgufValueType::UINT64: case GgufValueType::INT64: case GgufValueType::FLOAT64: return 8;
    case GgufValueType::STRING: case GgufValueType::ARRAY: return 0;
  }
  return 0;
}

// The fewest bytes one value of `type` can take: strings need their length, arrays their
// element type and count.
size_t min_encoded_size(GgufValueType type) {
  if (type == GgufValueType::STRING) return 8;
  if (type == GgufValueType::ARRAY) return 12;
  return fixed_size(type);
}

// Names of ggml types Loupe does not read, so the error can say what the file holds.
const char* unsupported_type_name(uint32_t id) {
  switch (id) {
    case 4: case 5: return "a removed q4_2/q4_3 type";
    case 10: return "q2_K";
    case 11: return "q3_K";
    case 16: return "iq2_xxs";
    case 17: return "iq2_xs";
    case 18: return "iq3_xxs";
    case 19: return "iq1_s";
    case 20: return "iq4_nl";
    case 21: return "iq3_s";
    case 22: return "iq2_s";
    case 23: return "iq4_xs";
    case 24: return "i8";
    case 25: return "i16";
    case 26: return "i32";
    case 27: return "i64";
    case 28: return "f64";
    case 29: return "iq1_m";
    case 34: return "tq1_0";
    case 35: return "tq2_0";
    case 39: return "mxfp4";
    default: return nullptr;
  }
}

std::string supported_type_list() {
  std::string list;
  for (const TensorTypeInfo& info : all_type_infos()) {
    if (!list.empty()) list += ", ";
    list += info.name;
  }
  return list;
}

bool add_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_add_overflow(a, b, out); }
bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_mul_overflow(a, b, out); }

// ============================================================================
// Reading
// ============================================================================

// A cursor over the file that checks every read against the end.
struct Cursor {
  std::span<const uint8_t> bytes;
  size_t pos = 0;

  size_t left() const { return bytes.size() - pos; }

  void need(uint64_t n, const std::string& what) const {
    if (n > left()) {
      fail("the GGUF file is truncated or corrupt: " + what + " at byte " + std::to_string(pos) +
           " needs " + std::to_string(n) + " bytes but only " + std::to_string(left()) +
           " remain (the file has " + std::to_string(bytes.size()) + " bytes)");
    }
  }
  template <typename T> T read(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, bytes.data() + pos, sizeof(T));  // GGUF is little-endian, as are our targets
    pos += sizeof(T);
    return v;
  }
  std::string read_string(const std::string& what) {
    uint64_t length = read<uint64_t>(what + " (length)");
    need(length, what + " of " + std::to_string(length) + " bytes");
    std::string s(reinterpret_cast<const char*>(bytes.data() + pos), size_t(length));
    pos += size_t(length);
    return s;
  }
};

struct MetadataReader {
  Cursor& in;
  uint64_t elements_left = kMaxMetadataElements;

  GgufValueType read_type(const std::string& what) {
    uint32_t t = in.read<uint32_t>(what);
    if (t > uint32_t(GgufValueType::FLOAT64)) {
      fail("the GGUF file is corrupt: " + what + " is " + std::to_string(t) +
           ", not one of the 13 GGUF value types");
    }
    return GgufValueType(t);
  }

  GgufValue read_value(GgufValueType type, const std::string& what, int depth) {
    GgufValue v;
    v.type = type;
    switch (type) {
      case GgufValueType::UINT8: v.u64 = in.read<uint8_t>(what); break;
      case GgufValueType::INT8: v.i64 = in.read<int8_t>(what); break;
      case GgufValueType::UINT16: v.u64 = in.read<uint16_t>(what); break;
      case GgufValueType::INT16: v.i64 = in.read<int16_t>(what); break;
      case GgufValueType::UINT32: v.u64 = in.read<uint32_t>(what); break;
      case GgufValueType::INT32: v.i64 = in.read<int32_t>(what); break;
      case GgufValueType::UINT64: v.u64 = in.read<uint64_t>(what); break;
      case GgufValueType::INT64: v.i64 = in.read<int64_t>(what); break;
      case GgufValueType::FLOAT32: v.f64 = in.read<float>(what); break;
      case GgufValueType::FLOAT64: v.f64 = in.read<double>(what); break;
      case GgufValueType::BOOL: v.u64 = in.read<uint8_t>(what) != 0; break;
      case GgufValueType::STRING: v.str = in.read_string(what); break;
      case GgufValueType::ARRAY: {
        if (depth >= kMaxArrayDepth) {
          fail("the GGUF file is corrupt: " + what + " nests arrays more than " +
               std::to_string(kMaxArrayDepth) + " deep");
        }
        v.array_type = read_type(what + " (element type)");
        uint64_t count = in.read<uint64_t>(what + " (element count)");
        // Refuse counts the remaining bytes cannot hold before allocating anything.
        if (count > in.left() / min_encoded_size(v.array_type)) {
          fail("the GGUF file is truncated or corrupt: " + what + " claims " + std::to_string(count) +
               " " + value_type_name(v.array_type) + " elements but only " +
               std::to_string(in.left()) + " bytes remain");
        }
        if (count > elements_left) {
          fail("the GGUF file's metadata arrays hold more than " + std::to_string(kMaxMetadataElements) +
               " values in all; Loupe refuses such files to bound memory use");
        }
        elements_left -= count;
        v.array.reserve(size_t(count));
        for (uint64_t i = 0; i < count; i++) {
          v.array.push_back(read_value(v.array_type, what, depth + 1));
        }
        break;
      }
    }
    return v;
  }
};

bool is_power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

bool is_integer_type(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8: case GgufValueType::INT8: case GgufValueType::UINT16:
    case GgufValueType::INT16: case GgufValueType::UINT32: case GgufValueType::INT32:
    case GgufValueType::UINT64: case GgufValueType::INT64: return true;
    default: return false;
  }
}
bool is_number_type(GgufValueType t) {
  return is_integer_type(t) || t == GgufValueType::FLOAT32 || t == GgufValueType::FLOAT64;
}
bool is_unsigned(GgufValueType t) {
  return t == GgufValueType::UINT8 || t == GgufValueType::UINT16 || t == GgufValueType::UINT32 ||
         t == GgufValueType::UINT64 || t == GgufValueType::BOOL;
}

std::string shape_string(const std::array<int64_t, 4>& shape, int n_dims) {
  std::string s = "[";
  for (int d = 0; d < n_dims; d++) s += (d ? ", " : "") + std::to_string(shape[size_t(d)]);
  return s + "]";
}

// Where a tensor's bytes are, before they are checked against the data section.
struct TensorPlacement { uint64_t offset; uint64_t bytes; };

}  // namespace

GgufFile read_gguf(std::span<const uint8_t> bytes) {
  Cursor in{bytes};
  if (bytes.size() < 4 || std::memcmp(bytes.data(), "GGUF", 4) != 0) {
    fail("not a GGUF file: it does not start with the bytes 'GGUF'");
  }
  in.pos = 4;
  GgufFile file;
  file.version = in.read<uint32_t>("the version number");
  if (file.version == 1) {
    fail("this is a GGUF version 1 file (from before September 2023), which Loupe does not read; "
         "convert the model again with a current llama.cpp");
  }
  if (file.version != 2 && file.version != 3) {
    uint32_t swapped = __builtin_bswap32(file.version);
    if (swapped == 2 || swapped == 3) {
      fail("this GGUF file is big-endian; Loupe reads only little-endian GGUF files");
    }
    fail("GGUF version " + std::to_string(file.version) + " is not supported (Loupe reads versions 2 and 3)");
  }
  uint64_t tensor_count = in.read<uint64_t>("the tensor count");
  uint64_t metadata_count = in.read<uint64_t>("the metadata count");
  // A metadata entry takes at least 13 bytes (key length, type, 1-byte value) and a
  // tensor entry at least 32 (name length, n_dims, one dim, type, offset).
  if (metadata_count > in.left() / 13) {
    fail("the GGUF file is truncated or corrupt: it claims " + std::to_string(metadata_count) +
         " metadata entries but has only " + std::to_string(bytes.size()) + " bytes");
  }
  if (tensor_count > in.left() / 32) {
    fail("the GGUF file is truncated or corrupt: it claims " + std::to_string(tensor_count) +
         " tensors but has only " + std::to_string(bytes.size()) + " bytes");
  }

  // --- metadata ---
  MetadataReader meta{in};
  file.metadata.reserve(size_t(metadata_count));
  for (uint64_t i = 0; i < metadata_count; i++) {
    std::string entry = "metadata entry " + std::to_string(i);
    std::string key = in.read_string(entry + " (key)");
    if (file.find(key)) fail("the GGUF file is corrupt: metadata key '" + key + "' appears twice");
    std::string what = "metadata '" + key + "'";
    GgufValueType type = meta.read_type(what + " (type)");
    file.metadata.emplace_back(key, meta.read_value(type, what, 0));
  }
  file.alignment = kDefaultAlignment;
  if (const GgufValue* a = file.find("general.alignment")) {
    if (!a->is_integer() || a->as_number() < 1 || !is_power_of_two(uint64_t(a->as_int())) ||
        a->as_int() > (int64_t(1) << 30)) {
      fail("the GGUF file is corrupt: general.alignment is " + a->to_display_string() +
           ", not a power of two");
    }
    file.alignment = size_t(a->as_int());
  }

  // --- tensor infos ---
  std::vector<TensorPlacement> placements;
  file.tensors.reserve(size_t(tensor_count));
  placements.reserve(size_t(tensor_count));
  for (uint64_t i = 0; i < tensor_count; i++) {
    TensorView t;
    t.name = in.read_string("the name of tensor " + std::to_string(i));
    std::string what = "tensor '" + t.name + "'";
    for (const TensorView& other : file.tensors) {
      if (other.name == t.name) fail("the GGUF file is corrupt: two tensors are named '" + t.name + "'");
    }
    uint32_t n_dims = in.read<uint32_t>(what + " (number of dimensions)");
    if (n_dims < 1 || n_dims > kMaxDims) {
      fail("the GGUF file is corrupt: " + what + " has " + std::to_string(n_dims) +
           " dimensions (Loupe reads 1 to 4)");
    }
    t.n_dims = int(n_dims);
    uint64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
      uint64_t dim = in.read<uint64_t>(what + " (dimension " + std::to_string(d) + ")");
      if (dim > uint64_t(std::numeric_limits<int64_t>::max()) || mul_overflows(elements, dim, &elements) ||
          elements > uint64_t(std::numeric_limits<int64_t>::max())) {
        fail("the GGUF file is corrupt: " + what + " has an impossible size (dimension " +
             std::to_string(d) + " is " + std::to_string(dim) + ")");
      }
      t.shape[d] = int64_t(dim);
    }
    uint32_t type_id = in.read<uint32_t>(what + " (type)");
    const TensorTypeInfo* info = find_type_info(type_id);
    if (!info) {
      const char* name = unsupported_type_name(type_id);
      fail(what + " has tensor type " + std::to_string(type_id) + (name ? std::string(" (") + name + ")" : "") +
           ", which Loupe cannot read; it reads " + supported_type_list());
    }
    t.type = info->type;
    if (t.shape[0] % info->block_size != 0) {
      fail("the GGUF file is corrupt: " + what + " of type " + info->name + " has rows of " +
           std::to_string(t.shape[0]) + " values, not a multiple of its block size " +
           std::to_string(info->block_size));
    }
    uint64_t offset = in.read<uint64_t>(what + " (data offset)");
    if (offset % file.alignment != 0) {
      fail("the GGUF file is corrupt: " + what + " starts at data offset " + std::to_string(offset) +
           ", which is not a multiple of the alignment " + std::to_string(file.alignment));
    }
    uint64_t n_bytes = 0;
    if (mul_overflows(elements / uint64_t(info->block_size), info->block_bytes, &n_bytes)) {
      fail("the GGUF file is corrupt: " + what + " has an impossible size " + shape_string(t.shape, t.n_dims));
    }
    t.bytes = size_t(n_bytes);
    placements.push_back({offset, n_bytes});
    file.tensors.push_back(std::move(t));
  }

  // --- tensor data: after the header, padded to the alignment ---
  uint64_t data_start = (uint64_t(in.pos) + file.alignment - 1) / file.alignment * file.alignment;
  if (!file.tensors.empty() && data_start > bytes.size()) {
    fail("the GGUF file is truncated: it ends before its tensor data begins");
  }
  uint64_t data_size = data_start <= bytes.size() ? bytes.size() - data_start : 0;
  for (size_t i = 0; i < file.tensors.size(); i++) {
    TensorView& t = file.tensors[i];
    uint64_t end = 0;
    if (add_overflows(placements[i].offset, placements[i].bytes, &end) || end > data_size) {
      fail("the GGUF file is truncated or corrupt: tensor '" + t.name + "' " + shape_string(t.shape, t.n_dims) +
           " (" + type_info(t.type).name + ", " + std::to_string(placements[i].bytes) + " bytes at data offset " +
           std::to_string(placements[i].offset) + ") lies past the end of the file");
    }
    t.data = bytes.data() + data_start + placements[i].offset;
  }
  // No two tensors may share bytes.
  std::vector<size_t> order(file.tensors.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return placements[a].offset < placements[b].offset; });
  for (size_t k = 1; k < order.size(); k++) {
    const TensorPlacement& prev = placements[order[k - 1]];
    if (prev.offset + prev.bytes > placements[order[k]].offset) {
      fail("the GGUF file is corrupt: tensors '" + file.tensors[order[k - 1]].name + "' and '" +
           file.tensors[order[k]].name + "' overlap");
    }
  }
  return file;
}

// ============================================================================
// Values
// ============================================================================

GgufValue GgufValue::from_u32(uint32_t v) { GgufValue g; g.type = GgufValueType::UINT32; g.u64 = v; return g; }
GgufValue GgufValue::from_i32(int32_t v) { GgufValue g; g.type = GgufValueType::INT32; g.i64 = v; return g; }
GgufValue GgufValue::from_u64(uint64_t v) { GgufValue g; g.type = GgufValueType::UINT64; g.u64 = v; return g; }
GgufValue GgufValue::from_f32(float v) { GgufValue g; g.type = GgufValueType::FLOAT32; g.f64 = v; return g; }
GgufValue GgufValue::from_bool(bool v) { GgufValue g; g.type = GgufValueType::BOOL; g.u64 = v; return g; }
GgufValue GgufValue::from_string(std::string v) {
  GgufValue g; g.type = GgufValueType::STRING; g.str = std::move(v); return g;
}
GgufValue GgufValue::from_strings(const std::vector<std::string>& v) {
  GgufValue g; g.type = GgufValueType::ARRAY; g.array_type = GgufValueType::STRING;
  for (const std::string& s : v) g.array.push_back(from_string(s));
  return g;
}
GgufValue GgufValue::from_f32s(const std::vector<float>& v) {
  GgufValue g; g.type = GgufValueType::ARRAY; g.array_type = GgufValueType::FLOAT32;
  for (float f : v) g.array.push_back(from_f32(f));
  return g;
}
GgufValue GgufValue::from_i32s(const std::vector<int32_t>& v) {
  GgufValue g; g.type = GgufValueType::ARRAY; g.array_type = GgufValueType::INT32;
  for (int32_t i : v) g.array.push_back(from_i32(i));
  return g;
}

bool GgufValue::is_integer() const { return is_integer_type(type); }
bool GgufValue::is_number() const { return is_number_type(type); }

double GgufValue::as_number() const {
  if (!is_number()) fail(std::string("expected a number but found a ") + value_type_name(type));
  if (type == GgufValueType::FLOAT32 || type == GgufValueType::FLOAT64) return f64;
  return is_unsigned(type) ? double(u64) : double(i64);
}

int64_t GgufValue::as_int() const {
  if (!is_integer()) fail(std::string("expected an integer but found a ") + value_type_name(type));
  if (is_unsigned(type)) {
    if (u64 > uint64_t(std::numeric_limits<int64_t>::max())) fail("the integer " + std::to_string(u64) + " is too large");
    return int64_t(u64);
  }
  return i64;
}

std::string GgufValue::to_display_string(size_t max_array_items) const {
  switch (type) {
    case GgufValueType::STRING: return str;
    case GgufValueType::BOOL: return u64 ? "true" : "false";
    case GgufValueType::FLOAT32: case GgufValueType::FLOAT64: {
      char buffer[64];
      std::snprintf(buffer, sizeof buffer, "%.9g", f64);
      return buffer;
    }
    case GgufValueType::ARRAY: {
      std::string s = "[";
      for (size_t i = 0; i < array.size() && i < max_array_items; i++) {
        if (i) s += ", ";
        s += array[i].type == GgufValueType::STRING ? "\"" + array[i].str + "\"" : array[i].to_display_string(max_array_items);
      }
      if (array.size() > max_array_items) s += ", ... (" + std::to_string(array.size()) + " items)";
      return s + "]";
    }
    default: return is_unsigned(type) ? std::to_string(u64) : std::to_string(i64);
  }
}

// ============================================================================
// Look-ups
// ============================================================================

const GgufValue* GgufFile::find(std::string_view key) const {
  for (const auto& [k, v] : metadata) {
    if (k == key) return &v;
  }
  return nullptr;
}

const TensorView* GgufFile::find_tensor(std::string_view name) const {
  for (const TensorView& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

namespace {
[[noreturn]] void wrong_type(std::string_view key, const char* expected, const GgufValue& v) {
  std::string found = value_type_name(v.type);
  if (v.type == GgufValueType::ARRAY) found += std::string(" of ") + value_type_name(v.array_type);
  fail("GGUF metadata '" + std::string(key) + "' should be " + expected + " but is " + found);
}
}  // namespace

std::string GgufFile::get_string(std::string_view key, std::string fallback) const {
  const GgufValue* v = find(key);
  if (!v) return fallback;
  if (v->type != GgufValueType::STRING) wrong_type(key, "a string", *v);
  return v->str;
}

int64_t GgufFile::get_int(std::string_view key, int64_t fallback) const {
  const GgufValue* v = find(key);
  if (!v) return fallback;
  if (!v->is_integer()) wrong_type(key, "an integer", *v);
  return v->as_int();
}

double GgufFile::get_number(std::string_view key, double fallback) const {
  const GgufValue* v = find(key);
  if (!v) return fallback;
  if (!v->is_number()) wrong_type(key, "a number", *v);
  return v->as_number();
}

bool GgufFile::get_bool(std::string_view key, bool fallback) const {
  const GgufValue* v = find(key);
  if (!v) return fallback;
  if (v->type != GgufValueType::BOOL) wrong_type(key, "a bool", *v);
  return v->u64 != 0;
}

std::vector<std::string> GgufFile::get_strings(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return {};
  if (v->type != GgufValueType::ARRAY || v->array_type != GgufValueType::STRING) wrong_type(key, "an array of strings", *v);
  std::vector<std::string> out;
  out.reserve(v->array.size());
  for (const GgufValue& e : v->array) out.push_back(e.str);
  return out;
}

std::vector<float> GgufFile::get_floats(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return {};
  if (v->type != GgufValueType::ARRAY || !is_number_type(v->array_type)) wrong_type(key, "an array of numbers", *v);
  std::vector<float> out;
  out.reserve(v->array.size());
  for (const GgufValue& e : v->array) out.push_back(float(e.as_number()));
  return out;
}

std::vector<int32_t> GgufFile::get_ints(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return {};
  if (v->type != GgufValueType::ARRAY || !is_integer_type(v->array_type)) wrong_type(key, "an array of integers", *v);
  std::vector<int32_t> out;
  out.reserve(v->array.size());
  for (const GgufValue& e : v->array) {
    int64_t i = e.as_int();
    if (i < std::numeric_limits<int32_t>::min() || i > std::numeric_limits<int32_t>::max()) {
      fail("GGUF metadata '" + std::string(key) + "' holds " + std::to_string(i) + ", too large for a 32-bit integer");
    }
    out.push_back(int32_t(i));
  }
  return out;
}

// ============================================================================
// Writing
// ============================================================================

void GgufWriter::set(std::string key, GgufValue value) {
  for (auto& [k, v] : metadata) {
    if (k == key) { v = std::move(value); return; }
  }
  metadata.emplace_back(std::move(key), std::move(value));
}

void GgufWriter::add_tensor(std::string name, TensorType type, std::vector<int64_t> shape,
                            std::span<const uint8_t> data) {
  const TensorTypeInfo& info = type_info(type);
  // ggml keeps tensor names in 64-byte fields, so llama.cpp refuses longer ones.
  if (name.empty() || name.size() > 63) {
    fail("tensor name '" + name + "' must be 1 to 63 bytes long for llama.cpp to read the file");
  }
  if (shape.empty() || shape.size() > size_t(kMaxDims)) {
    fail("tensor '" + name + "' has " + std::to_string(shape.size()) + " dimensions; GGUF takes 1 to 4");
  }
  uint64_t elements = 1;
  for (int64_t d : shape) {
    if (d < 0 || mul_overflows(elements, uint64_t(d), &elements)) fail("tensor '" + name + "' has an impossible shape");
  }
  if (shape[0] % info.block_size != 0) {
    fail("tensor '" + name + "' has rows of " + std::to_string(shape[0]) + " values, not a multiple of the " +
         info.name + " block size " + std::to_string(info.block_size));
  }
  size_t expected = size_t(elements / uint64_t(info.block_size)) * info.block_bytes;
  if (data.size() != expected) {
    fail("tensor '" + name + "' should have " + std::to_string(expected) + " bytes of " + info.name +
         " data but has " + std::to_string(data.size()));
  }
  for (const PendingTensor& t : tensors) {
    if (t.name == name) fail("a tensor named '" + name + "' was already added");
  }
  tensors.push_back({std::move(name), type, std::move(shape), std::vector<uint8_t>(data.begin(), data.end())});
}

void GgufWriter::add_tensor_f32(std::string name, TensorType type, std::vector<int64_t> shape,
                                std::span<const float> values) {
  const TensorTypeInfo& info = type_info(type);
  if (!info.from_float) fail(std::string("Loupe cannot write tensors of type ") + info.name);
  int64_t elements = 1;
  for (int64_t d : shape) elements *= d;
  if (shape.empty() || elements < 0 || size_t(elements) != values.size()) {
    fail("tensor '" + name + "' is given " + std::to_string(values.size()) + " values for its shape");
  }
  if (elements % info.block_size != 0 || shape[0] % info.block_size != 0) {
    fail("tensor '" + name + "' has rows of " + std::to_string(shape[0]) + " values, not a multiple of the " +
         info.name + " block size " + std::to_string(info.block_size));
  }
  std::vector<uint8_t> data(row_bytes(type, elements));
  info.from_float(values.data(), data.data(), elements);
  add_tensor(std::move(name), type, std::move(shape), data);
}

namespace {

struct ByteWriter {
  std::vector<uint8_t> out;
  template <typename T> void put(T v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out.insert(out.end(), b, b + sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    out.insert(out.end(), s.begin(), s.end());
  }
  void pad_to(size_t alignment) {
    while (out.size() % alignment != 0) out.push_back(0);
  }

  void put_value(const GgufValue& v, const std::string& key) {
    switch (v.type) {
      case GgufValueType::UINT8: put<uint8_t>(uint8_t(v.u64)); break;
      case GgufValueType::INT8: put<int8_t>(int8_t(v.i64)); break;
      case GgufValueType::UINT16: put<uint16_t>(uint16_t(v.u64)); break;
      case GgufValueType::INT16: put<int16_t>(int16_t(v.i64)); break;
      case GgufValueType::UINT32: put<uint32_t>(uint32_t(v.u64)); break;
      case GgufValueType::INT32: put<int32_t>(int32_t(v.i64)); break;
      case GgufValueType::UINT64: put<uint64_t>(v.u64); break;
      case GgufValueType::INT64: put<int64_t>(v.i64); break;
      case GgufValueType::FLOAT32: put<float>(float(v.f64)); break;
      case GgufValueType::FLOAT64: put<double>(v.f64); break;
      case GgufValueType::BOOL: put<uint8_t>(v.u64 ? 1 : 0); break;
      case GgufValueType::STRING: put_string(v.str); break;
      case GgufValueType::ARRAY:
        put<uint32_t>(uint32_t(v.array_type));
        put<uint64_t>(v.array.size());
        for (const GgufValue& e : v.array) {
          if (e.type != v.array_type) {
            fail("metadata '" + key + "' is an array of " + value_type_name(v.array_type) +
                 " holding a " + value_type_name(e.type));
          }
          put_value(e, key);
        }
        break;
      default: fail("metadata '" + key + "' has an unknown value type");
    }
  }
};

}  // namespace

std::vector<uint8_t> GgufWriter::to_bytes() const {
  if (!is_power_of_two(alignment)) fail("the GGUF alignment must be a power of two, not " + std::to_string(alignment));
  // The alignment is recorded whenever it is not the default (and kept in step if set).
  std::vector<std::pair<std::string, GgufValue>> entries = metadata;
  auto existing = std::find_if(entries.begin(), entries.end(), [](const auto& e) { return e.first == "general.alignment"; });
  if (existing != entries.end()) {
    existing->second = GgufValue::from_u32(uint32_t(alignment));
  } else if (alignment != kDefaultAlignment) {
    entries.emplace_back("general.alignment", GgufValue::from_u32(uint32_t(alignment)));
  }

  ByteWriter w;
  for (char c : std::string_view("GGUF")) w.out.push_back(uint8_t(c));
  w.put<uint32_t>(3);
  w.put<uint64_t>(tensors.size());
  w.put<uint64_t>(entries.size());
  for (const auto& [key, value] : entries) {
    w.put_string(key);
    w.put<uint32_t>(uint32_t(value.type));
    w.put_value(value, key);
  }
  uint64_t offset = 0;
  for (const PendingTensor& t : tensors) {
    w.put_string(t.name);
    w.put<uint32_t>(uint32_t(t.shape.size()));
    for (int64_t d : t.shape) w.put<uint64_t>(uint64_t(d));
    w.put<uint32_t>(uint32_t(t.type));
    w.put<uint64_t>(offset);
    offset += (t.data.size() + alignment - 1) / alignment * alignment;
  }
  w.pad_to(alignment);
  for (const PendingTensor& t : tensors) {
    w.out.insert(w.out.end(), t.data.begin(), t.data.end());
    w.pad_to(alignment);  // as ggml does, every tensor (the last too) is padded
  }
  return w.out;
}

void GgufWriter::write_file(const std::string& path) const {
  std::vector<uint8_t> bytes = to_bytes();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail("cannot open '" + path + "' for writing");
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  if (!out) fail("could not write all of '" + path + "' (is the disk full?)");
}

}  // namespace loupe
