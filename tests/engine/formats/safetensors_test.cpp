// Tests of the safetensors reader, index reader and writer: round trips (shapes reversed
// into ggml order), and broken or hostile files, each of which must end in a loupe::Error.
#include "formats/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "core/error.h"
#include "core/half.h"

namespace loupe {
namespace {

std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// A file from a raw JSON header and a data section, padded as the format allows.
std::vector<uint8_t> raw_file(const std::string& header, size_t data_bytes) {
  std::vector<uint8_t> out(8 + header.size() + data_bytes, 0);
  uint64_t length = header.size();
  std::memcpy(out.data(), &length, 8);
  std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

void expect_error(const std::vector<uint8_t>& bytes, const std::string& message_part) {
  try {
    read_safetensors(bytes);
    ADD_FAILURE() << "expected an error mentioning '" << message_part << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(message_part), std::string::npos) << "message: " << e.what();
  }
}

SafetensorsWriter sample_writer() {
  SafetensorsWriter w;
  w.metadata["format"] = "pt";
  w.metadata["note"] = "ünïcode";
  std::vector<float> matrix(2 * 3);
  for (size_t i = 0; i < matrix.size(); i++) matrix[i] = float(i);
  w.add_tensor("model.embed.weight", TensorType::F32, {2, 3}, f32_bytes(matrix));  // 2 rows of 3
  std::vector<uint8_t> half(4 * 2);
  for (int i = 0; i < 4; i++) { uint16_t h = f32_to_f16(float(i) / 2); std::memcpy(half.data() + 2 * i, &h, 2); }
  w.add_tensor("bias", TensorType::F16, {4}, half);
  std::vector<uint8_t> bf(2 * 1 * 2 * 2 * 2);
  for (int i = 0; i < 8; i++) { uint16_t b = f32_to_bf16(float(-i)); std::memcpy(bf.data() + 2 * i, &b, 2); }
  w.add_tensor("four_d", TensorType::BF16, {2, 1, 2, 2}, bf);
  w.add_tensor("scalar", TensorType::F32, {}, f32_bytes({42.0f}));
  w.add_tensor("empty", TensorType::F32, {0, 5}, {});
  return w;
}

TEST(SafetensorsRoundTrip, TensorsAndMetadata) {
  SafetensorsWriter w = sample_writer();
  std::vector<uint8_t> bytes = w.to_bytes();
  uint64_t header_length;
  std::memcpy(&header_length, bytes.data(), 8);
  EXPECT_EQ(header_length % 8, 0u);  // tensor data 8-byte aligned
  SafetensorsFile f = read_safetensors(bytes);
  EXPECT_EQ(f.metadata.at("format"), "pt");
  EXPECT_EQ(f.metadata.at("note"), "ünïcode");
  ASSERT_EQ(f.tensors.size(), 5u);
  EXPECT_EQ(f.tensors[0].name, "model.embed.weight");  // in the order of their bytes

  const TensorView* m = f.find_tensor("model.embed.weight");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->type, TensorType::F32);
  EXPECT_EQ(m->n_dims, 2);
  EXPECT_EQ(m->shape[0], 3);  // row length first (ggml order)
  EXPECT_EQ(m->shape[1], 2);
  EXPECT_EQ(m->rows(), 2);
  float row1[3];
  std::memcpy(row1, m->row(1), 12);
  EXPECT_EQ(row1[0], 3.0f);
  EXPECT_EQ(row1[2], 5.0f);

  const TensorView* b = f.find_tensor("bias");
  EXPECT_EQ(b->type, TensorType::F16);
  EXPECT_EQ(b->shape[0], 4);
  std::vector<float> values(4);
  type_info(b->type).to_float(b->data, values.data(), 4);
  EXPECT_EQ(values[3], 1.5f);

  const TensorView* d = f.find_tensor("four_d");
  EXPECT_EQ(d->type, TensorType::BF16);
  EXPECT_EQ(d->n_dims, 4);
  EXPECT_EQ(d->shape[0], 2);
  EXPECT_EQ(d->shape[1], 2);
  EXPECT_EQ(d->shape[2], 1);
  EXPECT_EQ(d->shape[3], 2);
  EXPECT_EQ(d->bytes, 16u);

  const TensorView* s = f.find_tensor("scalar");
  EXPECT_EQ(s->elements(), 1);
  float v;
  std::memcpy(&v, s->data, 4);
  EXPECT_EQ(v, 42.0f);
  EXPECT_EQ(f.find_tensor("empty")->elements(), 0);
  EXPECT_EQ(f.find_tensor("missing"), nullptr);
}

TEST(SafetensorsRoundTrip, HandWrittenHeader) {
  // As Hugging Face writes them: any key order, spaces, offsets relative to the data.
  std::string header = R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}, "a" : {"data_offsets":[0,4],"shape":[1],"dtype":"F32"}})";
  std::vector<uint8_t> bytes = raw_file(header, 8);
  float one = 1, two = 2;
  std::memcpy(bytes.data() + 8 + header.size(), &one, 4);
  std::memcpy(bytes.data() + 8 + header.size() + 4, &two, 4);
  SafetensorsFile f = read_safetensors(bytes);
  ASSERT_EQ(f.tensors.size(), 2u);
  EXPECT_EQ(f.tensors[0].name, "a");
  float got;
  std::memcpy(&got, f.find_tensor("b")->data, 4);
  EXPECT_EQ(got, 2.0f);
  EXPECT_TRUE(f.metadata.empty());
}

TEST(SafetensorsWriter, RefusesBadTensors) {
  SafetensorsWriter w;
  EXPECT_THROW(w.add_tensor("x", TensorType::Q8_0, {32}, std::vector<uint8_t>(34)), Error);
  EXPECT_THROW(w.add_tensor("x", TensorType::F32, {3}, std::vector<uint8_t>(8)), Error);
  EXPECT_THROW(w.add_tensor("__metadata__", TensorType::F32, {1}, std::vector<uint8_t>(4)), Error);
  w.add_tensor("x", TensorType::F32, {1}, std::vector<uint8_t>(4));
  EXPECT_THROW(w.add_tensor("x", TensorType::F32, {1}, std::vector<uint8_t>(4)), Error);
}

TEST(SafetensorsIndex, MapsTensorsToShards) {
  auto shards = read_safetensors_index(R"({"metadata":{"total_size":123},
    "weight_map":{"a.weight":"model-00001-of-00002.safetensors","b.weight":"model-00002-of-00002.safetensors"}})");
  EXPECT_EQ(shards.size(), 2u);
  EXPECT_EQ(shards.at("b.weight"), "model-00002-of-00002.safetensors");
  EXPECT_THROW(read_safetensors_index("{}"), Error);
  EXPECT_THROW(read_safetensors_index("not json"), Error);
  EXPECT_THROW(read_safetensors_index(R"({"weight_map":[1]})"), Error);
  EXPECT_THROW(read_safetensors_index(R"({"weight_map":{"a":3}})"), Error);
  EXPECT_THROW(read_safetensors_index(R"({"weight_map":{"a":"../../etc/passwd"}})"), Error);
  EXPECT_THROW(read_safetensors_index(R"({"weight_map":{"a":"/abs.safetensors"}})"), Error);
  EXPECT_THROW(read_safetensors_index(R"({"weight_map":{"a":"..\\x"}})"), Error);
  EXPECT_THROW(read_safetensors_index(R"({"weight_map":{"a":""}})"), Error);
}

TEST(SafetensorsBadFiles, HeaderLength) {
  expect_error({}, "not a safetensors file");
  expect_error({1, 2, 3}, "not a safetensors file");
  std::vector<uint8_t> bytes = sample_writer().to_bytes();
  for (uint64_t length : {uint64_t(0), uint64_t(1), uint64_t(bytes.size()), uint64_t(1) << 40, ~uint64_t(0)}) {
    std::vector<uint8_t> bad = bytes;
    std::memcpy(bad.data(), &length, 8);
    EXPECT_THROW(read_safetensors(bad), Error) << length;
  }
  // A GGUF file (or anything else) is not a safetensors file.
  expect_error({'G', 'G', 'U', 'F', 3, 0, 0, 0, 0, 0, 0, 0}, "safetensors");
  // Every truncation of a valid file fails.
  SafetensorsWriter w = sample_writer();
  for (size_t length = 0; length < bytes.size(); length++) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + std::ptrdiff_t(length));
    EXPECT_THROW(read_safetensors(prefix), Error) << "length " << length;
  }
}

TEST(SafetensorsBadFiles, BadJson) {
  expect_error(raw_file("{", 0), "not valid JSON");
  expect_error(raw_file("{\"a\":}", 0), "not valid JSON");
  expect_error(raw_file("{\"a\":1} trailing", 0), "not valid JSON");
  expect_error(raw_file("[1, 2]", 0), "not a safetensors file");
  expect_error(raw_file("{\"a\": 1}", 0), "not described by a JSON object");
  expect_error(raw_file(std::string("{\"a\":") + std::string(100000, '[') + std::string(100000, ']') + "}", 0), "nests");
  expect_error(raw_file("{\"__metadata__\": [1]}", 0), "__metadata__");
  expect_error(raw_file(R"({"a":{"shape":[1],"data_offsets":[0,4]}})", 4), "no dtype");
  expect_error(raw_file(R"({"a":{"dtype":"F32","data_offsets":[0,4]}})", 4), "no shape");
  expect_error(raw_file(R"({"a":{"dtype":"F32","shape":[1]}})", 4), "data_offsets");
  expect_error(raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", 4), "data_offsets");
  expect_error(raw_file(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4), "shape");
  expect_error(raw_file(R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4), "shape");
  expect_error(raw_file(R"({"a":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}})", 4), "shape");
  expect_error(raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})", 4), "data_offsets");
  expect_error(raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 4), "data_offsets");
  expect_error(raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,1e30]}})", 4), "data_offsets");
}

TEST(SafetensorsBadFiles, OffsetsDtypesAndShapes) {
  // In range but past the end of the data.
  expect_error(raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4), "past the end");
  expect_error(raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[18446744073709551612,18446744073709551615]}})", 4),
               "past the end");
  // Shape and bytes disagree.
  expect_error(raw_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 16), "need 12");
  expect_error(raw_file(R"({"a":{"dtype":"F16","shape":[2,2],"data_offsets":[0,4]}})", 16), "need 8");
  // Shapes whose byte size overflows.
  expect_error(raw_file(R"({"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,4]}})", 4), "impossible");
  expect_error(raw_file(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", 4), "impossible");
  expect_error(raw_file(R"({"a":{"dtype":"F32","shape":[1,1,1,1,1],"data_offsets":[0,4]}})", 4), "dimensions");
  // Overlapping tensors.
  expect_error(raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8),
               "overlap");
  expect_error(raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 8),
               "overlap");
  // Dtypes Loupe does not read.
  for (const char* dtype : {"I64", "F64", "U8", "BOOL", "F8_E4M3", "f32"}) {
    expect_error(raw_file(std::string(R"({"a":{"dtype":")") + dtype + R"(","shape":[1],"data_offsets":[0,8]}})", 8),
                 std::string("dtype ") + dtype);
  }
  expect_error(raw_file(R"({"a":{"dtype":5,"shape":[1],"data_offsets":[0,4]}})", 4), "no dtype");
}

// Random corruption of a valid file: a file or a loupe::Error, never a crash.
TEST(SafetensorsBadFiles, RandomCorruptionNeverCrashes) {
  std::vector<uint8_t> bytes = sample_writer().to_bytes();
  std::mt19937 rng(9);
  int errors = 0;
  for (int trial = 0; trial < 3000; trial++) {
    std::vector<uint8_t> bad = bytes;
    int flips = 1 + int(rng() % 3);
    for (int i = 0; i < flips; i++) bad[rng() % bad.size()] = uint8_t(rng() % 4 == 0 ? "0123456789[]{},\""[rng() % 16] : rng());
    try {
      SafetensorsFile f = read_safetensors(bad);
      for (const TensorView& t : f.tensors) {
        std::vector<float> values(size_t(t.elements()));
        type_info(t.type).to_float(t.data, values.data(), t.elements());
      }
    } catch (const Error&) {
      errors++;
    }
  }
  EXPECT_GT(errors, 100);
}

}  // namespace
}  // namespace loupe
