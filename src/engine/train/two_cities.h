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
#include <string>
#include <vector>

#include "model/model.h"

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

}  // namespace loupe::train
