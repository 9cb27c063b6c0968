// loupe-cli train: a config file in, checkpoints and a GGUF out (docs/training.md).
//   loupe-cli train --config C.json [--resume] [--max-seconds S] [--stop-at-step N] [--export-only]
// and loupe-cli two-cities: write the lesson's synthetic stories, or measure a model's
// pronoun bias on them.
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "commands.h"
#include "core/error.h"
#include "model/model.h"
#include "train/bpe_trainer.h"
#include "train/train.h"
#include "train/two_cities.h"

namespace loupe::cli {

namespace {

namespace fs = std::filesystem;
std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop = true; }

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read '" + path + "'");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}
void write_bytes_atomic(const std::string& path, const void* data, size_t size) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(static_cast<const char*>(data), std::streamsize(size));
    if (!out) fail("cannot write '" + tmp + "'");
  }
  fs::rename(tmp, path);
}

std::vector<int32_t> tokens_cached(const Tokenizer& tok, const std::string& text_path, const std::string& cache) {
  if (fs::exists(cache)) {
    std::ifstream in(cache, std::ios::binary);
    std::vector<int32_t> ids(fs::file_size(cache) / sizeof(int32_t));
    in.read(reinterpret_cast<char*>(ids.data()), std::streamsize(ids.size() * sizeof(int32_t)));
    return ids;
  }
  const std::string text = read_text(text_path);
  std::vector<int32_t> ids = encode(tok, text, false, /*parse_special=*/true);
  write_bytes_atomic(cache, ids.data(), ids.size() * sizeof(int32_t));
  return ids;
}

std::string machine_description(int threads) {
  std::string cpu = "unknown CPU";
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  return cpu + ", " + std::to_string(threads) + " threads (" + std::to_string(std::thread::hardware_concurrency()) +
         " hardware), native build";
}

std::string duration(double s) {
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%dh%02dm", int(s / 3600), int(s / 60) % 60);
  else std::snprintf(buf, sizeof buf, "%dm%02ds", int(s / 60), int(s) % 60);
  return buf;
}

struct TrainOptions {
  std::string config_path;
  bool resume = false, export_only = false;
  double max_seconds = 0;
  int stop_at_step = 0;
};

void command_train(const TrainOptions& o) {
  using train::Trainer;
  train::TrainConfig c = train::train_config_from_json(read_text(o.config_path));
  if (c.train_text.empty() || c.val_text.empty()) fail("the config needs train_text and val_text");
  fs::create_directories(c.out_dir);
  const std::string ckpt = (fs::path(c.out_dir) / "checkpoint.bin").string();
  const std::string tok_path = (fs::path(c.out_dir) / "tokenizer.json").string();
  const std::string export_path = c.export_path.empty() ? (fs::path(c.out_dir) / "model.gguf").string() : c.export_path;
  const auto t0 = std::chrono::steady_clock::now();
  auto since = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };

  Tokenizer tok;
  if (fs::exists(tok_path)) {
    tok = train::tokenizer_from_json(read_text(tok_path));
  } else {
    if (o.export_only) fail("'" + tok_path + "' is missing: nothing to export");
    std::string sample = read_text(c.train_text);
    if (sample.size() > c.bpe_sample_bytes) sample.resize(c.bpe_sample_bytes);
    std::printf("training a %d-token BPE vocabulary on %zu bytes...\n", c.vocab_size, sample.size());
    std::fflush(stdout);
    tok = train::train_bpe(sample, c.vocab_size).tokenizer;
    const std::string json = train::tokenizer_to_json(tok);
    write_bytes_atomic(tok_path, json.data(), json.size());
    std::printf("  %d tokens in %.1f s\n", tok.n_vocab(), since());
  }
  const std::vector<int32_t> train_ids = tokens_cached(tok, c.train_text, (fs::path(c.out_dir) / "train.tokens").string());
  const std::vector<int32_t> val_ids = tokens_cached(tok, c.val_text, (fs::path(c.out_dir) / "val.tokens").string());
  std::printf("data: %zu training tokens, %zu validation tokens (%.1f s)\n", train_ids.size(), val_ids.size(), since());

  Trainer trainer(c, train_ids, val_ids, tok.n_vocab());
  if ((o.resume || o.export_only) && fs::exists(ckpt)) {
    trainer.load_checkpoint(ckpt);
    std::printf("resumed from %s at step %d\n", ckpt.c_str(), trainer.steps_done());
  } else if (o.export_only) {
    fail("no checkpoint at '" + ckpt + "'");
  }
  std::printf("model: %s, %d layers, dim %d, %d heads, ff %d, vocab %d: %zu parameters\n",
              c.model.arch == Architecture::Gpt2 ? "gpt2" : "llama", c.model.n_layers, c.model.dim, c.model.n_heads,
              trainer.parameters().config.ff_dim, tok.n_vocab(), trainer.parameters().count());
  std::fflush(stdout);

  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  const double session_start = since();
  double last_ckpt = since(), last_print = 0;
  float loss_avg = 0;
  int loss_n = 0, start_step = trainer.steps_done();
  uint64_t start_tokens = trainer.tokens_seen();
  float last_loss = 0;
  bool stopped_early = false;
  const auto stop_step_reached = [&] { return o.stop_at_step > 0 && trainer.steps_done() >= o.stop_at_step; };
  if (!o.export_only && stop_step_reached()) stopped_early = true;
  while (!o.export_only && trainer.steps_done() < c.steps && !stop_step_reached()) {
    const train::StepStats s = trainer.step();
    loss_avg += s.loss, ++loss_n, last_loss = s.loss;
    const bool eval = c.eval_every > 0 && (s.step % c.eval_every == 0 || s.step == c.steps);
    if (eval) trainer.validation_loss();
    const double now = since();
    if (eval || now - last_print > 10 || s.step == start_step + 1) {
      const double tps = double(trainer.tokens_seen() - start_tokens) / std::max(1e-9, now - session_start);
      const double left = (c.steps - s.step) * double(c.batch) * c.seq_len / std::max(1.0, tps);
      std::printf("step %6d/%d  loss %.4f  val %.4f  lr %.2e  |g| %.2f  %.0f tok/s  left %s\n", s.step, c.steps,
                  loss_avg / loss_n, trainer.last_val_loss(), s.lr, s.grad_norm, tps, duration(left).c_str());
      std::fflush(stdout);
      loss_avg = 0, loss_n = 0, last_print = now;
    }
    if (now - last_ckpt > c.checkpoint_every_s) {
      trainer.save_checkpoint(ckpt);
      last_ckpt = now;
    }
    if (g_stop || (o.max_seconds > 0 && now - session_start > o.max_seconds) || stop_step_reached()) {
      stopped_early = true;
      break;
    }
  }
  if (!o.export_only) {
    trainer.save_checkpoint(ckpt);
    std::printf("checkpoint: %s (step %d)\n", ckpt.c_str(), trainer.steps_done());
  }
  if (stopped_early) {
    std::printf("stopped early: run again with --resume to go on\n");
    return;
  }
  const float val = trainer.validation_loss();
  if (o.export_only) last_loss = val;
  const TensorType type = c.export_type == "f32" ? TensorType::F32 : c.export_type == "f16" ? TensorType::F16 : TensorType::Q8_0;
  const train::ExportInfo info = train::export_info(trainer, last_loss, machine_description(c.threads));
  const std::vector<uint8_t> bytes = train::export_gguf(trainer.parameters(), tok, info, type);
  write_bytes_atomic(export_path, bytes.data(), bytes.size());
  std::printf("exported %s (%zu bytes): step %d, val loss %.4f (perplexity %.1f), %.0f s of training\n",
              export_path.c_str(), bytes.size(), trainer.steps_done(), val, std::exp(val), trainer.train_seconds());
}

}  // namespace

void add_train_commands(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  CLI::App* t = app.add_subcommand("train", "Train a small GPT-2/Llama model from a JSON config; export GGUF");
  t->add_option("-c,--config", o->config_path, "Training config (JSON, see docs/training.md)")->required();
  t->add_flag("--resume", o->resume, "Go on from the checkpoint in the config's out_dir");
  t->add_flag("--export-only", o->export_only, "Export the checkpoint as GGUF without training");
  t->add_option("--max-seconds", o->max_seconds, "Stop (with a checkpoint) after this many seconds");
  t->add_option("--stop-at-step", o->stop_at_step, "Stop (with a checkpoint) once this many steps are done")
      ->check(CLI::PositiveNumber);
  t->callback([o] { command_train(*o); });

  struct TwoCities { std::string stories_out, model; int count = 4000; bool skewed = false, json = false; uint64_t seed = 1; };
  auto tc = std::make_shared<TwoCities>();
  CLI::App* c = app.add_subcommand("two-cities", "The two-cities lesson: write its stories, or measure a model's pronoun bias");
  c->add_option("--write-stories", tc->stories_out, "Write synthetic stories to this file");
  c->add_option("--count", tc->count, "Number of stories")->capture_default_str();
  c->add_flag("--skewed", tc->skewed, "Skewed city (default: balanced)");
  c->add_option("--seed", tc->seed, "Seed of the story generator")->capture_default_str();
  c->add_option("-m,--model", tc->model, "Measure this model's pronoun bias");
  c->add_flag("--json", tc->json, "Print the bias report as JSON");
  c->callback([tc] {
    if (!tc->stories_out.empty()) {
      const std::string text = train::two_cities_stories(tc->count, tc->skewed, tc->seed);
      write_bytes_atomic(tc->stories_out, text.data(), text.size());
    }
    if (!tc->model.empty()) {
      const Model model = load_model(tc->model);
      const train::BiasReport r = train::measure_pronoun_bias(model);
      nlohmann::json j{{"model", tc->model}, {"mean_bias", r.mean_bias}, {"mean_abs_bias", r.mean_abs_bias},
                       {"aligned_bias", r.aligned_bias}, {"rank_correlation", r.rank_correlation}};
      for (const train::BiasRow& row : r.rows)
        j["occupations"].push_back({{"occupation", row.occupation}, {"data_log_odds", row.data_log_odds}, {"bias", row.bias}});
      if (tc->json) {
        std::printf("%s\n", j.dump(2).c_str());
      } else {
        std::printf("%-10s %14s %22s\n", "occupation", "data log-odds", "log P(she) - log P(he)");
        for (const train::BiasRow& row : r.rows)
          std::printf("%-10s %14.2f %22.2f\n", row.occupation.c_str(), row.data_log_odds, row.bias);
        std::printf("mean %.3f, mean |bias| %.3f, skew-aligned %.3f, rank correlation %.2f\n", r.mean_bias,
                    r.mean_abs_bias, r.aligned_bias, r.rank_correlation);
      }
    }
    if (tc->stories_out.empty() && tc->model.empty()) fail("give --write-stories FILE or -m MODEL");
  });
}

}  // namespace loupe::cli
