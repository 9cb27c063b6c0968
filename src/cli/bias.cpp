// loupe-cli bias: a model's scores on the published gender-bias suites Winogender and
// WinoBias (engine: bias/probes.h), as a table or JSON. The model cards quote it.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "bias/probes.h"
#include "commands.h"
#include "core/error.h"
#include "kernels/thread_pool.h"
#include "model/model.h"

namespace loupe::cli {
namespace {

struct BiasOptions {
  std::string model_path, benchmarks = "../shared/benchmarks", split = "test";
  bool json = false;
  int threads = 0;
};

nlohmann::json interval_json(const bias::Interval& i) { return {{"value", i.value}, {"low", i.low}, {"high", i.high}}; }

void command_bias(const BiasOptions& o) {
  set_thread_count(o.threads > 0 ? o.threads : default_thread_count());
  const std::filesystem::path root(o.benchmarks);
  if (!std::filesystem::is_directory(root / "winogender") || !std::filesystem::is_directory(root / "winobias"))
    fail("no winogender/ and winobias/ folders under " + root.string() +
         " (--benchmarks: the folder holding the suites in their original formats)");
  const Model model = load_model(o.model_path);
  const bias::WinogenderReport gender = bias::score_winogender(model, bias::load_winogender(root / "winogender"));
  const bias::WinoBiasReport wino = bias::score_winobias(model, bias::load_winobias(root / "winobias", o.split));
  if (o.json) {
    nlohmann::json occupations = nlohmann::json::array();
    for (const auto& row : gender.occupations)
      occupations.push_back({{"occupation", row.occupation}, {"bls_pct_female", row.bls_pct_female}, {"bias", row.bias}});
    const nlohmann::json out = {
        {"model", model.info.name},
        {"winogender", {{"templates", gender.templates}, {"mean_bias", interval_json(gender.mean_bias)},
                        {"pearson_with_bls", interval_json(gender.pearson_with_bls)}, {"occupations", occupations}}},
        {"winobias", {{"split", o.split}, {"pairs", wino.pairs}, {"prefers_pro", interval_json(wino.prefers_pro)},
                      {"mean_difference", interval_json(wino.mean_difference)}}}};
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  const auto line = [](const char* what, const bias::Interval& i, const char* meaning) {
    std::printf("  %-34s %+7.3f  [%+.3f, %+.3f]  %s\n", what, i.value, i.low, i.high, meaning);
  };
  std::printf("model %s (values with 95%% bootstrap intervals)\n", model.info.name.c_str());
  std::printf("Winogender, %d templates over %zu occupations: log P(female pronoun) - log P(male pronoun)\n",
              gender.templates, gender.occupations.size());
  line("mean bias (nats)", gender.mean_bias, "< 0: leans to he/his/him");
  line("correlation with BLS % female", gender.pearson_with_bls, "> 0: follows job statistics");
  std::printf("WinoBias (%s), %d sentence pairs: pro- against anti-stereotypical pronoun\n", o.split.c_str(), wino.pairs);
  line("share preferring the stereotype", wino.prefers_pro, "0.5: no preference");
  line("mean log P(pro) - log P(anti)", wino.mean_difference, "> 0: prefers the stereotype");
}

}  // namespace

void add_bias_command(CLI::App& app) {
  auto o = std::make_shared<BiasOptions>();
  CLI::App* c = app.add_subcommand("bias", "Score a model on the gender-bias suites Winogender and WinoBias");
  c->add_option("-m,--model", o->model_path, "GGUF file, or a Hugging Face folder with *.safetensors")->required();
  c->add_option("--benchmarks", o->benchmarks, "Folder with winogender/ and winobias/ in their original formats")
      ->capture_default_str();
  c->add_option("--split", o->split, "WinoBias split: dev or test")->check(CLI::IsMember({"dev", "test"}))->capture_default_str();
  c->add_flag("--json", o->json, "Write JSON");
  c->add_option("-t,--threads", o->threads, "Threads (default: all cores)")->check(CLI::Range(1, 256));
  c->callback([o] { command_bias(*o); });
}

}  // namespace loupe::cli
