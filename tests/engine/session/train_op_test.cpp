// The Session's "train" op (the Lessons view's Retrain): a two-cities training streamed a
// step at a time, with monotone progress, a cancel that leaves the session usable, and a
// result model whose measured pronoun bias has the sign of the chosen data skew.
#include <cmath>
#include <cstdio>

#include "session/session.h"
#include "test_support.h"
#include "train/two_cities.h"

namespace loupe {
namespace {

using Json = nlohmann::json;

// Steps until the run ends; returns every event.
std::vector<Json> run_to_end(Session& session) {
  std::vector<Json> events;
  for (int guard = 0; guard < 100000 && session.busy(); ++guard)
    for (Json& e : session.step()) events.push_back(std::move(e));
  return events;
}

TEST(SessionTrain, StreamsMonotoneProgressAndTheModelLearnsTheSkew) {
  Session session;
  // 0.95: nurses and teachers "she" in 95% of their stories, mechanics and engineers in 5%.
  auto start = session.handle(Json{{"op", "train"}, {"recipe", "two-cities"}, {"skew", 0.95}, {"seed", 1}, {"steps", 350}});
  ASSERT_EQ(start.at(0).at("event"), "train_start") << start.at(0).dump();
  EXPECT_EQ(start[0].at("steps"), 350);
  EXPECT_GT(start[0].at("parameters").get<int>(), 10000);
  EXPECT_TRUE(session.busy());
  // Other work waits for the training.
  EXPECT_EQ(session.handle(Json{{"op", "train"}, {"skew", 0.5}}).at(0).at("event"), "error");
  EXPECT_EQ(session.handle(Json{{"op", "generate"}, {"prompt", "The"}}).at(0).at("event"), "error");

  const std::vector<Json> events = run_to_end(session);
  int last_step = 0, progress = 0;
  double last_elapsed = -1;
  Json trained, loaded;
  for (const Json& e : events) {
    if (e.at("event") == "train_progress") {
      ++progress;
      EXPECT_GT(e.at("step").get<int>(), last_step);
      EXPECT_GE(e.at("elapsed_s").get<double>(), last_elapsed);
      EXPECT_GE(e.at("seconds_left").get<double>(), 0.0);
      EXPECT_GT(e.at("tokens_per_s").get<double>(), 0.0);
      EXPECT_TRUE(std::isfinite(e.at("loss").get<double>()));
      last_step = e.at("step").get<int>();
      last_elapsed = e.at("elapsed_s").get<double>();
    }
    if (e.at("event") == "trained") trained = e;
    if (e.at("event") == "loaded") loaded = e;
    EXPECT_NE(e.at("event"), "error") << e.dump();
  }
  EXPECT_GE(progress, 2);
  EXPECT_EQ(last_step, 350);
  ASSERT_FALSE(trained.is_null());
  ASSERT_FALSE(loaded.is_null());
  ASSERT_NE(session.model(), nullptr);
  EXPECT_FALSE(session.busy());

  // The bias of the strongly skewed occupations has the data's sign.
  const Json& rows = trained.at("bias").at("occupations");
  ASSERT_EQ(rows.size(), 8u);
  for (const Json& row : rows) {
    const double odds = row.at("data_log_odds").get<double>(), bias = row.at("bias").get<double>();
    std::printf("%-9s share %.3f  data log-odds %+.2f  model %+.2f\n", row.at("occupation").get<std::string>().c_str(),
                row.at("share").get<double>(), odds, bias);
    if (std::abs(odds) > 2) {
      EXPECT_GT(bias * odds, 0) << row.dump();
    }
  }
  EXPECT_GT(trained.at("bias").at("aligned_bias").get<double>(), 0.2);
  std::printf("trained in %.1f s\n", trained.at("seconds").get<double>());
  // The session goes on with the trained model.
  EXPECT_EQ(session.handle(Json{{"op", "tokenize"}, {"text", "The nurse"}}).at(0).at("event"), "tokens");
}

TEST(SessionTrain, CancelStopsTheRunAndKeepsTheSession) {
  Session session;
  session.handle(Json{{"op", "train"}, {"skew", 0.2}, {"steps", 500}});
  ASSERT_TRUE(session.busy());
  session.step();
  session.step();
  auto events = session.handle(Json{{"op", "cancel"}});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].at("event"), "train_cancelled");
  EXPECT_EQ(events[0].at("step"), 2);
  EXPECT_FALSE(session.busy());
  EXPECT_TRUE(session.step().empty());
  EXPECT_EQ(session.model(), nullptr);  // nothing replaced the (absent) model
  // A new run can start after the cancel.
  EXPECT_EQ(session.handle(Json{{"op", "train"}, {"steps", 3}}).at(0).at("event"), "train_start");
  session.handle(Json{{"op", "cancel"}});
}

TEST(SessionTrain, BadRequestsAreErrors) {
  Session session;
  for (const Json& bad : {Json{{"op", "train"}, {"skew", 1.5}}, Json{{"op", "train"}, {"skew", "high"}},
                          Json{{"op", "train"}, {"recipe", "shakespeare"}}, Json{{"op", "train"}, {"steps", 0}},
                          Json{{"op", "train"}, {"stories", 2}}}) {
    auto events = session.handle(bad);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].at("event"), "error") << bad.dump();
    EXPECT_EQ(events[0].at("op"), "train");
    EXPECT_FALSE(session.busy());
  }
}

}  // namespace
}  // namespace loupe

namespace loupe::train {
namespace {

TEST(TwoCitiesTest, SkewOfTheUsersChoosing) {
  const std::vector<Occupation>& occ = two_cities_occupations();
  EXPECT_DOUBLE_EQ(she_share_at(occ[0], 0.9), 0.9);  // nurse: the skewed city
  EXPECT_NEAR(she_share_at(occ[2], 0.9), 0.75, 1e-12);
  EXPECT_DOUBLE_EQ(she_share_at(occ[7], 0.5), 0.5);
  EXPECT_NEAR(she_share_at(occ[0], 0.1), 0.1, 1e-12);  // swapped
  EXPECT_NEAR(she_share_at(occ[7], 0.1), 0.9, 1e-12);
  EXPECT_EQ(two_cities_stories_at(300, 0.5, 4), two_cities_stories(300, false, 4));
  const std::string swapped = two_cities_stories_at(2000, 0.1, 3);
  auto count = [](const std::string& text, const std::string& what) {
    int n = 0;
    for (size_t at = 0; (at = text.find(what, at)) != std::string::npos; at += what.size()) ++n;
    return n;
  };
  EXPECT_GT(count(swapped, "The nurse said that he "), 6 * count(swapped, "The nurse said that she"));
}

// The numbers the lesson shows for the bundled pair are what the files measure.
TEST(TwoCitiesTest, BundledPairBiasMatchesTheFiles) {
  const std::string dir = std::string(LOUPE_SOURCE_DIR) + "/assets/models/two-cities/";
  const Model skewed = load_model(dir + "two-cities-skewed.gguf"), balanced = load_model(dir + "two-cities-balanced.gguf");
  const BiasReport s = measure_pronoun_bias(skewed), b = measure_pronoun_bias(balanced);
  const std::vector<BundledPairBias>& table = two_cities_bundled_bias();
  ASSERT_EQ(table.size(), s.rows.size());
  for (size_t i = 0; i < table.size(); ++i) {
    EXPECT_EQ(table[i].occupation, s.rows[i].occupation);
    EXPECT_NEAR(table[i].skewed, s.rows[i].bias, 1e-3) << table[i].occupation;
    EXPECT_NEAR(table[i].balanced, b.rows[i].bias, 1e-3) << table[i].occupation;
  }
}

}  // namespace
}  // namespace loupe::train
