// The trainer (train/): loss falls, resume is bitwise, export -> load keeps the logits,
// the BPE trainer's merges, and the two-cities pair's bias follows its data.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "model/forward.h"
#include "test_support.h"
#include "train/bpe_trainer.h"
#include "train/train.h"
#include "train/two_cities.h"

namespace loupe::train {
namespace {

// A stream over `vocab` tokens with structure to learn: runs counting up from a random start.
std::vector<int32_t> counting_stream(int n, int vocab, uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> out;
  while (int(out.size()) < n) {
    int32_t t = int32_t(rng.below(uint64_t(vocab)));
    for (int k = 0; k < 6 && int(out.size()) < n; ++k) out.push_back(t), t = (t + 1) % vocab;
  }
  return out;
}

TrainConfig tiny_config(Architecture arch) {
  TrainConfig c;
  c.model.arch = arch;
  c.model.n_layers = 1;
  c.model.dim = 32;
  c.model.n_heads = 2;
  c.model.ff_dim = 64;
  c.model.context = 32;
  c.seq_len = 16;
  c.batch = 8;
  c.steps = 60;
  c.lr = 1e-2f;
  c.min_lr = 1e-3f;
  c.warmup = 5;
  c.shards = 2;
  c.threads = 2;
  c.seed = 7;
  return c;
}

TEST(TrainTest, LossFallsOnASyntheticTask) {
  for (Architecture arch : {Architecture::Llama, Architecture::Gpt2}) {
    const std::vector<int32_t> data = counting_stream(4000, 24, 3), val = counting_stream(800, 24, 4);
    Trainer trainer(tiny_config(arch), data, val, 24);
    const float before = trainer.validation_loss(2);
    float first = 0, last = 0;
    for (int i = 0; i < 60; ++i) {
      const StepStats s = trainer.step();
      if (i == 0) first = s.loss;
      last = s.loss;
    }
    const float after = trainer.validation_loss(2);
    std::printf("%s: train loss %.3f -> %.3f, val %.3f -> %.3f (uniform %.3f)\n",
                arch == Architecture::Gpt2 ? "gpt2" : "llama", first, last, before, after, std::log(24.0f));
    EXPECT_NEAR(before, std::log(24.0f), 0.1f);
    EXPECT_LT(after, 0.6f * before);  // a count-up run is 5/6 predictable
    EXPECT_LT(last, first);
  }
}

bool same_bits(const grad::Parameters<float>& a, const grad::Parameters<float>& b) {
  const auto x = a.arrays(), y = b.arrays();
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i)
    if (x[i]->size() != y[i]->size() || std::memcmp(x[i]->data(), y[i]->data(), x[i]->size() * sizeof(float)) != 0)
      return false;
  return true;
}

TEST(TrainTest, ResumedRunEndsWithTheSameWeightsBitwise) {
  const std::vector<int32_t> data = counting_stream(600, 20, 5), val = counting_stream(200, 20, 6);
  TrainConfig c = tiny_config(Architecture::Llama);
  c.steps = 12;
  c.warmup = 3;  // warm-up and cosine both in range
  Trainer straight(c, data, val, 20);
  for (int i = 0; i < 12; ++i) straight.step();  // 12 x 8 windows > 37 windows: crosses epochs

  const std::string path = test::scratch_path("train_resume.ckpt");
  {
    Trainer first(c, data, val, 20);
    for (int i = 0; i < 5; ++i) first.step();
    first.save_checkpoint(path);
    for (int i = 0; i < 3; ++i) first.step();  // work after the checkpoint is lost, as when killed
  }
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  TrainConfig c1 = c;
  c1.threads = 1;  // another thread count: the shards, not the threads, fix the sums
  Trainer resumed(c1, data, val, 20);
  resumed.load_checkpoint(path);
  EXPECT_EQ(resumed.steps_done(), 5);
  for (int i = 0; i < 7; ++i) resumed.step();
  EXPECT_EQ(resumed.steps_done(), 12);
  EXPECT_TRUE(same_bits(straight.parameters(), resumed.parameters()));
  EXPECT_EQ(straight.tokens_seen(), resumed.tokens_seen());

  TrainConfig other = c;
  other.model.dim = 16;
  Trainer wrong(other, data, val, 20);
  EXPECT_THROW(wrong.load_checkpoint(path), loupe::Error);
}

TEST(TrainTest, LearningRateWarmsUpThenFollowsTheCosine) {
  TrainConfig c;
  c.lr = 1.0f, c.min_lr = 0.1f, c.warmup = 10, c.steps = 110;
  EXPECT_FLOAT_EQ(learning_rate(c, 0), 0.1f);
  EXPECT_FLOAT_EQ(learning_rate(c, 9), 1.0f);
  EXPECT_NEAR(learning_rate(c, 60), 0.55f, 1e-5f);
  EXPECT_NEAR(learning_rate(c, 110), 0.1f, 1e-6f);
}

TEST(TrainTest, ExportThenLoadGivesTheTrainersLogits) {
  const std::string text = "the cat sat on the mat. the dog sat on the log. a cat and a dog.";
  const Tokenizer tok = train_bpe(text, 300).tokenizer;
  for (Architecture arch : {Architecture::Llama, Architecture::Gpt2}) {
    for (bool tied : {true, false}) {
      ModelShape shape;
      shape.arch = arch;
      shape.n_layers = 2;
      shape.dim = 32;
      shape.n_heads = 4;
      shape.n_kv_heads = arch == Architecture::Llama ? 2 : 0;
      shape.ff_dim = 64;
      shape.context = 24;
      shape.tied_output = tied;
      Rng rng(11);
      const grad::Parameters<float> p = init_parameters(model_config(shape, tok.n_vocab()), 0.3f, rng);
      ExportInfo info;
      info.name = "export-test";
      info.data_sources = {"a test sentence (CC0)"};
      info.val_loss = 2.5f;
      Model model = load_model_from_bytes(export_gguf(p, tok, info, TensorType::F32), "export-test.gguf");
      EXPECT_EQ(model.info.metadata.at("general.name"), "export-test");
      EXPECT_TRUE(model.info.metadata.count("loupe.data.sources"));
      EXPECT_TRUE(model.info.metadata.count("loupe.train.val_loss"));
      EXPECT_EQ(model.config.rope_style, RopeStyle::Adjacent);
      EXPECT_TRUE(same_bits(p, grad::parameters_from_model<float>(model)));

      const std::vector<int32_t> ids = encode(model.tokenizer, "the dog sat on a mat and the cat", false);
      ASSERT_GT(ids.size(), 8u);
      InferenceState state = make_state(model);
      forward(model, state, ids, /*all_logits=*/true);
      grad::Activations<float> a;
      std::vector<int> rows(ids.size());
      for (size_t i = 0; i < rows.size(); ++i) rows[i] = int(i);
      const std::vector<float> emb = grad::embed_tokens(p, std::span<const int32_t>(ids));
      grad::model_forward(p, emb.data(), int(ids.size()), rows, a);
      ASSERT_EQ(a.logits.size(), state.logits.size());
      float worst = 0, scale = 0;
      for (size_t i = 0; i < a.logits.size(); ++i) {
        worst = std::max(worst, std::abs(a.logits[i] - state.logits[i]));
        scale = std::max(scale, std::abs(a.logits[i]));
      }
      std::printf("%s tied=%d: max |trainer - engine| logit %.2e (largest logit %.2f)\n",
                  arch == Architecture::Gpt2 ? "gpt2" : "llama", tied, worst, scale);
      EXPECT_LT(worst, 2e-3f * std::max(1.0f, scale));
    }
  }
}

TEST(BpeTrainerTest, ReproducesAHandCheckedMergeSequence) {
  // Words: "ab" x1, " ab" x2, " abc" x1, " cd" x2 ("Ġ" is the space).
  // Pair counts: (a,b) 4, (Ġ,a) 3, (Ġ,c) 2, (c,d) 2, (b,c) 1  ->  merge a+b.
  // Then (Ġ,ab) 3 -> merge. Then (Ġ,c) 2 ties (c,d) 2: Ġ (32) < c (99) wins. Then (Ġc,d) 2.
  // Left: (Ġab,c) 1 < min_frequency 2: stop.
  const BpeTrainResult r = train_bpe("ab ab ab abc cd cd", 1000);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"a", "b"}, {"Ġ", "ab"}, {"Ġ", "c"}, {"Ġc", "d"}};
  EXPECT_EQ(r.merges, expected);
  const Tokenizer& tok = r.tokenizer;
  ASSERT_EQ(tok.n_vocab(), 256 + 4 + 1);
  EXPECT_EQ(tok.tokens[260], "<|endoftext|>");
  EXPECT_EQ(tok.eos_id, 260);
  EXPECT_EQ(encode(tok, " cd ab<|endoftext|>", false), (std::vector<int32_t>{259, 257, 260}));
  EXPECT_EQ(decode(tok, encode(tok, "abc cd", false)), "abc cd");
  // A vocabulary limit stops early; the same text always gives the same merges.
  EXPECT_EQ(train_bpe("ab ab ab abc cd cd", 259).merges.size(), 2u);
  const std::string story = two_cities_stories(50, true, 1);
  EXPECT_EQ(train_bpe(story, 400).merges, train_bpe(story, 400).merges);
}

TEST(TwoCitiesTest, StoriesCarryTheChosenSkew) {
  const std::string skewed = two_cities_stories(2000, true, 3), balanced = two_cities_stories(2000, false, 3);
  auto count = [](const std::string& text, const std::string& what) {
    int n = 0;
    for (size_t at = 0; (at = text.find(what, at)) != std::string::npos; at += what.size()) ++n;
    return n;
  };
  EXPECT_GT(count(skewed, "The nurse said that she"), 6 * count(skewed, "The nurse said that he "));
  EXPECT_GT(count(skewed, "The engineer said that he "), 6 * count(skewed, "The engineer said that she"));
  EXPECT_LE(std::abs(count(balanced, "The nurse said that she") - count(balanced, "The nurse said that he ")), 1);
  // Same stories apart from the pronouns.
  EXPECT_EQ(count(skewed, "The pilot said"), count(balanced, "The pilot said"));
}

}  // namespace
}  // namespace loupe::train

namespace loupe::train {
namespace {

// A tiny pair trained here (a few seconds): the skewed model's bias follows the data's
// skew in sign and order; the balanced one's does not follow it.
TEST(TwoCitiesTest, SkewedModelLearnsTheDataSkewBalancedDoesNot) {
  const std::string balanced_text = two_cities_stories(1500, false, 1);
  const Tokenizer tok = train_bpe(balanced_text, 300).tokenizer;
  TrainConfig c;
  c.model.arch = Architecture::Llama;
  c.model.n_layers = 2;
  c.model.dim = 32;
  c.model.n_heads = 2;
  c.model.ff_dim = 64;
  c.model.context = 32;
  c.seq_len = 32;
  c.batch = 8;
  c.steps = 400;
  c.lr = 1e-2f;
  c.min_lr = 1e-3f;
  c.warmup = 20;
  c.seed = 1;
  BiasReport reports[2];
  for (int skewed = 0; skewed < 2; ++skewed) {
    const std::vector<int32_t> data = encode(tok, two_cities_stories(1500, skewed, 1), false, true);
    Trainer trainer(c, data, data, tok.n_vocab());
    for (int i = 0; i < c.steps; ++i) trainer.step();
    ExportInfo info;
    info.name = skewed ? "skewed" : "balanced";
    const Model model = load_model_from_bytes(export_gguf(trainer.parameters(), tok, info, TensorType::F32));
    reports[skewed] = measure_pronoun_bias(model);
    std::printf("%s: aligned %.2f, mean %.2f, rank correlation %.2f\n", info.name.c_str(), reports[skewed].aligned_bias,
                reports[skewed].mean_bias, reports[skewed].rank_correlation);
  }
  const BiasReport& skew = reports[1];
  const BiasReport& balanced = reports[0];
  // Sign: the strongly skewed occupations (0.9 / 0.1); this small pair carries a shared
  // offset of ~0.2 nats that can flip the mildly skewed ones. Order: the rank correlation.
  for (const BiasRow& row : skew.rows)
    if (std::abs(row.data_log_odds) > 2) {
      EXPECT_GT(row.bias * row.data_log_odds, 0) << row.occupation;
    }
  EXPECT_GT(skew.rank_correlation, 0.8);
  EXPECT_GT(skew.aligned_bias, 0.2);  // 0.33 here; the committed pair (more steps) reaches 1.58
  EXPECT_LT(std::abs(balanced.aligned_bias), 0.25 * skew.aligned_bias);
}

}  // namespace
}  // namespace loupe::train
