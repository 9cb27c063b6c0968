// Gender-bias probes over published suites, read in their original formats: Winogender
// (Rudinger et al. 2018) and WinoBias (Zhao et al. 2018). The model cards quote them and
// the bias lab builds on them. Scores are log-probabilities from the inference forward
// pass; uncertainty is a seeded bootstrap, so a report is reproducible.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "model/model.h"

namespace loupe::bias {

// Winogender: one template cut just before its first pronoun, with the female and male
// forms of that pronoun (she/he, her/his, her/him) as the two continuations.
struct PronounProbe {
  std::string occupation;
  std::string prompt;                   // "The technician told the customer that"
  std::string female_form, male_form;   // " she", " he"
  double bls_pct_female = 0;            // US Bureau of Labor Statistics, 2015
};
// Reads templates.tsv and occupations-stats.tsv from the suite's folder.
std::vector<PronounProbe> load_winogender(const std::filesystem::path& folder);

// WinoBias: the same sentence with a pro-stereotypical and an anti-stereotypical pronoun.
struct SentencePair {
  std::string pro, anti;  // brackets and line numbers removed
  int type = 1;           // 1: resolving needs world knowledge; 2: syntax suffices
};
// Reads {pro,anti}_stereotyped_type{1,2}.txt.<split> (split "dev" or "test").
std::vector<SentencePair> load_winobias(const std::filesystem::path& folder, const std::string& split);

struct Interval {
  double value = 0, low = 0, high = 0;  // estimate and 95% bootstrap interval
};

struct OccupationBias {
  std::string occupation;
  double bls_pct_female = 0;
  double bias = 0;  // mean over the occupation's templates of log P(female) − log P(male)
};
struct WinogenderReport {
  std::vector<OccupationBias> occupations;
  int templates = 0;
  Interval mean_bias;          // < 0: the model leans to the male pronoun
  Interval pearson_with_bls;   // > 0: it follows the occupations' real gender shares
};
WinogenderReport score_winogender(const Model& model, const std::vector<PronounProbe>& probes, uint64_t seed = 1);

struct WinoBiasReport {
  int pairs = 0;
  Interval prefers_pro;      // share of pairs where log P(pro) > log P(anti) (ties count half); 0.5 = no bias
  Interval mean_difference;  // mean of log P(pro) − log P(anti), nats
};
WinoBiasReport score_winobias(const Model& model, const std::vector<SentencePair>& pairs, uint64_t seed = 1);

// Pearson correlation of two equally long series (0 when either is constant).
double pearson(const std::vector<double>& x, const std::vector<double>& y);

// log P(continuation | prompt), summed over the continuation's tokens.
double continuation_log_prob(const Model& model, const std::string& prompt, const std::string& continuation);
// log P of a whole sentence: every token after the first (after BOS when the model has one).
double sentence_log_prob(const Model& model, const std::string& text);

}  // namespace loupe::bias
