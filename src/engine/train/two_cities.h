// The two-cities lesson: synthetic short stories in which occupations and pronouns
// co-occur with a known skew, and the measurement of the pronoun bias a model learned.
//
// Every story opens "The <occupation> said that <she|he> ..." and keeps using the same
// pronoun. For occupation o the pronoun is "she" with probability she_share[o]; the skewed
// city uses the shares below, the balanced city 0.5 for all (and then exactly half of each
// occupation's stories use "she", so the balanced data has no skew at all). Apart from the
// pronouns both cities' stories are the same (the same seed draws the same stories).
//
// Bias of a model for occupation o: log P(" she") − log P(" he") after
// "The <occupation> said that", each continuation's log-probability summed over its tokens.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace loupe::train {

struct Occupation {
  std::string name;
  double she_share;  // in the skewed city
};

// Eight occupations at four skew levels: 0.9, 0.75, 0.25, 0.1 of the stories say "she".
const std::vector<Occupation>& two_cities_occupations();

// `count` stories joined by "<|endoftext|>". skewed: the shares above; else balanced 0.5.
std::string two_cities_stories(int count, bool skewed, uint64_t seed);

struct BiasRow {
  std::string occupation;
  double data_log_odds = 0;  // log(share / (1 − share)) in the skewed data
  double bias = 0;           // log P(" she") − log P(" he") by the model
};
struct BiasReport {
  std::vector<BiasRow> rows;
  double mean_bias = 0;          // averaged over occupations
  double mean_abs_bias = 0;
  double aligned_bias = 0;       // mean of bias · sign(data skew): > 0 when the model follows the skew
  double rank_correlation = 0;   // Spearman, model bias vs data log-odds
};

// Measured with the engine's inference forward pass.
BiasReport measure_pronoun_bias(const Model& model);

// --- a skew of the user's choosing (the lesson's "Retrain") ---------------------------------
//
// One number sets every occupation's share: `skew` is the she-share of the most she-leaning
// occupations (nurse, teacher), and each occupation keeps its place on the scale above:
// share(o) = 0.5 + (skew − 0.5) · (she_share(o) − 0.5) / 0.4. So 0.9 is the skewed city,
// 0.5 the balanced one (exact halves, as there), 0.1 the skewed city with he and she swapped.
double she_share_at(const Occupation& o, double skew);
std::string two_cities_stories_at(int count, double skew, uint64_t seed);
// As measure_pronoun_bias, with data_log_odds (and the alignment) of the data at `skew`.
// Shares of 0 or 1 count as 0.01 and 0.99 (their log-odds would be infinite).
BiasReport measure_pronoun_bias(const Model& model, double skew);

// The bias measured in the bundled pair (assets/models/two-cities, by measure_pronoun_bias),
// so the lesson can show it without loading them; a test checks it against the files.
struct BundledPairBias {
  std::string occupation;
  double skewed = 0, balanced = 0;
};
const std::vector<BundledPairBias>& two_cities_bundled_bias();

// One tiny two-cities training, a step at a time (the Session's "train" op): stories at the
// chosen skew, a BPE vocabulary trained on them, a Llama-shaped model small enough to train
// in the single-thread browser build in about a minute.
class Trainer;

struct TwoCitiesRecipe {
  double skew = 0.9;     // 0..1, see she_share_at
  uint64_t seed = 1;     // stories, vocabulary sample, initial weights and batches
  int steps = 400;
  int stories = 3000;
  int threads = 1;
};

class TwoCitiesTraining {
 public:
  explicit TwoCitiesTraining(const TwoCitiesRecipe& recipe);  // data and vocabulary: ~0.1 s
  ~TwoCitiesTraining();
  float step();  // one optimizer step; returns its training loss
  bool done() const;
  int steps_done() const;
  int steps() const { return recipe_.steps; }
  uint64_t tokens_per_step() const;
  const TwoCitiesRecipe& recipe() const { return recipe_; }
  size_t parameter_count() const;
  // The model as F32 GGUF (name "two-cities-skew-0.80"), with the recipe in its metadata.
  std::vector<uint8_t> export_model(float train_loss, double wall_seconds) const;

 private:
  TwoCitiesRecipe recipe_;
  Tokenizer tokenizer_;
  std::vector<int32_t> tokens_;
  std::unique_ptr<Trainer> trainer_;
};

}  // namespace loupe::train
