// The native EngineClient end to end: a worker thread owning a Session, fed a tiny GGUF
// model written here. Loading from a path (with SHA-256), generation streamed one token
// per event with the same ids as the engine's own generate(), cancel between tokens, a
// broken file that leaves the previous model in place, and the state the views read.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "app.h"
#include "engine_client.h"
#include "engine_state.h"
#include "formats/gguf.h"
#include "model/model.h"
#include "sampling/generate.h"
#include "session/session.h"
#include "sha256.h"
#include "views/explain_views.h"

namespace loupe::app {
namespace {

using Json = nlohmann::json;

// A random-weight Llama with a SentencePiece vocabulary of bytes and letters: enough
// to tokenize any text and generate (nonsense) from it.
std::vector<uint8_t> TinyModel(int context = 256) {
  GgufWriter w;
  const int dim = 32, layers = 2, heads = 4, ff = 64;
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<int32_t> types = {2, 3, 3};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    tokens.push_back(name);
    types.push_back(6);
  }
  const std::string mark = "\xe2\x96\x81";
  tokens.push_back(mark);
  types.push_back(1);
  for (char c = 'a'; c <= 'z'; ++c) {
    tokens.push_back(std::string(1, c));
    tokens.push_back(mark + c);
    types.push_back(1);
    types.push_back(1);
  }
  const int vocab = static_cast<int>(tokens.size());
  std::vector<float> scores(tokens.size(), 0.0f);
  for (size_t i = 259; i < tokens.size(); ++i) scores[i] = -float(i);
  w.set("general.architecture", GgufValue::from_string("llama"));
  w.set("general.name", GgufValue::from_string("app-test-tiny"));
  w.set("general.license", GgufValue::from_string("CC0-1.0"));
  w.set("llama.block_count", GgufValue::from_u32(layers));
  w.set("llama.embedding_length", GgufValue::from_u32(dim));
  w.set("llama.feed_forward_length", GgufValue::from_u32(ff));
  w.set("llama.attention.head_count", GgufValue::from_u32(heads));
  w.set("llama.attention.head_count_kv", GgufValue::from_u32(heads));
  w.set("llama.context_length", GgufValue::from_u32(uint32_t(context)));
  w.set("llama.attention.layer_norm_rms_epsilon", GgufValue::from_f32(1e-5f));
  w.set("llama.rope.freq_base", GgufValue::from_f32(10000.0f));
  w.set("llama.vocab_size", GgufValue::from_u32(uint32_t(vocab)));
  w.set("tokenizer.ggml.model", GgufValue::from_string("llama"));
  w.set("tokenizer.ggml.tokens", GgufValue::from_strings(tokens));
  w.set("tokenizer.ggml.scores", GgufValue::from_f32s(scores));
  w.set("tokenizer.ggml.token_type", GgufValue::from_i32s(types));
  w.set("tokenizer.ggml.bos_token_id", GgufValue::from_u32(1));
  w.set("tokenizer.ggml.eos_token_id", GgufValue::from_u32(2));
  w.set("tokenizer.ggml.unknown_token_id", GgufValue::from_u32(0));
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto matrix = [&](const std::string& name, int64_t cols, int64_t rows, float sigma) {
    std::vector<float> v(size_t(cols * rows));
    for (float& x : v) x = sigma * normal(rng);
    w.add_tensor_f32(name, TensorType::F32, {cols, rows}, v);
  };
  auto norm = [&](const std::string& name) {
    std::vector<float> v(size_t(dim), 1.0f);
    w.add_tensor_f32(name, TensorType::F32, {dim}, v);
  };
  matrix("token_embd.weight", dim, vocab, 1.0f);
  for (int i = 0; i < layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    norm(p + "attn_norm.weight");
    matrix(p + "attn_q.weight", dim, dim, 0.3f);
    matrix(p + "attn_k.weight", dim, dim, 0.3f);
    matrix(p + "attn_v.weight", dim, dim, 0.3f);
    matrix(p + "attn_output.weight", dim, dim, 0.3f);
    norm(p + "ffn_norm.weight");
    matrix(p + "ffn_gate.weight", dim, ff, 0.3f);
    matrix(p + "ffn_up.weight", dim, ff, 0.3f);
    matrix(p + "ffn_down.weight", ff, dim, 0.3f);
  }
  norm("output_norm.weight");
  matrix("output.weight", dim, vocab, 0.5f);
  return w.to_bytes();
}

std::string WriteTemp(const std::string& name, const std::vector<uint8_t>& bytes) {
  const auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  return path.string();
}

// Polls until an event of `kind` (or an error) arrives; collects everything seen.
Json WaitFor(EngineClient& client, const std::string& kind, std::vector<Json>* seen = nullptr, double seconds = 30) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    for (Json& e : client.poll()) {
      if (seen) seen->push_back(e);
      const std::string k = e.value("event", "");
      if (k == kind || k == "error") return e;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return Json{{"event", "timeout"}};
}

TEST(Sha256, KnownVectors) {
  const std::string abc = "abc";
  EXPECT_EQ(Sha256Hex(reinterpret_cast<const uint8_t*>(abc.data()), abc.size()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(nullptr, 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const std::string two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";  // 56 bytes: two padding blocks
  EXPECT_EQ(Sha256Hex(reinterpret_cast<const uint8_t*>(two.data()), two.size()),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const std::vector<uint8_t> million(1000000, 'a');
  EXPECT_EQ(Sha256Hex(million.data(), million.size()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(NativeEngineClient, LoadsGeneratesAndMatchesTheEngine) {
  const std::vector<uint8_t> bytes = TinyModel();
  const std::string path = WriteTemp("loupe-app-test-tiny.gguf", bytes);
  auto client = make_engine_client();
  Json ready = WaitFor(*client, "ready");
  ASSERT_EQ(ready.value("event", ""), "ready") << ready.dump();
  EXPECT_GE(ready.value("threads", 0), 1);

  client->send({{"op", "load_path"}, {"path", path}, {"id", 1}});
  Json loaded = WaitFor(*client, "loaded");
  ASSERT_EQ(loaded.value("event", ""), "loaded") << loaded.dump();
  EXPECT_EQ(loaded.value("request_id", 0), 1);
  EXPECT_EQ(loaded["card"].value("name", ""), "app-test-tiny");
  EXPECT_EQ(loaded["card"].value("sha256", ""), Sha256Hex(bytes.data(), bytes.size()));

  const Json request = {{"op", "generate"}, {"prompt", "the cat"}, {"seed", 5}, {"max_tokens", 12},
                        {"temperature", 0.9}, {"top_k", 20}, {"id", 2}};
  client->send(request);
  std::vector<Json> seen;
  Json done = WaitFor(*client, "done", &seen);
  ASSERT_EQ(done.value("event", ""), "done") << done.dump();
  EXPECT_EQ(done.value("request_id", 0), 2);
  int token_events = 0;
  for (const Json& e : seen) token_events += e.value("event", "") == "token";
  EXPECT_EQ(token_events, 12);

  // The same ids as the engine's own loop with the same settings.
  Model model = load_model_from_bytes(bytes, "direct");
  const GenerateResult direct = generate(model, generate_request_from_json(request));
  EXPECT_EQ(done["ids"].get<std::vector<int32_t>>(), direct.ids);
  EXPECT_EQ(done.value("text", ""), direct.text);
  std::filesystem::remove(path);
}

TEST(NativeEngineClient, CancelStopsBetweenTokensAndBrokenFilesKeepTheModel) {
  const std::vector<uint8_t> bytes = TinyModel(1024);
  auto client = make_engine_client();
  client->send({{"op", "load"}, {"name", "tiny"}, {"id", 1}}, bytes);
  ASSERT_EQ(WaitFor(*client, "loaded").value("event", ""), "loaded");

  client->send({{"op", "generate"}, {"prompt", "a b c"}, {"max_tokens", 1000}, {"seed", 1}, {"id", 2}});
  ASSERT_EQ(WaitFor(*client, "token").value("event", ""), "token");
  client->send({{"op", "cancel"}, {"id", 3}});
  Json done = WaitFor(*client, "done");
  ASSERT_EQ(done.value("event", ""), "done") << done.dump();
  EXPECT_EQ(done.value("stop_reason", ""), "stopped");
  EXPECT_EQ(done.value("request_id", 0), 2) << "the done of a cancelled generation belongs to it";
  EXPECT_LT(done["ids"].size(), 1000u);

  const std::string broken = WriteTemp("loupe-app-test-broken.gguf", {'G', 'G', 'U', 'F', 3, 0, 0, 0, 1});
  client->send({{"op", "load_path"}, {"path", broken}, {"id", 4}});
  Json error = WaitFor(*client, "loaded");
  EXPECT_EQ(error.value("event", ""), "error");
  EXPECT_FALSE(error.value("message", "").empty());
  std::filesystem::remove(broken);

  client->send({{"op", "load_path"}, {"path", "/nonexistent/model.gguf"}, {"id", 5}});
  EXPECT_NE(WaitFor(*client, "loaded").value("message", "").find("cannot open"), std::string::npos);

  // A folder is read as a Hugging Face model: an empty one, or one missing its weights,
  // is named in the error (the engine test loads a complete folder's files).
  const std::filesystem::path folder = std::filesystem::temp_directory_path() / "loupe-app-test-folder";
  std::filesystem::create_directories(folder);
  client->send({{"op", "load_path"}, {"path", folder.string()}, {"id", 7}});
  EXPECT_NE(WaitFor(*client, "loaded").value("message", "").find("holds no model"), std::string::npos);
  std::ofstream(folder / "config.json") << R"({"model_type": "llama"})";
  client->send({{"op", "load_path"}, {"path", folder.string()}, {"id", 8}});
  const Json partial = WaitFor(*client, "loaded");
  EXPECT_EQ(partial.value("event", ""), "error");
  EXPECT_FALSE(partial.value("message", "").empty());
  std::filesystem::remove_all(folder);

  client->send({{"op", "generate"}, {"prompt", "a"}, {"max_tokens", 3}, {"id", 6}});
  EXPECT_EQ(WaitFor(*client, "done").value("event", ""), "done") << "the previous model still generates";
}

// Pumps the app's engine until `done` holds or `seconds` pass.
template <class Done>
bool PumpUntil(AppState& app, Done&& done, double seconds = 60) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    PumpEngine(app);
    CollectExplanation(app);
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

// The lazy logit lens through the real engine: Explain asks for the lens of the last
// position only (the Logit-lens view is not on screen), the view's columns arrive with
// one lens request, and the merged lens equals the full grid of one request.
TEST(LazyLens, TheViewFillsTheColumnsItShows) {
  AppState app;
  SendRequest(app, {{"op", "load"}, {"name", "tiny"}}, TinyModel());
  ASSERT_TRUE(PumpUntil(app, [&] { return app.engine.card.is_object(); })) << app.engine.load_error;
  std::snprintf(app.explain.prompt, sizeof app.explain.prompt, "%s", "the cat sat on the mat and the dog");
  app.view = ViewId::kAttention;
  const Json request = ExplanationRequest(app);
  EXPECT_EQ(request.value("lens_last", 0), 1);
  RequestExplanation(app);
  ASSERT_TRUE(PumpUntil(app, [&] { return app.explain.result.has_value() || !app.explain.error.empty(); }));
  ASSERT_TRUE(app.explain.result) << app.explain.error;
  const int n = app.explain.result->n();
  ASSERT_GT(n, 4);
  for (int p = 0; p < n; ++p) EXPECT_EQ(app.explain.result->LensHeld(p), p == n - 1) << p;

  // The view shows columns 1..4: one request for them; nothing more while it runs.
  EXPECT_GE(RequestLensColumns(app, 1, 4), 0);
  EXPECT_EQ(RequestLensColumns(app, 0, n - 1), -1);
  ASSERT_TRUE(PumpUntil(app, [&] { return app.explain.lens.request < 0; }));
  for (int p = 0; p < n; ++p) EXPECT_EQ(app.explain.result->LensHeld(p), p == n - 1 || (p >= 1 && p <= 4)) << p;
  EXPECT_GE(RequestLensColumns(app, 0, n - 1), 0);
  ASSERT_TRUE(PumpUntil(app, [&] { return app.explain.lens.request < 0; }));
  EXPECT_EQ(RequestLensColumns(app, 0, n - 1), -1) << "every column is known";
  EXPECT_TRUE(app.explain.lens.error.empty()) << app.explain.lens.error;

  // The same numbers as the whole grid in one request.
  const int full = SendRequest(app, {{"op", "explain"}, {"what", "lens"}, {"prompt", app.explain.prompt}, {"top_k", 5}});
  ASSERT_TRUE(PumpUntil(app, [&] { return app.engine.explain_results.count(full) > 0; }));
  std::string error;
  const auto grid = ParseExplainResult(app.engine.explain_results[full], &error);
  ASSERT_TRUE(grid) << error;
  const ExplainResult& lazy = *app.explain.result;
  ASSERT_EQ(grid->n(), n);
  EXPECT_EQ(grid->lens_top_ids, lazy.lens_top_ids);
  EXPECT_EQ(grid->lens_top_probs, lazy.lens_top_probs);
  EXPECT_EQ(grid->lens_chosen_probs, lazy.lens_chosen_probs);

  // On the Logit-lens view, Explain asks for as many columns as it showed.
  app.view = ViewId::kLens;
  app.explain.lens.columns = 12;
  EXPECT_EQ(ExplanationRequest(app).value("lens_last", 0), 12);
}

TEST(EngineState, EventsBuildWhatTheViewsShow) {
  AppState app;
  ApplyEngineEvent(app, {{"event", "ready"}, {"threads", 3}, {"threaded", true}});
  EXPECT_NE(StatusLine(app).find("3 threads"), std::string::npos) << StatusLine(app);
  ApplyEngineEvent(app, {{"event", "loaded"}, {"card", {{"name", "tiny"}}}});
  EXPECT_NE(StatusLine(app).find("Model: tiny"), std::string::npos);
  ApplyEngineEvent(app, {{"event", "prompt"}, {"origin", "page"}, {"request", {{"prompt", "from js"}, {"seed", 9}}},
                         {"tokens", {{{"id", 1}, {"text", "<s>"}}}}});
  EXPECT_TRUE(app.engine.generating);
  EXPECT_TRUE(app.engine.from_page);
  EXPECT_STREQ(app.generate.prompt, "from js") << "a generation started by the page shows in the Generate view";
  EXPECT_EQ(app.generate.seed, 9);
  ApplyEngineEvent(app, {{"event", "token"}, {"id", 7}, {"text", "x"}, {"token_text", "x"}, {"prob", 0.25},
                         {"alternatives", {{{"id", 7}, {"text", "x"}, {"prob", 0.25}}}}});
  ASSERT_EQ(app.engine.tokens.size(), 1u);
  EXPECT_FLOAT_EQ(app.engine.tokens[0].prob, 0.25f);
  EXPECT_EQ(app.engine.tokens[0].alternatives.size(), 1u);
  ApplyEngineEvent(app, {{"event", "done"}, {"stop_reason", "max_tokens"}, {"tokens_per_s", 12.5}, {"text", "x"}});
  EXPECT_FALSE(app.engine.generating);
  ApplyEngineEvent(app, {{"event", "error"}, {"op", "load"}, {"message", "not a GGUF file"}});
  EXPECT_EQ(app.engine.load_error, "not a GGUF file");
  EXPECT_TRUE(app.engine.card.is_object()) << "a failed load keeps the card of the model still loaded";
}

}  // namespace
}  // namespace loupe::app
