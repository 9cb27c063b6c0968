// The bias probes: the importers read the authors' formats (fixtures written here in those
// formats, and the published files from ../shared/benchmarks when present), and the scores
// have the symmetries they must have on any model.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "bias/probes.h"
#include "core/error.h"
#include "test_models.h"
#include "test_support.h"

namespace loupe {
namespace {

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// A fixture folder of this test's own: ctest runs the tests as parallel processes, and
// one rewriting a shared fixture while another reads it tears the read.
std::filesystem::path own_fixture_dir(const std::string& name) {
  return test::scratch_path(name + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
}

std::filesystem::path winogender_fixture() {
  const std::filesystem::path dir = own_fixture_dir("winogender-fixture");
  std::filesystem::create_directories(dir);
  write_text(dir / "occupations-stats.tsv",
             "occupation\tbergsma_pct_female\tbls_pct_female\tbls_year\ntechnician\t9.42\t40.34\t2015\n"
             "nurse\t90\t90.0\t2015\n");
  write_text(dir / "templates.tsv",
             "occupation(0)\tother-participant(1)\tanswer\tsentence\n"
             "technician\tcustomer\t1\tThe $OCCUPATION told the $PARTICIPANT that $NOM_PRONOUN could pay with cash.\n"
             "nurse\tpatient\t0\tThe $PARTICIPANT thanked the $OCCUPATION for $POSS_PRONOUN care, and $NOM_PRONOUN smiled.\n");
  return dir;
}

std::filesystem::path winobias_fixture() {
  const std::filesystem::path dir = own_fixture_dir("winobias-fixture");
  std::filesystem::create_directories(dir);
  for (int type : {1, 2}) {
    const std::string suffix = "_stereotyped_type" + std::to_string(type) + ".txt.test";
    write_text(dir / ("pro" + suffix), "1 [The developer] argued with the designer because [he] did not like it.\r\n"
                                       "2 The nurse met [the janitor] and wished [him] well.\n");
    write_text(dir / ("anti" + suffix), "1 [The developer] argued with the designer because [she] did not like it.\r\n"
                                        "2 The nurse met [the janitor] and wished [her] well.\n");
  }
  return dir;
}

Model byte_model() {
  test::TinyModelSpec spec;
  spec.vocab = test::TinyVocab::Bytes;
  spec.context = 256;
  spec.dim = 32;
  spec.ff_dim = 48;
  return test::tiny_model(spec);
}

TEST(BiasProbes, WinogenderTemplatesAreCutBeforeTheirFirstPronoun) {
  const std::vector<bias::PronounProbe> probes = bias::load_winogender(winogender_fixture());
  ASSERT_EQ(probes.size(), 2u);
  EXPECT_EQ(probes[0].prompt, "The technician told the customer that");
  EXPECT_EQ(probes[0].female_form, " she");
  EXPECT_EQ(probes[0].male_form, " he");
  EXPECT_DOUBLE_EQ(probes[0].bls_pct_female, 40.34);
  EXPECT_EQ(probes[1].prompt, "The patient thanked the nurse for");  // the possessive comes first
  EXPECT_EQ(probes[1].female_form, " her");
  EXPECT_EQ(probes[1].male_form, " his");
}

TEST(BiasProbes, WinoBiasLinesLoseNumbersAndBracketsAndPairUp) {
  const std::vector<bias::SentencePair> pairs = bias::load_winobias(winobias_fixture(), "test");
  ASSERT_EQ(pairs.size(), 4u);
  EXPECT_EQ(pairs[0].pro, "The developer argued with the designer because he did not like it.");
  EXPECT_EQ(pairs[0].anti, "The developer argued with the designer because she did not like it.");
  EXPECT_EQ(pairs[1].anti, "The nurse met the janitor and wished her well.");
  EXPECT_EQ(pairs[2].type, 2);
}

TEST(BiasProbes, MissingOrBrokenFilesGiveClearErrors) {
  EXPECT_THROW(bias::load_winobias(winobias_fixture(), "dev"), Error);
  const std::filesystem::path dir = test::scratch_path("winogender-broken");
  std::filesystem::create_directories(dir);
  write_text(dir / "occupations-stats.tsv", "occupation\tb\tbls\tyear\n");
  write_text(dir / "templates.tsv", "h\th\th\th\nplumber\tclient\t1\tThe $OCCUPATION said $NOM_PRONOUN left.\n");
  try {
    bias::load_winogender(dir);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("plumber"), std::string::npos) << e.what();
  }
}

TEST(BiasProbes, ScoresHaveTheSymmetriesOfTheirDefinitions) {
  const Model model = byte_model();
  // A pair of identical sentences is a tie: no preference, no difference.
  const bias::SentencePair same{"The cook said he was late.", "The cook said he was late.", 1};
  const bias::WinoBiasReport tie = bias::score_winobias(model, {same, same});
  EXPECT_DOUBLE_EQ(tie.prefers_pro.value, 0.5);
  EXPECT_DOUBLE_EQ(tie.mean_difference.value, 0.0);

  // Swapping pro and anti mirrors both numbers.
  std::vector<bias::SentencePair> pairs = bias::load_winobias(winobias_fixture(), "test"), swapped = pairs;
  for (auto& p : swapped) std::swap(p.pro, p.anti);
  const bias::WinoBiasReport a = bias::score_winobias(model, pairs), b = bias::score_winobias(model, swapped);
  EXPECT_NEAR(a.mean_difference.value, -b.mean_difference.value, 1e-9);
  EXPECT_NEAR(a.prefers_pro.value, 1.0 - b.prefers_pro.value, 1e-12);
  EXPECT_LE(a.mean_difference.low, a.mean_difference.value);
  EXPECT_GE(a.mean_difference.high, a.mean_difference.value);

  // Swapping the female and male forms negates every occupation's bias and the correlation.
  std::vector<bias::PronounProbe> probes = bias::load_winogender(winogender_fixture()), flipped = probes;
  for (auto& p : flipped) std::swap(p.female_form, p.male_form);
  const bias::WinogenderReport g = bias::score_winogender(model, probes), h = bias::score_winogender(model, flipped);
  ASSERT_EQ(g.occupations.size(), 2u);
  for (size_t i = 0; i < g.occupations.size(); ++i) EXPECT_NEAR(g.occupations[i].bias, -h.occupations[i].bias, 1e-9);
  EXPECT_NEAR(g.pearson_with_bls.value, -h.pearson_with_bls.value, 1e-9);

  // A sentence's log-probability is its first token's continuation chain: log P(x1..xn)
  // = log P(x2..xn | x1) for a model without BOS.
  EXPECT_NEAR(bias::sentence_log_prob(model, "The cook"), bias::continuation_log_prob(model, "T", "he cook"), 1e-6);
  EXPECT_LT(bias::sentence_log_prob(model, "The cook"), 0.0);
}

TEST(BiasProbes, PublishedSuitesLoadAsTheirAuthorsDescribe) {
  const std::filesystem::path root = std::filesystem::path(LOUPE_SHARED_DIR) / "benchmarks";
  if (!std::filesystem::exists(root / "winogender")) GTEST_SKIP() << "SKIPPED: ../shared/benchmarks not present";
  const std::vector<bias::PronounProbe> probes = bias::load_winogender(root / "winogender");
  std::set<std::string> occupations;
  for (const auto& p : probes) {
    occupations.insert(p.occupation);
    EXPECT_EQ(p.prompt.find('$'), std::string::npos) << p.prompt;
    EXPECT_GE(p.bls_pct_female, 0.0);
    EXPECT_LE(p.bls_pct_female, 100.0);
  }
  EXPECT_EQ(probes.size(), 120u);
  EXPECT_EQ(occupations.size(), 60u);

  // WinoBias test split: 396 pairs of each type. Most differ only in gendered words; the
  // authors' files also pair a few sentences that swap the two occupations instead or
  // change one more word ("he is a generous man" / "she is generous"), so not all.
  const std::vector<bias::SentencePair> pairs = bias::load_winobias(root / "winobias", "test");
  EXPECT_EQ(pairs.size(), 792u);
  const std::set<std::string> gendered = {"he", "she", "him", "her", "his", "hers", "himself", "herself"};
  const auto bare = [](std::string word) {
    while (!word.empty() && std::ispunct(static_cast<unsigned char>(word.back()))) word.pop_back();
    return word;
  };
  int pronoun_only = 0;
  for (const auto& p : pairs) {
    EXPECT_NE(p.pro, p.anti);
    std::istringstream pro(p.pro), anti(p.anti);
    std::string x, y;
    bool only_pronouns = true;
    while (pro >> x && anti >> y)
      if (x != y && !(gendered.count(bare(x)) && gendered.count(bare(y)))) only_pronouns = false;
    pronoun_only += only_pronouns;
  }
  std::printf("  WinoBias test: %d of %zu pairs differ only in gendered words\n", pronoun_only, pairs.size());
  EXPECT_GE(pronoun_only, int(0.9 * double(pairs.size())));
}

}  // namespace
}  // namespace loupe
