// Reading Winogender and WinoBias in their authors' formats and scoring a model on them.
#include "bias/probes.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "core/error.h"
#include "model/forward.h"
#include "tokenizer/tokenizer.h"

namespace loupe::bias {
namespace {

std::vector<std::string> read_lines(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read " + path.string() + " (is this the suite's folder?)");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> fields;
  std::stringstream stream(line);
  for (std::string field; std::getline(stream, field, '\t');) fields.push_back(field);
  return fields;
}

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (size_t at = 0; (at = text.find(from, at)) != std::string::npos; at += to.size()) text.replace(at, from.size(), to);
}

// log-softmax of one logit row at `token`, in double.
double log_prob_at(const float* row, int vocab, int32_t token) {
  const float max_value = *std::max_element(row, row + vocab);
  double sum = 0;
  for (int v = 0; v < vocab; ++v) sum += std::exp(double(row[v] - max_value));
  return double(row[token] - max_value) - std::log(sum);
}

// Sum of log P(ids[i] | ids[<i]) for i >= first.
double score_tokens(const Model& model, const std::vector<int32_t>& ids, size_t first) {
  if (ids.empty() || first >= ids.size()) return 0;
  if (int(ids.size()) > model.config.context_length) fail("bias probe: the text is longer than the model's context");
  InferenceState state = make_state(model, int(ids.size()));
  forward(model, state, ids, /*all_logits=*/true);
  const int vocab = model.config.vocab_size;
  double total = 0;
  for (size_t i = std::max<size_t>(first, 1); i < ids.size(); ++i)
    total += log_prob_at(state.logits.data() + (i - 1) * size_t(vocab), vocab, ids[i]);
  return total;
}


// 95% percentile interval of `statistic` over resamples of `units` items (with
// replacement). Indices drawn as rng() % units so that native and wasm builds agree.
template <class Statistic>
Interval bootstrap(size_t units, uint64_t seed, Statistic statistic) {
  Interval result;
  std::vector<size_t> all(units);
  for (size_t i = 0; i < units; ++i) all[i] = i;
  result.value = statistic(all);
  if (units < 2) return result;
  constexpr int kResamples = 1000;
  std::mt19937_64 rng(seed);
  std::vector<double> values;
  std::vector<size_t> pick(units);
  for (int r = 0; r < kResamples; ++r) {
    for (size_t& p : pick) p = size_t(rng() % units);
    values.push_back(statistic(pick));
  }
  std::sort(values.begin(), values.end());
  result.low = values[size_t(0.025 * (kResamples - 1))];
  result.high = values[size_t(0.975 * (kResamples - 1))];
  return result;
}

// WinoBias line: "12 [The developer] argued with ... [he] ..." -> the plain sentence.
std::string plain_winobias_sentence(const std::string& line) {
  size_t start = 0;
  while (start < line.size() && std::isdigit(static_cast<unsigned char>(line[start]))) ++start;
  std::string text = line.substr(start);
  text.erase(std::remove_if(text.begin(), text.end(), [](char c) { return c == '[' || c == ']'; }), text.end());
  while (!text.empty() && text.front() == ' ') text.erase(text.begin());
  // The authors' files write "the [the chief]" in a few lines; keep the text as published.
  return text;
}

}  // namespace

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = double(x.size());
  double mx = 0, my = 0;
  for (size_t i = 0; i < x.size(); ++i) mx += x[i] / n, my += y[i] / n;
  double cov = 0, vx = 0, vy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    cov += (x[i] - mx) * (y[i] - my);
    vx += (x[i] - mx) * (x[i] - mx);
    vy += (y[i] - my) * (y[i] - my);
  }
  return vx > 0 && vy > 0 ? cov / std::sqrt(vx * vy) : 0;
}

double continuation_log_prob(const Model& model, const std::string& prompt, const std::string& continuation) {
  std::vector<int32_t> ids = encode(model.tokenizer, prompt, model.tokenizer.add_bos, false);
  const size_t prompt_tokens = ids.size();
  const std::vector<int32_t> rest = encode(model.tokenizer, continuation, false, false);
  ids.insert(ids.end(), rest.begin(), rest.end());
  return score_tokens(model, ids, prompt_tokens);
}

double sentence_log_prob(const Model& model, const std::string& text) {
  return score_tokens(model, encode(model.tokenizer, text, model.tokenizer.add_bos, false), 1);
}

std::vector<PronounProbe> load_winogender(const std::filesystem::path& folder) {
  std::map<std::string, double> pct_female;
  const std::vector<std::string> stats = read_lines(folder / "occupations-stats.tsv");
  for (size_t i = 1; i < stats.size(); ++i) {
    const std::vector<std::string> f = split_tabs(stats[i]);
    if (f.size() < 3) fail("occupations-stats.tsv line " + std::to_string(i + 1) + ": expected 4 tab-separated fields");
    pct_female[f[0]] = std::atof(f[2].c_str());
  }
  static const struct {
    const char* placeholder;
    const char* female;
    const char* male;
  } kPronouns[] = {{"$NOM_PRONOUN", " she", " he"}, {"$POSS_PRONOUN", " her", " his"}, {"$ACC_PRONOUN", " her", " him"}};
  std::vector<PronounProbe> probes;
  const std::vector<std::string> rows = read_lines(folder / "templates.tsv");
  for (size_t i = 1; i < rows.size(); ++i) {
    const std::vector<std::string> f = split_tabs(rows[i]);
    if (f.size() < 4) fail("templates.tsv line " + std::to_string(i + 1) + ": expected 4 tab-separated fields");
    PronounProbe probe;
    probe.occupation = f[0];
    const auto stat = pct_female.find(f[0]);
    if (stat == pct_female.end()) fail("templates.tsv: occupation '" + f[0] + "' has no line in occupations-stats.tsv");
    probe.bls_pct_female = stat->second;
    // Cut before the first pronoun of any case.
    size_t cut = std::string::npos;
    for (const auto& p : kPronouns) {
      const size_t at = f[3].find(p.placeholder);
      if (at < cut) cut = at, probe.female_form = p.female, probe.male_form = p.male;
    }
    if (cut == std::string::npos) continue;
    std::string prompt = f[3].substr(0, cut);
    while (!prompt.empty() && prompt.back() == ' ') prompt.pop_back();
    replace_all(prompt, "$OCCUPATION", f[0]);
    replace_all(prompt, "$PARTICIPANT", f[1]);
    probe.prompt = prompt;
    probes.push_back(probe);
  }
  if (probes.empty()) fail("templates.tsv: no template with a pronoun");
  return probes;
}

std::vector<SentencePair> load_winobias(const std::filesystem::path& folder, const std::string& split) {
  std::vector<SentencePair> pairs;
  for (int type : {1, 2}) {
    const std::string suffix = "_stereotyped_type" + std::to_string(type) + ".txt." + split;
    const std::vector<std::string> pro = read_lines(folder / ("pro" + suffix)), anti = read_lines(folder / ("anti" + suffix));
    if (pro.size() != anti.size())
      fail("WinoBias type " + std::to_string(type) + ": the pro and anti files have different line counts");
    for (size_t i = 0; i < pro.size(); ++i)
      pairs.push_back({plain_winobias_sentence(pro[i]), plain_winobias_sentence(anti[i]), type});
  }
  return pairs;
}

WinogenderReport score_winogender(const Model& model, const std::vector<PronounProbe>& probes, uint64_t seed) {
  WinogenderReport report;
  report.templates = int(probes.size());
  std::map<std::string, std::pair<double, int>> sums;  // occupation -> (sum of bias, count)
  std::map<std::string, double> pct;
  for (const PronounProbe& p : probes) {
    const double bias = continuation_log_prob(model, p.prompt, p.female_form) -
                        continuation_log_prob(model, p.prompt, p.male_form);
    auto& [sum, count] = sums[p.occupation];
    sum += bias, ++count;
    pct[p.occupation] = p.bls_pct_female;
  }
  for (const auto& [occupation, sum_count] : sums)
    report.occupations.push_back({occupation, pct[occupation], sum_count.first / sum_count.second});
  const auto& rows = report.occupations;
  report.mean_bias = bootstrap(rows.size(), seed, [&](const std::vector<size_t>& pick) {
    double total = 0;
    for (size_t i : pick) total += rows[i].bias;
    return total / double(pick.size());
  });
  report.pearson_with_bls = bootstrap(rows.size(), seed + 1, [&](const std::vector<size_t>& pick) {
    std::vector<double> x, y;
    for (size_t i : pick) x.push_back(rows[i].bls_pct_female), y.push_back(rows[i].bias);
    return pearson(x, y);
  });
  return report;
}

WinoBiasReport score_winobias(const Model& model, const std::vector<SentencePair>& pairs, uint64_t seed) {
  WinoBiasReport report;
  report.pairs = int(pairs.size());
  std::vector<double> difference;
  for (const SentencePair& p : pairs) difference.push_back(sentence_log_prob(model, p.pro) - sentence_log_prob(model, p.anti));
  report.prefers_pro = bootstrap(difference.size(), seed, [&](const std::vector<size_t>& pick) {
    double share = 0;
    for (size_t i : pick) share += difference[i] > 0 ? 1.0 : difference[i] == 0 ? 0.5 : 0.0;
    return share / double(pick.size());
  });
  report.mean_difference = bootstrap(difference.size(), seed + 1, [&](const std::vector<size_t>& pick) {
    double total = 0;
    for (size_t i : pick) total += difference[i];
    return total / double(pick.size());
  });
  return report;
}

}  // namespace loupe::bias
