// safetensors reader, sharded-index reader and writer (see safetensors.h). The layout:
//
//   u64 header_length (little-endian)
//   header_length bytes of JSON: { "__metadata__": {string: string},
//                                  "<name>": {"dtype": "F16", "shape": [rows, cols],
//                                             "data_offsets": [begin, end]}, ... }
//   tensor bytes; [begin, end) are relative to the end of the header
//
// Nothing from the file is trusted: the header length, every offset and every shape is
// checked against the buffer, with overflow-safe arithmetic, before a view is made.
#include "formats/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace loupe {
namespace {

// The safetensors format caps its header at 100 MB; a larger claim is corruption.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// Valid headers nest 3 deep; deeper JSON is refused before it is parsed.
constexpr int kMaxJsonDepth = 16;

[[noreturn]] void corrupt(const std::string& why) { fail("the safetensors file is corrupt: " + why); }

// Deepest nesting of [ and { in JSON text, skipping string contents.
int json_depth(std::string_view text) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); i++) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') i++;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      depth--;
    }
  }
  return deepest;
}

nlohmann::json parse_json(std::string_view text, const std::string& what) {
  if (json_depth(text) > kMaxJsonDepth) fail(what + " nests deeper than any valid one does");
  nlohmann::json json = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) fail(what + " is not valid JSON");
  return json;
}

// The dtypes Loupe reads, and the bytes per value.
struct Dtype { const char* name; TensorType type; size_t size; };
const Dtype kDtypes[] = {
  {"F32", TensorType::F32, 4},
  {"F16", TensorType::F16, 2},
  {"BF16", TensorType::BF16, 2},
};

const Dtype* find_dtype(std::string_view name) {
  for (const Dtype& d : kDtypes) {
    if (name == d.name) return &d;
  }
  return nullptr;
}
const Dtype* find_dtype(TensorType type) {
  for (const Dtype& d : kDtypes) {
    if (type == d.type) return &d;
  }
  return nullptr;
}

// A JSON number that is a non-negative integer, or nullopt-like false.
bool as_u64(const nlohmann::json& j, uint64_t* out) {
  if (!j.is_number_unsigned()) {
    if (j.is_number_integer() && j.get<int64_t>() >= 0) { *out = uint64_t(j.get<int64_t>()); return true; }
    return false;
  }
  *out = j.get<uint64_t>();
  return true;
}

struct Span { uint64_t begin, end; };

}  // namespace

const TensorView* SafetensorsFile::find_tensor(std::string_view name) const {
  for (const TensorView& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

SafetensorsFile read_safetensors(std::span<const uint8_t> bytes) {
  if (bytes.size() < 8) fail("not a safetensors file: it is only " + std::to_string(bytes.size()) + " bytes long");
  uint64_t header_length;
  std::memcpy(&header_length, bytes.data(), 8);
  if (header_length > bytes.size() - 8 || header_length > kMaxHeaderBytes) {
    if (bytes.size() >= 9 && bytes[8] != '{') fail("not a safetensors file: it does not start with a JSON header");
    corrupt("its header claims " + std::to_string(header_length) + " bytes but the file has " +
            std::to_string(bytes.size()) + " bytes");
  }
  if (header_length == 0) corrupt("its JSON header is empty");
  std::string_view header_text(reinterpret_cast<const char*>(bytes.data() + 8), size_t(header_length));
  if (header_text[0] != '{') fail("not a safetensors file: it does not start with a JSON header");
  nlohmann::json header = parse_json(header_text, "the safetensors header");
  if (!header.is_object()) corrupt("its header is not a JSON object");

  const uint8_t* data = bytes.data() + 8 + header_length;
  const uint64_t data_size = bytes.size() - 8 - header_length;
  SafetensorsFile file;
  std::vector<Span> spans;
  for (auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) corrupt("__metadata__ is not a JSON object");
      for (auto& [key, value] : entry.items()) {
        file.metadata[key] = value.is_string() ? value.get<std::string>() : value.dump();
      }
      continue;
    }
    std::string what = "tensor '" + name + "'";
    if (!entry.is_object()) corrupt(what + " is not described by a JSON object");
    auto dtype_it = entry.find("dtype");
    auto shape_it = entry.find("shape");
    auto offsets_it = entry.find("data_offsets");
    if (dtype_it == entry.end() || !dtype_it->is_string()) corrupt(what + " has no dtype");
    if (shape_it == entry.end() || !shape_it->is_array()) corrupt(what + " has no shape");
    if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2) {
      corrupt(what + " has no data_offsets [begin, end]");
    }
    std::string dtype_name = dtype_it->get<std::string>();
    const Dtype* dtype = find_dtype(dtype_name);
    if (!dtype) {
      fail(what + " has dtype " + dtype_name + "; Loupe reads only F32, F16 and BF16 safetensors");
    }
    if (shape_it->size() > 4) {
      corrupt(what + " has " + std::to_string(shape_it->size()) + " dimensions (Loupe reads up to 4)");
    }

    TensorView t;
    t.name = name;
    t.type = dtype->type;
    t.n_dims = std::max(1, int(shape_it->size()));
    uint64_t elements = 1;
    const size_t n_dims = shape_it->size();
    for (size_t d = 0; d < n_dims; d++) {
      uint64_t dim = 0;
      if (!as_u64((*shape_it)[d], &dim)) corrupt(what + " has a shape that is not a list of sizes");
      if (dim > uint64_t(std::numeric_limits<int64_t>::max()) || __builtin_mul_overflow(elements, dim, &elements) ||
          elements > uint64_t(std::numeric_limits<int64_t>::max())) {
        corrupt(what + " has an impossible shape");
      }
      t.shape[n_dims - 1 - d] = int64_t(dim);  // outermost-first -> ggml order
    }
    uint64_t n_bytes = 0;
    if (__builtin_mul_overflow(elements, uint64_t(dtype->size), &n_bytes)) corrupt(what + " has an impossible shape");

    Span span{};
    if (!as_u64((*offsets_it)[0], &span.begin) || !as_u64((*offsets_it)[1], &span.end) || span.begin > span.end) {
      corrupt(what + " has data_offsets that are not a range [begin, end]");
    }
    if (span.end > data_size) {
      corrupt(what + " lies past the end of the file (bytes " + std::to_string(span.begin) + " to " +
              std::to_string(span.end) + " of a " + std::to_string(data_size) + "-byte data section)");
    }
    if (span.end - span.begin != n_bytes) {
      corrupt(what + " takes " + std::to_string(span.end - span.begin) + " bytes but its shape and dtype need " +
              std::to_string(n_bytes));
    }
    t.data = data + span.begin;
    t.bytes = size_t(n_bytes);
    file.tensors.push_back(std::move(t));
    spans.push_back(span);
  }

  // Order the tensors as their bytes lie, and check that no two share bytes.
  std::vector<size_t> order(file.tensors.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return spans[a].begin != spans[b].begin ? spans[a].begin < spans[b].begin : spans[a].end < spans[b].end;
  });
  std::vector<TensorView> sorted;
  sorted.reserve(order.size());
  for (size_t k = 0; k < order.size(); k++) {
    if (k > 0 && spans[order[k - 1]].end > spans[order[k]].begin) {
      corrupt("tensors '" + file.tensors[order[k - 1]].name + "' and '" + file.tensors[order[k]].name + "' overlap");
    }
    sorted.push_back(std::move(file.tensors[order[k]]));
  }
  file.tensors = std::move(sorted);
  return file;
}

std::map<std::string, std::string> read_safetensors_index(std::string_view json_text) {
  nlohmann::json index = parse_json(json_text, "the safetensors index");
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    fail("the safetensors index has no \"weight_map\" object");
  }
  std::map<std::string, std::string> shards;
  for (auto& [name, file] : index["weight_map"].items()) {
    if (!file.is_string()) fail("the safetensors index names no file for tensor '" + name + "'");
    std::string shard = file.get<std::string>();
    // A shard is a file beside the index; anything else could reach outside the model's folder.
    if (shard.empty() || shard == "." || shard == ".." || shard.find_first_of(std::string("/\\\0", 3)) != std::string::npos) {
      fail("the safetensors index names '" + shard + "' for tensor '" + name + "', which is not a plain file name");
    }
    shards[name] = shard;
  }
  return shards;
}

void SafetensorsWriter::add_tensor(std::string name, TensorType dtype, std::vector<int64_t> shape,
                                   std::span<const uint8_t> data) {
  const Dtype* d = find_dtype(dtype);
  if (!d) fail(std::string("safetensors tensors can be F32, F16 or BF16, not ") + type_info(dtype).name);
  if (name == "__metadata__") fail("a tensor cannot be named __metadata__");
  uint64_t elements = 1;
  for (int64_t dim : shape) {
    if (dim < 0 || __builtin_mul_overflow(elements, uint64_t(dim), &elements)) fail("tensor '" + name + "' has an impossible shape");
  }
  if (elements * d->size != data.size()) {
    fail("tensor '" + name + "' should have " + std::to_string(elements * d->size) + " bytes but has " +
         std::to_string(data.size()));
  }
  for (const PendingTensor& t : tensors) {
    if (t.name == name) fail("a tensor named '" + name + "' was already added");
  }
  tensors.push_back({std::move(name), dtype, std::move(shape), std::vector<uint8_t>(data.begin(), data.end())});
}

std::vector<uint8_t> SafetensorsWriter::to_bytes() const {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [key, value] : metadata) meta[key] = value;
    header["__metadata__"] = meta;
  }
  uint64_t offset = 0;
  for (const PendingTensor& t : tensors) {
    header[t.name] = {{"dtype", find_dtype(t.dtype)->name}, {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.data.size()}}};
    offset += t.data.size();
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception&) {
    fail("a safetensors tensor name or metadata value is not valid UTF-8");
  }
  while (text.size() % 8 != 0) text.push_back(' ');  // keep the tensor data 8-byte aligned
  std::vector<uint8_t> out(8 + text.size() + offset);
  uint64_t length = text.size();
  std::memcpy(out.data(), &length, 8);
  std::memcpy(out.data() + 8, text.data(), text.size());
  size_t at = 8 + text.size();
  for (const PendingTensor& t : tensors) {
    if (!t.data.empty()) std::memcpy(out.data() + at, t.data.data(), t.data.size());
    at += t.data.size();
  }
  return out;
}

}  // namespace loupe
