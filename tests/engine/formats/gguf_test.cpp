// Tests of the GGUF reader and writer: writer -> reader round trips of every metadata type
// and several tensor types, the reference files from ../shared, and broken or hostile
// files (each must end in a loupe::Error, never a crash; the debug preset runs these
// under AddressSanitizer and UndefinedBehaviorSanitizer).
#include "formats/gguf.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "core/error.h"
#include "test_support.h"

namespace loupe {
namespace {

// ---------------------------------------------------------------------------
// A hand-built GGUF, for files the writer would never produce
// ---------------------------------------------------------------------------

struct RawGguf {
  std::vector<uint8_t> bytes;
  template <typename T> RawGguf& put(T v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    bytes.insert(bytes.end(), b, b + sizeof(T));
    return *this;
  }
  RawGguf& str(const std::string& s) {
    put<uint64_t>(s.size());
    bytes.insert(bytes.end(), s.begin(), s.end());
    return *this;
  }
  RawGguf& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    for (char c : std::string_view("GGUF")) bytes.push_back(uint8_t(c));
    return put<uint32_t>(version).put<uint64_t>(n_tensors).put<uint64_t>(n_kv);
  }
  RawGguf& tensor_info(const std::string& name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset) {
    str(name).put<uint32_t>(uint32_t(dims.size()));
    for (uint64_t d : dims) put<uint64_t>(d);
    return put<uint32_t>(type).put<uint64_t>(offset);
  }
  RawGguf& pad(size_t alignment = 32) {
    while (bytes.size() % alignment) bytes.push_back(0);
    return *this;
  }
  RawGguf& zeros(size_t n) {
    bytes.insert(bytes.end(), n, 0);
    return *this;
  }
};

void expect_error(const std::vector<uint8_t>& bytes, const std::string& message_part) {
  try {
    read_gguf(bytes);
    ADD_FAILURE() << "expected an error mentioning '" << message_part << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(message_part), std::string::npos) << "message: " << e.what();
  }
}

// Two f32 tensors of 8 values, valid as given; tests change one thing.
RawGguf two_tensor_file(uint64_t second_offset = 32, uint32_t second_type = 0) {
  RawGguf f;
  f.header(2, 1).str("general.architecture").put<uint32_t>(8).str("llama");
  f.tensor_info("a", {8}, 0, 0).tensor_info("b", {8}, second_type, second_offset).pad().zeros(64);
  return f;
}

// ---------------------------------------------------------------------------
// A file with every metadata type and several tensor types
// ---------------------------------------------------------------------------

GgufValue scalar(GgufValueType type, uint64_t u, int64_t i, double f) {
  GgufValue v;
  v.type = type;
  v.u64 = u;
  v.i64 = i;
  v.f64 = f;
  return v;
}

GgufWriter full_writer(size_t alignment) {
  GgufWriter w;
  w.alignment = alignment;
  w.set("general.architecture", GgufValue::from_string("llama"));
  w.set("u8", scalar(GgufValueType::UINT8, 250, 0, 0));
  w.set("i8", scalar(GgufValueType::INT8, 0, -120, 0));
  w.set("u16", scalar(GgufValueType::UINT16, 65000, 0, 0));
  w.set("i16", scalar(GgufValueType::INT16, 0, -32000, 0));
  w.set("u32", GgufValue::from_u32(4000000000u));
  w.set("i32", GgufValue::from_i32(-2000000000));
  w.set("f32", GgufValue::from_f32(1.5e-5f));
  w.set("bool", GgufValue::from_bool(true));
  w.set("string", GgufValue::from_string("héllo\nworld"));
  w.set("empty string", GgufValue::from_string(""));
  w.set("u64", GgufValue::from_u64(18000000000000000000ull));
  w.set("i64", scalar(GgufValueType::INT64, 0, -9000000000000000000ll, 0));
  w.set("f64", scalar(GgufValueType::FLOAT64, 0, 0, 3.141592653589793));
  w.set("strings", GgufValue::from_strings({"a", "", "c c"}));
  w.set("floats", GgufValue::from_f32s({1.0f, -2.5f, 1e30f}));
  w.set("ints", GgufValue::from_i32s({1, -2, 2147483647}));
  GgufValue empty;
  empty.type = GgufValueType::ARRAY;
  empty.array_type = GgufValueType::UINT64;
  w.set("empty array", empty);
  GgufValue nested;  // array of arrays of int32
  nested.type = GgufValueType::ARRAY;
  nested.array_type = GgufValueType::ARRAY;
  nested.array.push_back(GgufValue::from_i32s({1, 2}));
  nested.array.push_back(GgufValue::from_i32s({}));
  nested.array.push_back(GgufValue::from_i32s({3}));
  w.set("nested", nested);
  GgufValue bools;
  bools.type = GgufValueType::ARRAY;
  bools.array_type = GgufValueType::BOOL;
  bools.array = {GgufValue::from_bool(false), GgufValue::from_bool(true)};
  w.set("bools", bools);

  std::mt19937 rng(1);
  std::normal_distribution<float> dist;
  auto values = [&](size_t n) { std::vector<float> v(n); for (float& x : v) x = dist(rng); return v; };
  w.add_tensor_f32("f32.weight", TensorType::F32, {7, 3}, values(21));
  w.add_tensor_f32("f16.weight", TensorType::F16, {5}, values(5));
  w.add_tensor_f32("q8_0.weight", TensorType::Q8_0, {64, 2}, values(128));
  w.add_tensor_f32("q4_k.weight", TensorType::Q4_K, {256, 2, 1, 2}, values(1024));
  w.add_tensor_f32("q6_k.weight", TensorType::Q6_K, {512}, values(512));
  w.add_tensor_f32("bf16.weight", TensorType::BF16, {3, 1, 2}, values(6));
  return w;
}

TEST(GgufRoundTrip, EveryMetadataTypeAndTensorType) {
  for (size_t alignment : {32, 64, 8}) {
    SCOPED_TRACE("alignment " + std::to_string(alignment));
    GgufWriter w = full_writer(alignment);
    std::vector<uint8_t> bytes = w.to_bytes();
    GgufFile f = read_gguf(bytes);
    EXPECT_EQ(f.version, 3u);
    EXPECT_EQ(f.alignment, alignment);
    EXPECT_EQ(f.metadata.size(), w.metadata.size() + (alignment != 32 ? 1 : 0));
    for (size_t i = 0; i < w.metadata.size(); i++) {
      EXPECT_EQ(f.metadata[i].first, w.metadata[i].first);  // file order kept
    }
    EXPECT_EQ(f.get_string("general.architecture"), "llama");
    EXPECT_EQ(f.find("u8")->type, GgufValueType::UINT8);
    EXPECT_EQ(f.get_int("u8", 0), 250);
    EXPECT_EQ(f.get_int("i8", 0), -120);
    EXPECT_EQ(f.get_int("u16", 0), 65000);
    EXPECT_EQ(f.get_int("i16", 0), -32000);
    EXPECT_EQ(f.get_int("u32", 0), 4000000000ll);
    EXPECT_EQ(f.find("u32")->type, GgufValueType::UINT32);
    EXPECT_EQ(f.get_int("i32", 0), -2000000000);
    EXPECT_EQ(f.get_number("f32", 0), double(1.5e-5f));
    EXPECT_EQ(f.find("f32")->type, GgufValueType::FLOAT32);
    EXPECT_TRUE(f.get_bool("bool", false));
    EXPECT_EQ(f.get_string("string"), "héllo\nworld");
    EXPECT_EQ(f.get_string("empty string", "x"), "");
    EXPECT_EQ(f.find("u64")->u64, 18000000000000000000ull);
    EXPECT_THROW(f.get_int("u64", 0), Error);  // does not fit int64
    EXPECT_EQ(f.get_int("i64", 0), -9000000000000000000ll);
    EXPECT_EQ(f.get_number("f64", 0), 3.141592653589793);
    EXPECT_EQ(f.get_strings("strings"), (std::vector<std::string>{"a", "", "c c"}));
    EXPECT_EQ(f.get_floats("floats"), (std::vector<float>{1.0f, -2.5f, 1e30f}));
    EXPECT_EQ(f.get_ints("ints"), (std::vector<int32_t>{1, -2, 2147483647}));
    EXPECT_EQ(f.find("empty array")->array_type, GgufValueType::UINT64);
    EXPECT_TRUE(f.find("empty array")->array.empty());
    const GgufValue* nested = f.find("nested");
    ASSERT_NE(nested, nullptr);
    ASSERT_EQ(nested->array.size(), 3u);
    EXPECT_EQ(nested->array[0].array[1].i64, 2);
    EXPECT_TRUE(nested->array[1].array.empty());
    EXPECT_EQ(nested->array[2].array_type, GgufValueType::INT32);
    EXPECT_EQ(f.find("bools")->array[1].u64, 1u);

    // Fallbacks and type errors of the typed look-ups.
    EXPECT_EQ(f.get_int("missing", 7), 7);
    EXPECT_EQ(f.get_string("missing", "fallback"), "fallback");
    EXPECT_TRUE(f.get_strings("missing").empty());
    EXPECT_THROW(f.get_string("u32"), Error);
    EXPECT_THROW(f.get_int("string", 0), Error);
    EXPECT_THROW(f.get_bool("u8", false), Error);
    EXPECT_THROW(f.get_strings("ints"), Error);
    EXPECT_THROW(f.get_ints("floats"), Error);
    EXPECT_EQ(f.get_floats("ints"), (std::vector<float>{1.0f, -2.0f, 2147483647.0f}));

    // Tensors: same names, types, shapes and bytes, aligned in the file.
    ASSERT_EQ(f.tensors.size(), w.tensors.size());
    for (size_t i = 0; i < w.tensors.size(); i++) {
      const TensorView& t = f.tensors[i];
      const GgufWriter::PendingTensor& p = w.tensors[i];
      SCOPED_TRACE(p.name);
      EXPECT_EQ(t.name, p.name);
      EXPECT_EQ(t.type, p.type);
      EXPECT_EQ(t.n_dims, int(p.shape.size()));
      for (size_t d = 0; d < 4; d++) EXPECT_EQ(t.shape[d], d < p.shape.size() ? p.shape[d] : 1);
      ASSERT_EQ(t.bytes, p.data.size());
      EXPECT_EQ(std::memcmp(t.data, p.data.data(), t.bytes), 0);
      EXPECT_EQ(size_t(t.data - bytes.data()) % alignment, 0u);
      EXPECT_EQ(t.bytes, t.bytes_per_row() * size_t(t.rows()));
    }
    EXPECT_EQ(f.find_tensor("q4_k.weight")->shape[3], 2);
    EXPECT_EQ(f.find_tensor("nope"), nullptr);
    EXPECT_EQ(bytes.size() % alignment, 0u);  // the last tensor is padded too
  }
}

TEST(GgufRoundTrip, WritesAndReadsAFile) {
  GgufWriter w = full_writer(32);
  std::string path = test::scratch_path("round_trip.gguf");
  w.write_file(path);
  std::vector<uint8_t> bytes = test::read_file_bytes(path);
  EXPECT_EQ(bytes, w.to_bytes());
  EXPECT_EQ(read_gguf(bytes).tensors.size(), 6u);
}

TEST(GgufRoundTrip, DisplayStrings) {
  GgufFile f = read_gguf(full_writer(32).to_bytes());
  EXPECT_EQ(f.find("u32")->to_display_string(), "4000000000");
  EXPECT_EQ(f.find("i8")->to_display_string(), "-120");
  EXPECT_EQ(f.find("bool")->to_display_string(), "true");
  EXPECT_EQ(f.find("strings")->to_display_string(2), "[\"a\", \"\", ... (3 items)]");
  EXPECT_EQ(f.find("nested")->to_display_string(), "[[1, 2], [], [3]]");
}

TEST(GgufWriter, RefusesBadTensors) {
  GgufWriter w;
  std::vector<uint8_t> data(18);
  EXPECT_THROW(w.add_tensor("x", TensorType::Q4_0, {33}, data), Error);       // not whole blocks
  EXPECT_THROW(w.add_tensor("x", TensorType::Q4_0, {64}, data), Error);       // too few bytes
  EXPECT_THROW(w.add_tensor("x", TensorType::Q4_0, {32, 1, 1, 1, 1}, data), Error);  // 5 dims
  EXPECT_THROW(w.add_tensor(std::string(64, 'n'), TensorType::Q4_0, {32}, data), Error);  // llama.cpp's limit
  w.add_tensor("x", TensorType::Q4_0, {32}, data);
  EXPECT_THROW(w.add_tensor("x", TensorType::Q4_0, {32}, data), Error);       // same name
  std::vector<float> values(10);
  EXPECT_THROW(w.add_tensor_f32("y", TensorType::F32, {11}, values), Error);  // count mismatch
  w.alignment = 24;
  EXPECT_THROW(w.to_bytes(), Error);
}

// ---------------------------------------------------------------------------
// The reference files
// ---------------------------------------------------------------------------

void check_all_tensors_dequantize(const GgufFile& f) {
  for (const TensorView& t : f.tensors) {
    SCOPED_TRACE(t.name);
    ASSERT_GE(t.n_dims, 1);
    ASSERT_EQ(t.bytes, t.bytes_per_row() * size_t(t.rows()));
    std::vector<float> row(size_t(t.row_length()));
    for (int64_t r = 0; r < t.rows(); r++) {
      type_info(t.type).to_float(t.row(r), row.data(), t.row_length());
      for (float v : row) ASSERT_TRUE(std::isfinite(v)) << "row " << r;
    }
  }
}

void check_reference_model(const std::string& file, const std::string& architecture, TensorType main_type) {
  LOUPE_REQUIRE_REFERENCE(path, "models/" + file);
  std::vector<uint8_t> bytes = test::read_file_bytes(path);
  GgufFile f = read_gguf(bytes);
  EXPECT_GE(f.version, 2u);
  EXPECT_EQ(f.get_string("general.architecture"), architecture);
  EXPECT_GT(f.get_int(architecture + ".block_count", 0), 0);
  EXPECT_GT(f.get_strings("tokenizer.ggml.tokens").size(), 1000u);
  EXPECT_GT(f.tensors.size(), 10u);
  const TensorView* embd = f.find_tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->n_dims, 2);
  EXPECT_EQ(embd->shape[1], int64_t(f.get_strings("tokenizer.ggml.tokens").size()));
  EXPECT_EQ(embd->shape[0], f.get_int(architecture + ".embedding_length", 0));
  bool has_main_type = false;
  for (const TensorView& t : f.tensors) has_main_type |= t.type == main_type;
  EXPECT_TRUE(has_main_type) << "no tensor of type " << type_info(main_type).name;
  check_all_tensors_dequantize(f);
}

TEST(GgufReference, LlamaF32) { check_reference_model("ref-llama-f32.gguf", "llama", TensorType::F32); }
TEST(GgufReference, LlamaQ8_0) { check_reference_model("ref-llama-q8_0.gguf", "llama", TensorType::Q8_0); }
TEST(GgufReference, LlamaQ4_0) { check_reference_model("ref-llama-q4_0.gguf", "llama", TensorType::Q4_0); }
TEST(GgufReference, Gpt2F32) { check_reference_model("ref-gpt2-f32.gguf", "gpt2", TensorType::F32); }
TEST(GgufReference, Gpt2Q8_0) { check_reference_model("ref-gpt2-q8_0.gguf", "gpt2", TensorType::Q8_0); }
TEST(GgufReference, Gpt2Q4_0) { check_reference_model("ref-gpt2-q4_0.gguf", "gpt2", TensorType::Q4_0); }

TEST(GgufReference, LlamaShapesAsDocumented) {
  LOUPE_REQUIRE_REFERENCE(path, "models/ref-llama-q4_0.gguf");
  std::vector<uint8_t> bytes = test::read_file_bytes(path);
  GgufFile f = read_gguf(bytes);
  EXPECT_EQ(f.get_int("llama.embedding_length", 0), 128);
  EXPECT_EQ(f.get_int("llama.block_count", 0), 4);
  EXPECT_EQ(f.get_int("llama.attention.head_count_kv", 0), 2);
  EXPECT_EQ(f.find_tensor("output.weight"), nullptr);  // tied to token_embd
  const TensorView* wk = f.find_tensor("blk.0.attn_k.weight");
  ASSERT_NE(wk, nullptr);
  EXPECT_EQ(wk->shape[0], 128);
  EXPECT_EQ(wk->shape[1], 32);  // 2 KV heads x 16
  EXPECT_EQ(f.find_tensor("blk.0.attn_norm.weight")->type, TensorType::F32);
  // The same weights in f32 and q8_0 agree to Q8_0 precision.
  LOUPE_REQUIRE_REFERENCE(path_f32, "models/ref-llama-f32.gguf");
  LOUPE_REQUIRE_REFERENCE(path_q8, "models/ref-llama-q8_0.gguf");
  std::vector<uint8_t> bytes_f32 = test::read_file_bytes(path_f32), bytes_q8 = test::read_file_bytes(path_q8);
  GgufFile f32 = read_gguf(bytes_f32), q8 = read_gguf(bytes_q8);
  const TensorView* a = f32.find_tensor("blk.1.ffn_down.weight");
  const TensorView* b = q8.find_tensor("blk.1.ffn_down.weight");
  ASSERT_TRUE(a && b);
  ASSERT_EQ(b->type, TensorType::Q8_0);
  std::vector<float> x(size_t(a->elements())), y(size_t(b->elements()));
  type_info(a->type).to_float(a->data, x.data(), a->elements());
  type_info(b->type).to_float(b->data, y.data(), b->elements());
  double err = 0, ref = 0;
  for (size_t i = 0; i < x.size(); i++) { err += (x[i] - y[i]) * (x[i] - y[i]); ref += x[i] * x[i]; }
  EXPECT_LT(std::sqrt(err / ref), 0.01);
  // And quantizing the f32 weights ourselves gives llama.cpp's bytes (its Q8_0 reference
  // quantizer rounds away from zero at ties, ours to even: ties are vanishingly rare).
  std::vector<uint8_t> ours(b->bytes);
  type_info(TensorType::Q8_0).from_float(x.data(), ours.data(), a->elements());
  size_t differing = 0;
  for (size_t i = 0; i < ours.size(); i++) differing += ours[i] != b->data[i];
  EXPECT_LE(differing, ours.size() / 10000);
}

void check_reference_vocab(const std::string& file, const std::string& model, size_t n_tokens) {
  LOUPE_REQUIRE_REFERENCE(path, "tokenizers/" + file);
  std::vector<uint8_t> bytes = test::read_file_bytes(path);
  GgufFile f = read_gguf(bytes);
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), model);
  EXPECT_EQ(f.get_strings("tokenizer.ggml.tokens").size(), n_tokens);
  check_all_tensors_dequantize(f);
}

TEST(GgufReference, Gpt2Vocab) { check_reference_vocab("ggml-vocab-gpt-2.gguf", "gpt2", 50257); }
TEST(GgufReference, LlamaSpmVocab) { check_reference_vocab("ggml-vocab-llama-spm.gguf", "llama", 32000); }

// ---------------------------------------------------------------------------
// Broken and hostile files
// ---------------------------------------------------------------------------

TEST(GgufBadFiles, TruncatedAtEveryByte) {
  GgufWriter w = full_writer(32);
  std::vector<uint8_t> bytes = w.to_bytes();
  GgufFile f = read_gguf(bytes);
  // The file is valid from the end of the last tensor's bytes on (the rest is padding).
  size_t needed = 0;
  for (const TensorView& t : f.tensors) needed = std::max(needed, size_t(t.data - bytes.data()) + t.bytes);
  for (size_t length = 0; length < needed; length++) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + std::ptrdiff_t(length));
    EXPECT_THROW(read_gguf(prefix), Error) << "length " << length;
  }
  std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + std::ptrdiff_t(needed));
  EXPECT_EQ(read_gguf(prefix).tensors.size(), f.tensors.size());
}

TEST(GgufBadFiles, TruncatedReferenceFileAtSectionBoundaries) {
  LOUPE_REQUIRE_REFERENCE(path, "tokenizers/ggml-vocab-llama-spm.gguf");
  std::vector<uint8_t> bytes = test::read_file_bytes(path);
  // Cut inside the header, the metadata (every 997th byte) and just before the end.
  for (size_t length : {size_t(0), size_t(3), size_t(4), size_t(7), size_t(8), size_t(15), size_t(16), size_t(23), size_t(24)}) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + std::ptrdiff_t(length));
    EXPECT_THROW(read_gguf(prefix), Error) << "length " << length;
  }
  GgufFile f = read_gguf(bytes);
  size_t data_end = 0;
  for (const TensorView& t : f.tensors) data_end = std::max(data_end, size_t(t.data - bytes.data()) + t.bytes);
  size_t header_end = f.tensors.empty() ? bytes.size() : size_t(f.tensors[0].data - bytes.data());
  for (size_t length = 24; length < std::min(header_end, data_end); length += 997) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + std::ptrdiff_t(length));
    EXPECT_THROW(read_gguf(prefix), Error) << "length " << length;
  }
}

TEST(GgufBadFiles, WrongMagicAndVersion) {
  std::vector<uint8_t> bytes = full_writer(32).to_bytes();
  std::vector<uint8_t> bad = bytes;
  bad[0] = 'X';
  expect_error(bad, "not a GGUF file");
  expect_error({}, "not a GGUF file");
  expect_error({'G', 'G'}, "not a GGUF file");
  expect_error(std::vector<uint8_t>{'{', '"', 'a', '"'}, "not a GGUF file");
  for (uint32_t version : {0u, 4u, 0xffffffffu}) {
    bad = bytes;
    std::memcpy(bad.data() + 4, &version, 4);
    expect_error(bad, "version " + std::to_string(version) + " is not supported");
  }
  bad = bytes;
  bad[4] = 1;
  expect_error(bad, "version 1");
  bad = bytes;
  uint32_t big_endian_3 = 0x03000000;
  std::memcpy(bad.data() + 4, &big_endian_3, 4);
  expect_error(bad, "big-endian");
  // Version 2 has the same layout and reads.
  bad = bytes;
  bad[4] = 2;
  EXPECT_EQ(read_gguf(bad).version, 2u);
}

TEST(GgufBadFiles, AbsurdCounts) {
  std::vector<uint8_t> bytes = full_writer(32).to_bytes();
  for (uint64_t count : {uint64_t(1) << 62, ~uint64_t(0), uint64_t(1000000)}) {
    std::vector<uint8_t> bad = bytes;
    std::memcpy(bad.data() + 8, &count, 8);
    expect_error(bad, "tensors");
    bad = bytes;
    std::memcpy(bad.data() + 16, &count, 8);
    expect_error(bad, "metadata entries");
  }
}

TEST(GgufBadFiles, HugeStringLengthsAndArrays) {
  for (uint64_t length : {uint64_t(1) << 62, ~uint64_t(0), uint64_t(100)}) {
    RawGguf key;
    key.header(0, 1).put<uint64_t>(length).zeros(20);
    expect_error(key.bytes, "truncated");
    RawGguf value;
    value.header(0, 1).str("k").put<uint32_t>(8).put<uint64_t>(length).zeros(20);
    expect_error(value.bytes, "truncated");
    RawGguf array;
    array.header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(0).put<uint64_t>(length).zeros(20);
    expect_error(array.bytes, "elements");
    RawGguf strings;
    strings.header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(3).str("a").put<uint64_t>(length);
    expect_error(strings.bytes, "truncated");
    RawGguf name;
    name.header(1, 0).put<uint64_t>(length).zeros(40);
    expect_error(name.bytes, "truncated");
  }
  // An array of arrays claiming many nested arrays of many elements each.
  RawGguf nested;
  nested.header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(9).put<uint64_t>(2);
  nested.put<uint32_t>(0).put<uint64_t>(uint64_t(1) << 40).zeros(16);
  expect_error(nested.bytes, "elements");
  // Arrays nested too deep.
  RawGguf deep;
  deep.header(0, 1).str("k").put<uint32_t>(9);
  for (int i = 0; i < 20; i++) deep.put<uint32_t>(9).put<uint64_t>(1);
  deep.put<uint32_t>(0).put<uint64_t>(0);
  expect_error(deep.bytes, "deep");
  // Unknown value types.
  RawGguf type;
  type.header(0, 1).str("k").put<uint32_t>(13).zeros(8);
  expect_error(type.bytes, "value types");
  RawGguf element_type;
  element_type.header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(77).put<uint64_t>(0);
  expect_error(element_type.bytes, "value types");
}

TEST(GgufBadFiles, DuplicateKeysAndNames) {
  RawGguf keys;
  keys.header(0, 2).str("k").put<uint32_t>(4).put<uint32_t>(1).str("k").put<uint32_t>(4).put<uint32_t>(2);
  expect_error(keys.bytes, "twice");
  RawGguf names;
  names.header(2, 0).tensor_info("a", {8}, 0, 0).tensor_info("a", {8}, 0, 32).pad().zeros(64);
  expect_error(names.bytes, "two tensors");
}

TEST(GgufBadFiles, AbsurdDimensions) {
  auto file_with_dims = [](std::vector<uint64_t> dims) {
    RawGguf f;
    f.header(1, 0).tensor_info("t", std::move(dims), 0, 0).pad().zeros(64);
    return f.bytes;
  };
  EXPECT_NO_THROW(read_gguf(file_with_dims({4, 4})));
  expect_error(file_with_dims({}), "dimensions");
  expect_error(file_with_dims({1, 1, 1, 1, 1}), "dimensions");
  RawGguf many_dims;
  many_dims.header(1, 0).str("t").put<uint32_t>(0xffffffffu).zeros(64);
  expect_error(many_dims.bytes, "dimensions");
  expect_error(file_with_dims({uint64_t(1) << 62, uint64_t(1) << 62}), "impossible size");
  expect_error(file_with_dims({~uint64_t(0)}), "impossible size");
  expect_error(file_with_dims({uint64_t(1) << 62}), "impossible size");  // 2^62 * 4 bytes overflows
  expect_error(file_with_dims({uint64_t(1) << 40}), "past the end");
  expect_error(file_with_dims({1, 1, 1, uint64_t(1) << 20}), "past the end");
}

TEST(GgufBadFiles, OffsetsPastEndAndOverlaps) {
  EXPECT_NO_THROW(read_gguf(two_tensor_file().bytes));
  expect_error(two_tensor_file(64).bytes, "past the end");
  expect_error(two_tensor_file(uint64_t(1) << 63).bytes, "past the end");
  expect_error(two_tensor_file(~uint64_t(0) - 31).bytes, "past the end");  // offset + bytes overflows
  expect_error(two_tensor_file(0).bytes, "overlap");
  RawGguf overlap;  // b starts inside a (a is 64 floats = 256 bytes)
  overlap.header(2, 0).tensor_info("a", {64}, 0, 0).tensor_info("b", {8}, 0, 128).pad().zeros(512);
  expect_error(overlap.bytes, "overlap");
}

TEST(GgufBadFiles, UnknownTypesAndBlockSizes) {
  expect_error(two_tensor_file(32, 10).bytes, "type 10 (q2_K)");
  expect_error(two_tensor_file(32, 1000).bytes, "type 1000");
  expect_error(two_tensor_file(32, 4).bytes, "type 4");
  RawGguf rows;  // a q4_0 row of 8 values
  rows.header(1, 0).tensor_info("q", {8}, 2, 0).pad().zeros(64);
  expect_error(rows.bytes, "block size");
}

TEST(GgufBadFiles, Misaligned) {
  expect_error(two_tensor_file(33).bytes, "not a multiple of the alignment");
  expect_error(two_tensor_file(4).bytes, "not a multiple of the alignment");
  // general.alignment must be a power of two stored as an integer.
  for (uint32_t alignment : {0u, 3u, 48u, 0x80000000u}) {
    RawGguf f;
    f.header(0, 1).str("general.alignment").put<uint32_t>(4).put<uint32_t>(alignment);
    expect_error(f.bytes, "general.alignment");
  }
  RawGguf as_string;
  as_string.header(0, 1).str("general.alignment").put<uint32_t>(8).str("32");
  expect_error(as_string.bytes, "general.alignment");
  // A valid alignment of 16 moves the data section.
  RawGguf sixteen;
  sixteen.header(1, 1).str("general.alignment").put<uint32_t>(4).put<uint32_t>(16);
  sixteen.tensor_info("t", {4}, 0, 0).pad(16);
  size_t data_start = sixteen.bytes.size();
  sixteen.put<float>(1).put<float>(2).put<float>(3).put<float>(4);
  std::vector<uint8_t> bytes = sixteen.bytes;
  GgufFile f = read_gguf(bytes);
  EXPECT_EQ(f.alignment, 16u);
  EXPECT_EQ(size_t(f.tensors[0].data - bytes.data()), data_start);
}

// Random corruption of the header region: every outcome is a file or a loupe::Error.
TEST(GgufBadFiles, RandomCorruptionNeverCrashes) {
  std::vector<uint8_t> bytes = full_writer(32).to_bytes();
  GgufFile good = read_gguf(bytes);
  size_t header_end = size_t(good.tensors[0].data - bytes.data());
  std::mt19937 rng(5);
  int errors = 0;
  for (int trial = 0; trial < 3000; trial++) {
    std::vector<uint8_t> bad = bytes;
    int flips = 1 + int(rng() % 4);
    for (int i = 0; i < flips; i++) {
      size_t pos = rng() % header_end;
      bad[pos] = rng() % 3 == 0 ? 0xff : uint8_t(rng());
    }
    try {
      GgufFile f = read_gguf(bad);
      for (const TensorView& t : f.tensors) {  // what reads must be usable
        std::vector<float> row(size_t(t.row_length()));
        if (t.rows() > 0 && t.row_length() > 0 && t.row_length() < 100000) type_info(t.type).to_float(t.row(0), row.data(), t.row_length());
      }
      for (const auto& kv : f.metadata) (void)kv.second.to_display_string();
    } catch (const Error&) {
      errors++;
    }
  }
  EXPECT_GT(errors, 100);
}

}  // namespace
}  // namespace loupe
