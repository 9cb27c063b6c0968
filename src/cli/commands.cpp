// loupe-cli subcommands: run, tokenize, logits, info. Each callback runs after parsing;
// loupe::Error thrown inside reaches main(), which prints it to stderr.
#include "commands.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include "core/error.h"
#include "kernels/thread_pool.h"
#include "model/forward.h"
#include "model/model.h"
#include "model/model_card.h"
#include "sampling/generate.h"

namespace loupe::cli {

namespace {

struct RunOptions {
  std::string model_path, prompt;
  SamplingSettings sampling;
  int max_tokens = 128;
  bool chat = false;
  int threads = 0;
  bool json = false;  // one JSON object at the end instead of streamed text
};

void add_model_option(CLI::App* command, std::string& path) {
  command->add_option("-m,--model", path, "GGUF file, or a Hugging Face folder with *.safetensors")->required();
}

void apply_threads(int threads) { set_thread_count(threads > 0 ? threads : default_thread_count()); }

void command_run(const RunOptions& o) {
  apply_threads(o.threads);
  Model model = load_model(o.model_path);
  GenerateRequest request;
  request.prompt = o.prompt;
  request.chat = o.chat;
  request.sampling = o.sampling;
  request.max_tokens = o.max_tokens;
  if (!o.chat && !o.json) {
    std::fputs(o.prompt.c_str(), stdout);
    std::fflush(stdout);
  }
  // --json: every step as {id, text, prob}, so a test can compare token ids, not only text.
  nlohmann::json steps = nlohmann::json::array();
  GenerateResult result = generate(model, request, [&](const GeneratedToken& token) {
    if (o.json) {
      steps.push_back({{"id", token.id}, {"text", token.text}, {"prob", token.probability}});
    } else {
      std::fputs(token.text.c_str(), stdout);
      std::fflush(stdout);
    }
    return true;
  });
  const double tokens_per_s = result.generate_ms > 0 ? 1000.0 * result.ids.size() / result.generate_ms : 0;
  if (o.json) {
    const SamplingSettings& s = o.sampling;
    nlohmann::json out{
        {"model", o.model_path}, {"prompt", o.prompt}, {"chat", o.chat},
        {"seed", s.seed},
        {"settings", {{"max_tokens", o.max_tokens}, {"temperature", s.temperature}, {"top_k", s.top_k},
                      {"top_p", s.top_p}, {"min_p", s.min_p}, {"repeat_penalty", s.repeat_penalty},
                      {"repeat_last_n", s.repeat_last_n}, {"threads", thread_pool().size()}}},
        {"prompt_ids", result.prompt_ids}, {"ids", result.ids}, {"text", result.text},
        {"steps", steps}, {"stop_reason", result.stop_reason},
        {"prompt_ms", result.prompt_ms}, {"generate_ms", result.generate_ms},
        {"tokens_per_s", tokens_per_s}};
    std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return;
  }
  std::fputs("\n", stdout);
  std::fprintf(stderr, "[%zu prompt tokens in %.0f ms, %zu generated at %.1f tokens/s, stop: %s]\n",
               result.prompt_ids.size(), result.prompt_ms, result.ids.size(), tokens_per_s,
               result.stop_reason.c_str());
}

}  // namespace

void add_commands(CLI::App& app) {
  add_bench_commands(app);
  add_explain_command(app);
  add_train_commands(app);
  add_bias_command(app);
  add_convert_command(app);
  // run
  auto run_options = std::make_shared<RunOptions>();
  CLI::App* run = app.add_subcommand("run", "Generate text from a prompt, streaming it to stdout");
  add_model_option(run, run_options->model_path);
  run->add_option("-p,--prompt", run_options->prompt, "The text to continue")->required();
  run->add_option("-n,--max-tokens", run_options->max_tokens, "Tokens to generate")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  run->add_option("--temp", run_options->sampling.temperature, "Temperature; 0 = greedy")->capture_default_str()->check(CLI::Range(0.0, 100.0));
  run->add_option("--top-k", run_options->sampling.top_k, "Keep the k most likely tokens; 0 = all")->capture_default_str()->check(CLI::NonNegativeNumber);
  run->add_option("--top-p", run_options->sampling.top_p, "Nucleus: keep tokens up to this total probability")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  run->add_option("--min-p", run_options->sampling.min_p, "Drop tokens below min-p x the top probability")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  run->add_option("--repeat-penalty", run_options->sampling.repeat_penalty, "Penalty for recently seen tokens; 1 = off")->capture_default_str()->check(CLI::Range(0.0, 10.0));
  run->add_option("--seed", run_options->sampling.seed, "Random seed: the same seed gives the same text")->capture_default_str();
  run->add_flag("--chat", run_options->chat, "Wrap the prompt in the model's chat template");
  run->add_option("-t,--threads", run_options->threads, "Threads (default: all cores)")->check(CLI::Range(1, 256));
  run->add_flag("--json", run_options->json, "Print one JSON object: token ids and text per step, seed, settings");
  run->callback([run_options] { command_run(*run_options); });

  // tokenize
  auto tokenize_model = std::make_shared<std::string>();
  auto tokenize_text = std::make_shared<std::string>();
  auto tokenize_bos = std::make_shared<bool>(false);
  CLI::App* tokenize = app.add_subcommand("tokenize", "Print the token ids of a text, separated by spaces");
  add_model_option(tokenize, *tokenize_model);
  tokenize->add_option("--text", *tokenize_text, "The text to split into tokens")->required();
  tokenize->add_flag("--bos", *tokenize_bos, "Start with the beginning-of-text token");
  tokenize->callback([=] {
    Model model = load_model(*tokenize_model);
    std::vector<int32_t> ids = encode(model.tokenizer, *tokenize_text, *tokenize_bos, false);
    for (size_t i = 0; i < ids.size(); ++i) std::printf(i ? " %d" : "%d", ids[i]);
    std::printf("\n");
  });

  // logits
  struct LogitsOptions { std::string model_path, prompt, out_path; int threads = 0; };
  auto logits_options = std::make_shared<LogitsOptions>();
  CLI::App* logits = app.add_subcommand("logits",
      "Write float32 little-endian logits [n_tokens][n_vocab], one row per prompt position; print JSON with the ids");
  add_model_option(logits, logits_options->model_path);
  logits->add_option("-p,--prompt", logits_options->prompt, "The prompt (BOS added as the model's metadata says)")->required();
  logits->add_option("-o,--out", logits_options->out_path, "Output file (.f32)")->required();
  logits->add_option("-t,--threads", logits_options->threads, "Threads (default: all cores)")->check(CLI::Range(1, 256));
  logits->callback([logits_options] {
    const LogitsOptions& o = *logits_options;
    apply_threads(o.threads);
    Model model = load_model(o.model_path);
    std::vector<int32_t> ids = prompt_tokens(model, o.prompt, false, -1);
    if (ids.empty()) fail("the prompt has no tokens");
    InferenceState state = make_state(model);
    forward(model, state, ids, /*all_logits=*/true);
    std::ofstream out(o.out_path, std::ios::binary);
    if (!out) fail("cannot write '" + o.out_path + "'");
    out.write(reinterpret_cast<const char*>(state.logits.data()), std::streamsize(state.logits.size() * sizeof(float)));
    if (!out) fail("writing '" + o.out_path + "' failed");
    nlohmann::json json{{"model", o.model_path}, {"prompt", o.prompt}, {"token_ids", ids},
                        {"n_tokens", ids.size()}, {"n_vocab", model.config.vocab_size}, {"out", o.out_path}};
    std::printf("%s\n", json.dump().c_str());
  });

  // info
  auto info_model = std::make_shared<std::string>();
  auto info_json = std::make_shared<bool>(false);
  CLI::App* info = app.add_subcommand("info", "Print the model card: architecture, sizes, tensor types, tokenizer, metadata");
  add_model_option(info, *info_model);
  info->add_flag("--json", *info_json, "Print JSON instead of text");
  info->callback([=] {
    Model model = load_model(*info_model);
    nlohmann::json card = model_card_json(model);
    if (*info_json) {
      std::printf("%s\n", card.dump(2).c_str());
    } else {
      for (auto& [key, value] : card.items())
        std::printf("%-18s %s\n", key.c_str(), value.is_string() ? value.get<std::string>().c_str() : value.dump().c_str());
    }
  });
}

}  // namespace loupe::cli
