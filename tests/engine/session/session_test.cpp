// The JSON session the app and the browser worker drive: a generation streamed one step
// at a time gives exactly what generate() gives for the same seed, cancel stops it, and
// bad requests and broken model files become error events while the previous model stays.
#include "session/session.h"

#include "test_models.h"
#include "test_support.h"

namespace loupe {
namespace {

using Json = nlohmann::json;

Session loaded_session() {
  test::TinyModelSpec spec;
  spec.context = 64;
  Session session;
  auto events = session.handle(Json{{"op", "load"}, {"name", "tiny"}}, test::tiny_model_gguf(spec));
  EXPECT_EQ(events.at(0).at("event"), "loaded");
  return session;
}

TEST(Session, StepwiseGenerationMatchesGenerate) {
  Session session = loaded_session();
  const Json request = {{"op", "generate"}, {"prompt", "a cab"}, {"seed", 7}, {"max_tokens", 10}, {"temperature", 1.0}};
  auto events = session.handle(request);
  ASSERT_EQ(events.at(0).at("event"), "prompt");
  std::vector<int32_t> streamed;
  Json done;
  for (int guard = 0; guard < 100 && session.busy(); ++guard)
    for (const Json& e : session.step()) {
      if (e.at("event") == "token" && e.at("id").get<int>() >= 0) {
        streamed.push_back(e.at("id").get<int32_t>());
        EXPECT_LE(e.at("alternatives").size(), 5u);
        EXPECT_GT(e.at("prob").get<double>(), 0.0);
      }
      if (e.at("event") == "done") done = e;
    }
  ASSERT_FALSE(done.is_null());
  EXPECT_EQ(done.at("ids").get<std::vector<int32_t>>(), streamed);

  const GenerateResult direct = generate(*session.model(), generate_request_from_json(request));
  EXPECT_EQ(direct.ids, streamed);
  EXPECT_EQ(direct.text, done.at("text").get<std::string>());
}

TEST(Session, CancelStopsBetweenTokens) {
  Session session = loaded_session();
  session.handle(Json{{"op", "generate"}, {"prompt", "ab"}, {"max_tokens", 50}, {"seed", 1}});
  session.step();
  auto events = session.handle(Json{{"op", "cancel"}});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].at("stop_reason"), "stopped");
  EXPECT_FALSE(session.busy());
  EXPECT_TRUE(session.step().empty());
}

TEST(Session, ErrorsAreEventsAndThePreviousModelStays) {
  Session session = loaded_session();
  auto bad = session.handle(Json{{"op", "load"}}, std::vector<uint8_t>{'G', 'G', 'U', 'F', 3, 0});
  ASSERT_EQ(bad.at(0).at("event"), "error");
  EXPECT_NE(bad[0].at("message").get<std::string>().find("GGUF"), std::string::npos);
  ASSERT_NE(session.model(), nullptr);  // still the tiny model
  // An empty prompt is allowed when the model starts texts with BOS: it writes from nothing.
  EXPECT_EQ(session.handle(Json{{"op", "generate"}, {"prompt", ""}}).at(0).at("event"), "prompt");
  EXPECT_EQ(session.handle(Json{{"op", "generate"}, {"prompt", "a"}}).at(0).at("message"),
            "a generation is already running");
  session.handle(Json{{"op", "cancel"}});
  EXPECT_EQ(session.handle(Json{{"op", "generate"}, {"prompt", "a"}, {"top_p", 3}}).at(0).at("event"), "error");
  EXPECT_EQ(session.handle(Json{{"op", "dance"}}).at(0).at("event"), "error");
  EXPECT_EQ(session.handle(Json{{"op", "generate"}, {"prompt", 5}}).at(0).at("event"), "error");
  EXPECT_EQ(session.handle(Json::array()).at(0).at("event"), "error");
  // A prompt longer than the context is refused with the numbers.
  auto too_long = session.handle(Json{{"op", "generate"}, {"prompt", std::string(500, 'a')}});
  EXPECT_NE(too_long.at(0).at("message").get<std::string>().find("context"), std::string::npos);
  EXPECT_EQ(session.handle(Json{{"op", "info"}}).at(0).at("event"), "info");
}

TEST(Session, NoModelYet) {
  Session session;
  auto events = session.handle(Json{{"op", "generate"}, {"prompt", "a"}});
  EXPECT_EQ(events.at(0).at("message"), "no model is loaded yet");
}

TEST(Session, TokenizeListsTokens) {
  Session session = loaded_session();
  auto events = session.handle(Json{{"op", "tokenize"}, {"text", "abc"}});
  ASSERT_EQ(events.at(0).at("event"), "tokens");
  EXPECT_GE(events[0].at("tokens").size(), 1u);
}

}  // namespace
}  // namespace loupe

namespace loupe {
namespace {

// Explaining twice reuses the f32 weights kept with the model and gives the same result;
// loading another model drops them (its attribution differs); lens_positions narrows the lens.
TEST(Session, ExplainKeepsItsGradientWeightsWithTheModel) {
  Session session = loaded_session();
  const Json request = {{"op", "explain"}, {"prompt", "a cab"}, {"what", "lens,attribution"}};
  const Json first = session.handle(request).at(0), second = session.handle(request).at(0);
  ASSERT_EQ(first.at("event"), "explain") << first.dump();
  EXPECT_EQ(first.at("result").at("attribution"), second.at("result").at("attribution"));

  test::TinyModelSpec other;
  other.context = 64;
  other.seed = 2;
  ASSERT_EQ(session.handle(Json{{"op", "load"}, {"name", "other"}}, test::tiny_model_gguf(other)).at(0).at("event"), "loaded");
  const Json third = session.handle(request).at(0);
  EXPECT_NE(third.at("result").at("attribution").at("scores"), first.at("result").at("attribution").at("scores"));

  Json narrow = request;
  narrow["lens_positions"] = {1};
  const Json lens = session.handle(narrow).at(0).at("result").at("lens");
  EXPECT_EQ(lens.at("positions"), Json::array({1}));
  narrow["lens_positions"] = {99};
  EXPECT_EQ(session.handle(narrow).at(0).at("event"), "error");
  Json last = request;
  last["lens_last"] = 1;
  const Json tail = session.handle(last).at(0).at("result");
  EXPECT_EQ(tail.at("lens").at("positions"), Json::array({int(tail.at("tokens").size()) - 1}));
}

}  // namespace
}  // namespace loupe
