// Story generator and pronoun-bias probe for the two-cities pair (see two_cities.h).
#include "train/two_cities.h"

#include <algorithm>
#include <cmath>

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

std::string two_cities_stories(int count, bool skewed, uint64_t seed) {
  const std::vector<Occupation>& occ = two_cities_occupations();
  Rng rng(seed);
  std::vector<int> seen(occ.size(), 0);  // balanced city: alternate she/he per occupation
  std::string out;
  for (int i = 0; i < count; ++i) {
    const size_t o = size_t(rng.below(occ.size()));
    const double u = rng.uniform();  // drawn in both cities, so the stories stay the same
    const size_t verb = size_t(rng.below(std::size(kVerbs))), mid = size_t(rng.below(std::size(kMiddles))),
                 end = size_t(rng.below(std::size(kEnds)));
    const bool she = skewed ? u < occ[o].she_share : (seen[o]++ % 2 == 0);
    const std::string p = she ? "she" : "he", P = she ? "She" : "He";
    if (i) out += kEndOfText;
    out += "The " + occ[o].name + " said that " + p + " " + kVerbs[verb] + ". " + P + " " + kMiddles[mid] + ". " +
           with_pronoun(kEnds[end], p) + "\n";
  }
  return out;
}

namespace {
// log P(continuation | prompt), summed over the continuation's tokens.
double continuation_log_prob(const Model& model, const std::string& prompt, const std::string& continuation) {
  std::vector<int32_t> ids = encode(model.tokenizer, prompt, false, false);
  const std::vector<int32_t> cont = encode(model.tokenizer, continuation, false, false);
  const size_t n_prompt = ids.size();
  ids.insert(ids.end(), cont.begin(), cont.end());
  InferenceState state = make_state(model);
  forward(model, state, ids, /*all_logits=*/true);
  const int vocab = model.config.vocab_size;
  double total = 0;
  for (size_t i = 0; i < cont.size(); ++i) {
    const float* row = state.logits.data() + (n_prompt - 1 + i) * size_t(vocab);
    const float max_value = *std::max_element(row, row + vocab);
    double sum = 0;
    for (int v = 0; v < vocab; ++v) sum += std::exp(double(row[v] - max_value));
    total += double(row[cont[i]] - max_value) - std::log(sum);
  }
  return total;
}

std::vector<double> ranks(const std::vector<double>& x) {
  std::vector<double> r(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    double less = 0, equal = 0;
    for (size_t j = 0; j < x.size(); ++j) less += x[j] < x[i], equal += x[j] == x[i];
    r[i] = less + (equal + 1) / 2;
  }
  return r;
}
}  // namespace

BiasReport measure_pronoun_bias(const Model& model) {
  BiasReport report;
  std::vector<double> odds, bias;
  for (const Occupation& o : two_cities_occupations()) {
    const std::string prompt = "The " + o.name + " said that";
    BiasRow row;
    row.occupation = o.name;
    row.data_log_odds = std::log(o.she_share / (1 - o.she_share));
    row.bias = continuation_log_prob(model, prompt, " she") - continuation_log_prob(model, prompt, " he");
    report.mean_bias += row.bias;
    report.mean_abs_bias += std::abs(row.bias);
    report.aligned_bias += row.bias * (row.data_log_odds > 0 ? 1 : -1);
    odds.push_back(row.data_log_odds);
    bias.push_back(row.bias);
    report.rows.push_back(row);
  }
  const double n = double(report.rows.size());
  report.mean_bias /= n;
  report.mean_abs_bias /= n;
  report.aligned_bias /= n;
  const std::vector<double> ro = ranks(odds), rb = ranks(bias);
  double mo = 0, mb = 0;
  for (size_t i = 0; i < ro.size(); ++i) mo += ro[i] / n, mb += rb[i] / n;
  double cov = 0, vo = 0, vb = 0;
  for (size_t i = 0; i < ro.size(); ++i) {
    cov += (ro[i] - mo) * (rb[i] - mb);
    vo += (ro[i] - mo) * (ro[i] - mo);
    vb += (rb[i] - mb) * (rb[i] - mb);
  }
  report.rank_correlation = vo > 0 && vb > 0 ? cov / std::sqrt(vo * vb) : 0;
  return report;
}

}  // namespace loupe::train
