// Story generator and pronoun-bias probe for the two-cities pair (see two_cities.h).
#include "train/two_cities.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "bias/probes.h"
#include "model/forward.h"
#include "train/bpe_trainer.h"
#include "train/train.h"

namespace loupe::train {

const std::vector<Occupation>& two_cities_occupations() {
  static const std::vector<Occupation> list = {
      {"nurse", 0.9},     {"teacher", 0.9},  {"baker", 0.75},    {"writer", 0.75},
      {"farmer", 0.25},   {"pilot", 0.25},   {"mechanic", 0.1},  {"engineer", 0.1},
  };
  return list;
}

namespace {
const char* const kVerbs[] = {"would come back soon", "was tired", "had found the key", "liked the old house",
                              "would fix the door", "had seen the river", "was ready to go", "wanted some tea"};
const char* const kMiddles[] = {"walked to the market and bought bread", "sat by the window and read a book",
                                "went to work early in the morning", "called a friend in the city",
                                "opened the box and smiled", "cooked a warm dinner"};
const char* const kEnds[] = {"Then {p} went home.", "Later {p} slept well.", "At night {p} wrote a letter.",
                             "After that {p} was happy."};

std::string with_pronoun(std::string s, const std::string& p) {
  for (size_t at; (at = s.find("{p}")) != std::string::npos;) s.replace(at, 3, p);
  return s;
}
}  // namespace

namespace {
// The stories with each occupation's she-share; a share of exactly 0.5 alternates she/he
// per occupation (so the balanced city has no skew at all).
std::string stories_with_shares(int count, const std::vector<double>& shares, uint64_t seed) {
  const std::vector<Occupation>& occ = two_cities_occupations();
  Rng rng(seed);
  std::vector<int> seen(occ.size(), 0);
  std::string out;
  for (int i = 0; i < count; ++i) {
    const size_t o = size_t(rng.below(occ.size()));
    const double u = rng.uniform();  // drawn in both cities, so the stories stay the same
    const size_t verb = size_t(rng.below(std::size(kVerbs))), mid = size_t(rng.below(std::size(kMiddles))),
                 end = size_t(rng.below(std::size(kEnds)));
    const bool she = shares[o] == 0.5 ? (seen[o]++ % 2 == 0) : u < shares[o];
    const std::string p = she ? "she" : "he", P = she ? "She" : "He";
    if (i) out += kEndOfText;
    out += "The " + occ[o].name + " said that " + p + " " + kVerbs[verb] + ". " + P + " " + kMiddles[mid] + ". " +
           with_pronoun(kEnds[end], p) + "\n";
  }
  return out;
}
}  // namespace

std::string two_cities_stories(int count, bool skewed, uint64_t seed) {
  std::vector<double> shares;
  for (const Occupation& o : two_cities_occupations()) shares.push_back(skewed ? o.she_share : 0.5);
  return stories_with_shares(count, shares, seed);
}

double she_share_at(const Occupation& o, double skew) {
  return std::clamp(0.5 + (skew - 0.5) * (o.she_share - 0.5) / 0.4, 0.0, 1.0);
}

std::string two_cities_stories_at(int count, double skew, uint64_t seed) {
  std::vector<double> shares;
  for (const Occupation& o : two_cities_occupations()) shares.push_back(she_share_at(o, skew));
  return stories_with_shares(count, shares, seed);
}

namespace {
std::vector<double> ranks(const std::vector<double>& x) {
  std::vector<double> r(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    double less = 0, equal = 0;
    for (size_t j = 0; j < x.size(); ++j) less += x[j] < x[i], equal += x[j] == x[i];
    r[i] = less + (equal + 1) / 2;
  }
  return r;
}

BiasReport measure_with_shares(const Model& model, const std::vector<double>& shares) {
  BiasReport report;
  std::vector<double> odds, bias;
  const std::vector<Occupation>& occupations = two_cities_occupations();
  for (size_t i = 0; i < occupations.size(); ++i) {
    const Occupation& o = occupations[i];
    const double share = std::clamp(shares[i], 0.01, 0.99);
    const std::string prompt = "The " + o.name + " said that";
    BiasRow row;
    row.occupation = o.name;
    row.data_log_odds = std::log(share / (1 - share));
    row.bias = loupe::bias::continuation_log_prob(model, prompt, " she") -
               loupe::bias::continuation_log_prob(model, prompt, " he");
    report.mean_bias += row.bias;
    report.mean_abs_bias += std::abs(row.bias);
    report.aligned_bias += row.bias * (row.data_log_odds > 0 ? 1 : row.data_log_odds < 0 ? -1 : 0);
    odds.push_back(row.data_log_odds);
    bias.push_back(row.bias);
    report.rows.push_back(row);
  }
  const double n = double(report.rows.size());
  report.mean_bias /= n;
  report.mean_abs_bias /= n;
  report.aligned_bias /= n;
  report.rank_correlation = loupe::bias::pearson(ranks(odds), ranks(bias));  // Spearman
  return report;
}
}  // namespace

BiasReport measure_pronoun_bias(const Model& model) {
  std::vector<double> shares;
  for (const Occupation& o : two_cities_occupations()) shares.push_back(o.she_share);
  return measure_with_shares(model, shares);
}

BiasReport measure_pronoun_bias(const Model& model, double skew) {
  std::vector<double> shares;
  for (const Occupation& o : two_cities_occupations()) shares.push_back(she_share_at(o, skew));
  return measure_with_shares(model, shares);
}

const std::vector<BundledPairBias>& two_cities_bundled_bias() {
  // loupe-cli two-cities -m assets/models/two-cities/two-cities-{skewed,balanced}.gguf
  static const std::vector<BundledPairBias> list = {
      {"nurse", 2.0659, 0.1923},
      {"teacher", 2.0986, 0.2148},
      {"baker", 1.3038, 0.2255},
      {"writer", 1.0692, 0.2084},
      {"farmer", -1.2345, 0.2110},
      {"pilot", -1.0564, 0.2107},
      {"mechanic", -2.0155, 0.1898},
      {"engineer", -1.8318, 0.1967},
  };
  return list;
}

// --- TwoCitiesTraining --------------------------------------------------------------------

namespace {
TrainConfig two_cities_config(const TwoCitiesRecipe& r) {
  TrainConfig c;
  char name[64];
  std::snprintf(name, sizeof name, "two-cities-skew-%.2f", r.skew);
  c.name = name;
  c.model.arch = Architecture::Llama;
  c.model.n_layers = 2;
  c.model.dim = 48;
  c.model.n_heads = 4;
  c.model.ff_dim = 128;
  c.model.context = 48;
  c.model.tied_output = true;
  c.vocab_size = 300;
  c.steps = r.steps;
  c.batch = 16;
  c.seq_len = 48;
  c.lr = 8e-3f;
  c.min_lr = 8e-4f;
  c.warmup = std::max(1, std::min(30, r.steps / 10));
  c.seed = r.seed;
  c.shards = 2;
  c.threads = std::max(1, r.threads);
  c.eval_every = 0;
  char description[200];
  std::snprintf(description, sizeof description,
                "Two-cities lesson, retrained in Loupe: synthetic stories in which nurses and teachers say 'she' "
                "with probability %.2f (the other occupations on the same scale).", r.skew);
  c.description = description;
  c.data_sources = {"Loupe two-cities synthetic stories, seed " + std::to_string(r.seed) + " (CC0-1.0)"};
  return c;
}
}  // namespace

TwoCitiesTraining::TwoCitiesTraining(const TwoCitiesRecipe& recipe) : recipe_(recipe) {
  if (!(recipe.skew >= 0 && recipe.skew <= 1)) fail("the skew must be between 0 and 1");
  if (recipe.steps < 1 || recipe.steps > 100000) fail("steps must be between 1 and 100000");
  if (recipe.stories < 10 || recipe.stories > 200000) fail("stories must be between 10 and 200000");
  const TrainConfig c = two_cities_config(recipe);
  const std::string text = two_cities_stories_at(recipe.stories, recipe.skew, recipe.seed);
  // The vocabulary from the first stories (a few hundred give every word of the generator).
  const size_t sample = std::min(text.size(), size_t(60000));
  tokenizer_ = train_bpe(std::string_view(text).substr(0, sample), c.vocab_size).tokenizer;
  tokens_ = encode(tokenizer_, text, false, /*parse_special=*/true);
  trainer_ = std::make_unique<Trainer>(c, tokens_, tokens_, tokenizer_.n_vocab());
}

TwoCitiesTraining::~TwoCitiesTraining() = default;

float TwoCitiesTraining::step() { return trainer_->step().loss; }
bool TwoCitiesTraining::done() const { return trainer_->steps_done() >= recipe_.steps; }
int TwoCitiesTraining::steps_done() const { return trainer_->steps_done(); }
uint64_t TwoCitiesTraining::tokens_per_step() const {
  return uint64_t(trainer_->config().batch) * uint64_t(trainer_->config().seq_len);
}
size_t TwoCitiesTraining::parameter_count() const { return trainer_->parameters().count(); }

std::vector<uint8_t> TwoCitiesTraining::export_model(float train_loss, double wall_seconds) const {
  ExportInfo info = export_info(*trainer_, train_loss, "Loupe session (the app's Lessons view)");
  info.wall_seconds = wall_seconds;
  return export_gguf(trainer_->parameters(), tokenizer_, info, TensorType::F32);
}

}  // namespace loupe::train
