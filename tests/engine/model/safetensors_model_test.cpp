// The same random model written as GGUF and as a Hugging Face folder (safetensors +
// config.json + tokenizer.json) gives the same logits. The folder is made from the
// reference GGUF files by model/export_safetensors, undoing the two layout changes
// llama.cpp's converter makes: Llama q/k rows are re-ordered for adjacent-pair RoPE, and
// GPT-2's Conv1D weights are stored transposed. Matching logits so show both RoPE orders,
// the transposition, the name mapping and config.json parsing are right. Also: bad
// folders give clear errors.
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "formats/safetensors.h"
#include "kernels/matmul.h"
#include "model/export_safetensors.h"
#include "model/forward.h"
#include "model/model.h"
#include "session/session.h"
#include "test_models.h"
#include "test_support.h"

namespace loupe {
namespace {

using Files = HuggingFaceFiles;

std::vector<float> all_logits(const Model& model, const std::vector<int32_t>& ids) {
  InferenceState state = make_state(model);
  forward(model, state, ids, true);
  return state.logits;
}

class SafetensorsModel : public ::testing::TestWithParam<std::string> {};

TEST_P(SafetensorsModel, SameLogitsAsGguf) {
  LOUPE_REQUIRE_REFERENCE(path, "models/" + GetParam() + ".gguf");
  Model gguf = load_model(path);
  Model hf = load_model_from_files(to_hugging_face(gguf), "converted");
  EXPECT_EQ(hf.info.format, "safetensors");
  EXPECT_EQ(hf.config.n_layers, gguf.config.n_layers);
  if (hf.config.arch != Architecture::Gpt2) EXPECT_EQ(hf.config.rope_style, RopeStyle::HalfSplit);
  const std::vector<int32_t> ids = {1, 450, 5595, 344, 1497, 393, 1183, 29871, 13, 100, 200, 300};
  const std::vector<float> a = all_logits(gguf, ids), b = all_logits(hf, ids);
  ASSERT_EQ(a.size(), b.size());
  double max_diff = 0, max_logit = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    max_diff = std::max(max_diff, double(std::fabs(a[i] - b[i])));
    max_logit = std::max(max_logit, double(std::fabs(a[i])));
  }
  EXPECT_LE(max_diff, 1e-4 * max_logit) << "max |diff| " << max_diff;
  // The tokenizer survives the trip too.
  EXPECT_EQ(encode(hf.tokenizer, "The nurse said that she", false), encode(gguf.tokenizer, "The nurse said that she", false));
}

// The same model split into two shards listed by model.safetensors.index.json.
TEST(SafetensorsModelShards, ShardedFolderGivesTheSameLogits) {
  LOUPE_REQUIRE_REFERENCE(path, "models/ref-gpt2-f32.gguf");
  Model gguf = load_model(path);
  Files files = to_hugging_face(gguf);
  const SafetensorsFile whole = read_safetensors(files["model.safetensors"]);
  SafetensorsWriter shards[2];
  nlohmann::json index;
  for (size_t i = 0; i < whole.tensors.size(); ++i) {
    const TensorView& t = whole.tensors[i];
    std::vector<int64_t> shape(t.shape.begin(), t.shape.begin() + t.n_dims);
    std::reverse(shape.begin(), shape.end());  // back to safetensors' outermost-first order
    shards[i % 2].add_tensor(t.name, t.type, shape, {t.data, t.bytes});
    index["weight_map"][t.name] = i % 2 ? "model-00002-of-00002.safetensors" : "model-00001-of-00002.safetensors";
  }
  files.erase("model.safetensors");
  files["model-00001-of-00002.safetensors"] = shards[0].to_bytes();
  files["model-00002-of-00002.safetensors"] = shards[1].to_bytes();
  const std::string index_text = index.dump();
  files["model.safetensors.index.json"] = std::vector<uint8_t>(index_text.begin(), index_text.end());
  Files missing_shard = files;
  missing_shard.erase("model-00002-of-00002.safetensors");

  Model sharded = load_model_from_files(std::move(files), "sharded");
  const std::vector<int32_t> ids = {15496, 995, 11, 290, 257};
  const std::vector<float> a = all_logits(gguf, ids), b = all_logits(sharded, ids);
  double max_diff = 0;
  for (size_t i = 0; i < a.size(); ++i) max_diff = std::max(max_diff, double(std::fabs(a[i] - b[i])));
  EXPECT_LE(max_diff, 1e-4);
  try {
    load_model_from_files(std::move(missing_shard), "sharded");
    FAIL() << "a missing shard must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model-00002-of-00002.safetensors"), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Reference, SafetensorsModel, ::testing::Values("ref-llama-f32", "ref-gpt2-f32"),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

TEST(SafetensorsModelErrors, MissingPiecesAreNamed) {
  auto message = [](Files files) {
    try {
      load_model_from_files(std::move(files), "test");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  auto text = [](const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); };
  EXPECT_NE(message({{"tokenizer.json", text("{}")}}).find("config.json"), std::string::npos);
  EXPECT_NE(message({{"config.json", text("{\"model_type\":\"llama\"}")}}).find("tokenizer.json"), std::string::npos);
  EXPECT_NE(message({{"config.json", text("{not json")}, {"tokenizer.json", text("{}")}}).find("not valid JSON"), std::string::npos);
  EXPECT_NE(message({{"config.json", text("{\"model_type\":\"bert\"}")}, {"tokenizer.json", text("{}")}}).find("bert"), std::string::npos);
  EXPECT_NE(message({{"config.json", text("{\"model_type\":\"llama\",\"hidden_size\":64,\"num_hidden_layers\":1,"
                                          "\"num_attention_heads\":4,\"intermediate_size\":128,\"max_position_embeddings\":64}")},
                     {"tokenizer.json", text("{}")}}).find("model.safetensors"), std::string::npos);
}

// The session (app, web worker) takes a safetensors model as its files in one buffer, and
// gives the same logits as reading them from a folder; sizes that do not add up are an
// error and the previous model stays.
TEST(SafetensorsModelSession, FilesInOneBufferLoadAsTheFolderDoes) {
  test::TinyModelSpec spec;
  spec.vocab = test::TinyVocab::Bytes;
  spec.context = 64;
  const Files files = to_hugging_face(test::tiny_model(spec));
  std::vector<uint8_t> joined;
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [name, bytes] : files) {
    joined.insert(joined.end(), bytes.begin(), bytes.end());
    list.push_back({{"name", name}, {"bytes", bytes.size()}});
  }
  Session session;
  const auto loaded = session.handle({{"op", "load"}, {"name", "tiny-hf"}, {"files", list}}, joined);
  ASSERT_EQ(loaded.at(0).at("event"), "loaded") << loaded.at(0).dump();
  EXPECT_EQ(loaded.at(0).at("card").at("format"), "safetensors");
  const std::vector<int32_t> ids = {84, 258, 32, 99, 97, 98};
  EXPECT_EQ(all_logits(*session.model(), ids), all_logits(load_model_from_files(files, "folder"), ids));

  nlohmann::json short_list = list;
  short_list[0]["bytes"] = short_list[0]["bytes"].get<uint64_t>() - 1;
  const auto bad = session.handle({{"op", "load"}, {"files", short_list}}, joined);
  EXPECT_EQ(bad.at(0).at("event"), "error");
  EXPECT_NE(bad.at(0).at("message").get<std::string>().find("sizes"), std::string::npos) << bad.at(0).dump();
  EXPECT_EQ(session.model()->info.format, "safetensors");  // the previous model stays
}

}  // namespace
}  // namespace loupe
