// The training loop (see train.h): initialisation, data windows, AdamW with warm-up +
// cosine, global-norm clipping, sharded gradients summed in a fixed order, checkpoints.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "kernels/thread_pool.h"
#include "train/train.h"

namespace loupe::train {

// ============================================================================================
// RNG

namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Rng::Rng(uint64_t seed) {
  for (uint64_t& w : s) w = splitmix64(seed);
}
uint64_t Rng::next() {
  const uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}
double Rng::uniform() { return double(next() >> 11) * (1.0 / double(1ull << 53)); }
float Rng::normal() {
  const double u1 = (double(next() >> 11) + 0.5) / double(1ull << 53), u2 = uniform();
  return float(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
}
uint64_t Rng::below(uint64_t n) { return n ? next() % n : 0; }

// ============================================================================================
// Config

namespace {
Architecture arch_from_name(const std::string& name) {
  if (name == "gpt2") return Architecture::Gpt2;
  if (name == "llama") return Architecture::Llama;
  fail("train config: model.arch must be \"gpt2\" or \"llama\", not \"" + name + "\"");
}
}  // namespace

TrainConfig train_config_from_json(const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    fail(std::string("train config is not valid JSON: ") + e.what());
  }
  TrainConfig c;
  auto get = [&](const nlohmann::json& obj, const char* key, auto& field) {
    if (obj.contains(key)) {
      try {
        obj.at(key).get_to(field);
      } catch (const std::exception&) {
        fail(std::string("train config: '") + key + "' has the wrong type");
      }
    }
  };
  if (j.contains("model")) {
    const nlohmann::json& m = j["model"];
    std::string arch = "llama";
    get(m, "arch", arch);
    c.model.arch = arch_from_name(arch);
    get(m, "n_layers", c.model.n_layers);
    get(m, "dim", c.model.dim);
    get(m, "n_heads", c.model.n_heads);
    get(m, "n_kv_heads", c.model.n_kv_heads);
    get(m, "ff_dim", c.model.ff_dim);
    get(m, "context", c.model.context);
    get(m, "tied_output", c.model.tied_output);
  }
#define LOUPE_GET(field) get(j, #field, c.field)
  LOUPE_GET(name); LOUPE_GET(vocab_size); LOUPE_GET(steps); LOUPE_GET(batch); LOUPE_GET(seq_len);
  LOUPE_GET(lr); LOUPE_GET(min_lr); LOUPE_GET(warmup); LOUPE_GET(weight_decay); LOUPE_GET(beta1);
  LOUPE_GET(beta2); LOUPE_GET(eps); LOUPE_GET(grad_clip); LOUPE_GET(init_std); LOUPE_GET(seed);
  LOUPE_GET(shards); LOUPE_GET(threads); LOUPE_GET(eval_every); LOUPE_GET(eval_batches);
  LOUPE_GET(checkpoint_every_s); LOUPE_GET(train_text); LOUPE_GET(val_text); LOUPE_GET(out_dir);
  LOUPE_GET(export_path); LOUPE_GET(export_type); LOUPE_GET(bpe_sample_bytes); LOUPE_GET(license);
  LOUPE_GET(author); LOUPE_GET(description); LOUPE_GET(data_sources);
#undef LOUPE_GET
  const ModelShape& m = c.model;
  if (m.n_layers < 1 || m.dim < 1 || m.n_heads < 1 || m.dim % m.n_heads != 0)
    fail("train config: model.dim must be a positive multiple of model.n_heads");
  if (m.n_kv_heads < 0 || (m.n_kv_heads > 0 && m.n_heads % m.n_kv_heads != 0))
    fail("train config: model.n_heads must be a multiple of model.n_kv_heads");
  if (c.seq_len < 2 || c.seq_len > m.context) fail("train config: seq_len must be in 2..model.context");
  if (c.batch < 1 || c.steps < 0 || c.shards < 1 || c.shards > c.batch)
    fail("train config: batch >= shards >= 1 and steps >= 0 are required");
  if (c.vocab_size < 257) fail("train config: vocab_size must exceed 256 (the byte tokens)");
  return c;
}

std::string train_config_to_json(const TrainConfig& c) {
  nlohmann::json j;
  j["model"] = {{"arch", c.model.arch == Architecture::Gpt2 ? "gpt2" : "llama"}, {"n_layers", c.model.n_layers},
                {"dim", c.model.dim}, {"n_heads", c.model.n_heads}, {"n_kv_heads", c.model.n_kv_heads},
                {"ff_dim", c.model.ff_dim}, {"context", c.model.context}, {"tied_output", c.model.tied_output}};
#define LOUPE_PUT(field) j[#field] = c.field
  LOUPE_PUT(name); LOUPE_PUT(vocab_size); LOUPE_PUT(steps); LOUPE_PUT(batch); LOUPE_PUT(seq_len);
  LOUPE_PUT(lr); LOUPE_PUT(min_lr); LOUPE_PUT(warmup); LOUPE_PUT(weight_decay); LOUPE_PUT(beta1);
  LOUPE_PUT(beta2); LOUPE_PUT(eps); LOUPE_PUT(grad_clip); LOUPE_PUT(init_std); LOUPE_PUT(seed);
  LOUPE_PUT(shards); LOUPE_PUT(threads); LOUPE_PUT(eval_every); LOUPE_PUT(eval_batches);
  LOUPE_PUT(checkpoint_every_s); LOUPE_PUT(train_text); LOUPE_PUT(val_text); LOUPE_PUT(out_dir);
  LOUPE_PUT(export_path); LOUPE_PUT(export_type); LOUPE_PUT(bpe_sample_bytes); LOUPE_PUT(license);
  LOUPE_PUT(author); LOUPE_PUT(description); LOUPE_PUT(data_sources);
#undef LOUPE_PUT
  return j.dump(2);
}

ModelConfig model_config(const ModelShape& s, int vocab_size) {
  ModelConfig c;
  c.arch = s.arch;
  c.n_layers = s.n_layers;
  c.dim = s.dim;
  c.n_heads = s.n_heads;
  c.n_kv_heads = s.n_kv_heads > 0 ? s.n_kv_heads : s.n_heads;
  c.head_dim = s.dim / s.n_heads;
  c.ff_dim = s.ff_dim > 0 ? s.ff_dim : s.arch == Architecture::Gpt2 ? 4 * s.dim : (8 * s.dim / 3 + 31) / 32 * 32;
  c.vocab_size = vocab_size;
  c.context_length = s.context;
  c.norm_eps = 1e-5f;
  c.rope_style = RopeStyle::Adjacent;  // GGUF's llama convention, as load_gguf.cpp reads it
  c.rope_dims = c.head_dim;
  c.rope_base = 10000.0f;
  c.tied_output = s.tied_output;
  return c;
}

grad::Parameters<float> init_parameters(const ModelConfig& c, float std, Rng& rng) {
  const bool gpt2 = c.arch == Architecture::Gpt2;
  const int dim = c.dim, q_dim = c.n_heads * c.head_dim, kv_dim = c.n_kv_heads * c.head_dim, ff = c.ff_dim;
  const float residual_std = std / std::sqrt(2.0f * float(c.n_layers));
  auto normal = [&](size_t n, float sd) {
    std::vector<float> v(n);
    for (float& x : v) x = sd * rng.normal();
    return v;
  };
  auto ones = [](size_t n) { return std::vector<float>(n, 1.0f); };
  auto zeros = [](size_t n) { return std::vector<float>(n, 0.0f); };
  grad::Parameters<float> p;
  p.config = c;
  p.token_embedding = normal(size_t(c.vocab_size) * dim, std);
  if (gpt2) p.position_embedding = normal(size_t(c.context_length) * dim, std / 2);
  for (int l = 0; l < c.n_layers; ++l) {
    grad::LayerParameters<float> lp;
    lp.attn_norm = ones(size_t(dim));
    lp.ffn_norm = ones(size_t(dim));
    if (gpt2) {
      lp.attn_norm_bias = zeros(size_t(dim));
      lp.wqkv = normal(size_t(3) * dim * dim, std);
      lp.bqkv = zeros(size_t(3) * dim);
      lp.wo = normal(size_t(dim) * dim, residual_std);
      lp.bo = zeros(size_t(dim));
      lp.ffn_norm_bias = zeros(size_t(dim));
      lp.w_up = normal(size_t(ff) * dim, std);
      lp.b_up = zeros(size_t(ff));
      lp.w_down = normal(size_t(dim) * ff, residual_std);
      lp.b_down = zeros(size_t(dim));
    } else {
      lp.wq = normal(size_t(q_dim) * dim, std);
      lp.wk = normal(size_t(kv_dim) * dim, std);
      lp.wv = normal(size_t(kv_dim) * dim, std);
      lp.wo = normal(size_t(dim) * q_dim, residual_std);
      lp.w_gate = normal(size_t(ff) * dim, std);
      lp.w_up = normal(size_t(ff) * dim, std);
      lp.w_down = normal(size_t(dim) * ff, residual_std);
    }
    p.layers.push_back(std::move(lp));
  }
  p.output_norm = ones(size_t(dim));
  if (gpt2) p.output_norm_bias = zeros(size_t(dim));
  if (!c.tied_output) p.output = normal(size_t(c.vocab_size) * dim, std);
  return p;
}

float learning_rate(const TrainConfig& c, int step) {
  if (step < c.warmup) return c.lr * float(step + 1) / float(c.warmup);
  const int decay_steps = std::max(1, c.steps - c.warmup);
  const double progress = std::min(1.0, double(step - c.warmup) / double(decay_steps));
  return float(c.min_lr + 0.5 * (c.lr - c.min_lr) * (1.0 + std::cos(3.141592653589793 * progress)));
}

// ============================================================================================
// Data

void DataLoader::init(const std::vector<int32_t>& stream, int len, uint64_t s) {
  tokens = &stream;
  seq_len = len;
  seed = s;
  if (windows() == 0) fail("the training text has fewer tokens than one sequence (" + std::to_string(len + 1) + ")");
  restore(0, 0);
}
size_t DataLoader::windows() const {
  return tokens->size() > size_t(seq_len) ? (tokens->size() - 1) / size_t(seq_len) : 0;
}
void DataLoader::shuffle() {
  order.resize(windows());
  for (size_t i = 0; i < order.size(); ++i) order[i] = uint32_t(i);
  Rng rng(seed * 0x9E3779B97F4A7C15ull + epoch + 1);
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
}
void DataLoader::restore(uint64_t e, uint64_t pos) {
  epoch = e;
  position = pos;
  shuffle();
}
void DataLoader::next_batch(int batch, std::vector<int32_t>& inputs, std::vector<int32_t>& targets) {
  inputs.resize(size_t(batch) * seq_len);
  targets.resize(size_t(batch) * seq_len);
  for (int b = 0; b < batch; ++b) {
    if (position >= order.size()) restore(epoch + 1, 0);
    const size_t start = size_t(order[position++]) * seq_len;
    for (int t = 0; t < seq_len; ++t) {
      inputs[size_t(b) * seq_len + t] = (*tokens)[start + t];
      targets[size_t(b) * seq_len + t] = (*tokens)[start + t + 1];
    }
  }
}

// ============================================================================================
// Trainer

Trainer::Trainer(TrainConfig config, const std::vector<int32_t>& train_tokens, const std::vector<int32_t>& val_tokens,
                 int vocab_size)
    : config_(std::move(config)), val_(&val_tokens), rng_(config_.seed) {
  const ModelConfig mc = model_config(config_.model, vocab_size);
  for (int32_t t : train_tokens)
    if (t < 0 || t >= vocab_size) fail("a training token id is outside the vocabulary");
  params_ = init_parameters(mc, config_.init_std, rng_);
  m_ = grad::zeros_like(params_);
  v_ = grad::zeros_like(params_);
  shard_grads_.assign(size_t(config_.shards), grad::zeros_like(params_));
  loader_.init(train_tokens, config_.seq_len, config_.seed);
  // No weight decay on norms and biases (1-D arrays).
  std::vector<const std::vector<float>*> no_decay = {&params_.output_norm, &params_.output_norm_bias};
  for (const auto& l : params_.layers)
    for (const std::vector<float>* v : {&l.attn_norm, &l.attn_norm_bias, &l.bq, &l.bk, &l.bv, &l.bqkv, &l.bo,
                                        &l.ffn_norm, &l.ffn_norm_bias, &l.b_up, &l.b_down})
      no_decay.push_back(v);
  for (const std::vector<float>* a : std::as_const(params_).arrays())
    decay_.push_back(std::find(no_decay.begin(), no_decay.end(), a) == no_decay.end());
  pool_ = std::make_unique<ThreadPool>(std::max(1, std::min(config_.threads, config_.shards)));
}

Trainer::~Trainer() = default;

// Mean loss of the batch; with want_grads, the gradient of that mean in shard_grads_[0].
float Trainer::batch_gradients(const std::vector<int32_t>& inputs, const std::vector<int32_t>& targets, int batch,
                               bool want_grads) {
  const int shards = std::min(config_.shards, batch), len = config_.seq_len;
  std::vector<float> losses(static_cast<size_t>(shards));
  std::vector<int> sizes(static_cast<size_t>(shards));
  pool_->parallel_for(shards, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) {
      const int b0 = int(s * batch / shards), b1 = int((s + 1) * batch / shards);
      sizes[size_t(s)] = b1 - b0;
      grad::Parameters<float>* g = want_grads ? &shard_grads_[size_t(s)] : nullptr;
      if (g)
        for (std::vector<float>* a : g->arrays()) std::fill(a->begin(), a->end(), 0.0f);
      const std::span<const int32_t> in(inputs.data() + size_t(b0) * len, size_t(b1 - b0) * len);
      const std::span<const int32_t> tg(targets.data() + size_t(b0) * len, size_t(b1 - b0) * len);
      losses[size_t(s)] = grad::cross_entropy_backward(params_, in, tg, b1 - b0, len, g);
    }
  });
  // Each shard's loss and gradient is the mean over its sequences: weight by its share.
  double loss = 0;
  for (int s = 0; s < shards; ++s) loss += double(losses[size_t(s)]) * sizes[size_t(s)] / batch;
  if (want_grads) {
    std::vector<std::vector<float>*> total = shard_grads_[0].arrays();
    const float w0 = float(sizes[0]) / float(batch);
    for (std::vector<float>* a : total)
      for (float& x : *a) x *= w0;
    for (int s = 1; s < shards; ++s) {  // fixed order: shard 1, 2, ...
      const float w = float(sizes[size_t(s)]) / float(batch);
      std::vector<std::vector<float>*> part = shard_grads_[size_t(s)].arrays();
      for (size_t i = 0; i < total.size(); ++i) {
        float* dst = total[i]->data();
        const float* src = part[i]->data();
        for (size_t k = 0; k < total[i]->size(); ++k) dst[k] += w * src[k];
      }
    }
  }
  return float(loss);
}

StepStats Trainer::step() {
  const auto start = std::chrono::steady_clock::now();
  std::vector<int32_t> inputs, targets;
  loader_.next_batch(config_.batch, inputs, targets);
  StepStats stats;
  stats.loss = batch_gradients(inputs, targets, config_.batch, true);

  std::vector<std::vector<float>*> params = params_.arrays(), grads = shard_grads_[0].arrays(),
                                   m = m_.arrays(), v = v_.arrays();
  double norm2 = 0;
  for (const std::vector<float>* g : grads)
    for (float x : *g) norm2 += double(x) * double(x);
  stats.grad_norm = float(std::sqrt(norm2));
  const float clip = config_.grad_clip > 0 && stats.grad_norm > config_.grad_clip ? config_.grad_clip / stats.grad_norm : 1.0f;

  // AdamW (decoupled weight decay), bias-corrected.
  stats.lr = learning_rate(config_, step_);
  const int t = step_ + 1;
  const float b1 = config_.beta1, b2 = config_.beta2;
  const float c1 = 1.0f - std::pow(b1, float(t)), c2 = 1.0f - std::pow(b2, float(t));
  for (size_t i = 0; i < params.size(); ++i) {
    float* p = params[i]->data();
    const float* g = grads[i]->data();
    float* mi = m[i]->data();
    float* vi = v[i]->data();
    const float decay = decay_[i] ? stats.lr * config_.weight_decay : 0.0f;
    for (size_t k = 0; k < params[i]->size(); ++k) {
      const float gk = g[k] * clip;
      mi[k] = b1 * mi[k] + (1 - b1) * gk;
      vi[k] = b2 * vi[k] + (1 - b2) * gk * gk;
      const float mhat = mi[k] / c1, vhat = vi[k] / c2;
      p[k] -= stats.lr * mhat / (std::sqrt(vhat) + config_.eps) + decay * p[k];
    }
  }
  ++step_;
  tokens_seen_ += uint64_t(config_.batch) * config_.seq_len;
  train_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  stats.step = step_;
  return stats;
}

float evaluate_loss(const grad::Parameters<float>& p, const std::vector<int32_t>& tokens, int seq_len,
                    int max_windows) {
  const int windows = int(std::min<size_t>(size_t(max_windows), tokens.size() > size_t(seq_len) ? (tokens.size() - 1) / seq_len : 0));
  if (windows == 0) return 0;
  double total = 0;
  for (int w = 0; w < windows; ++w) {
    const std::span<const int32_t> in(tokens.data() + size_t(w) * seq_len, size_t(seq_len));
    const std::span<const int32_t> tg(tokens.data() + size_t(w) * seq_len + 1, size_t(seq_len));
    total += grad::cross_entropy_backward<float>(p, in, tg, 1, seq_len, nullptr);
  }
  return float(total / windows);
}

float Trainer::validation_loss(int batches) {
  const int n = (batches < 0 ? config_.eval_batches : batches) * config_.batch;
  const int len = config_.seq_len;
  const int windows = int(std::min<size_t>(size_t(n), val_->size() > size_t(len) ? (val_->size() - 1) / len : 0));
  if (windows == 0) return 0;
  // Windows evaluated in parallel, summed in window order.
  std::vector<float> losses(static_cast<size_t>(windows));
  pool_->parallel_for(windows, [&](int64_t begin, int64_t end) {
    for (int64_t w = begin; w < end; ++w) {
      const std::span<const int32_t> in(val_->data() + size_t(w) * len, size_t(len));
      const std::span<const int32_t> tg(val_->data() + size_t(w) * len + 1, size_t(len));
      losses[size_t(w)] = grad::cross_entropy_backward<float>(params_, in, tg, 1, len, nullptr);
    }
  });
  double total = 0;
  for (float l : losses) total += l;
  last_val_loss_ = float(total / windows);
  return last_val_loss_;
}

// ============================================================================================
// Checkpoints: "LOUPECK1", then u64 fields, the config JSON, and params, m, v as f32 arrays.

namespace {
constexpr char kMagic[8] = {'L', 'O', 'U', 'P', 'E', 'C', 'K', '1'};

struct Writer {
  std::ofstream& out;
  void u64(uint64_t v) { out.write(reinterpret_cast<const char*>(&v), 8); }
  void f64(double v) { out.write(reinterpret_cast<const char*>(&v), 8); }
  void str(const std::string& s) { u64(s.size()); out.write(s.data(), std::streamsize(s.size())); }
  void params(const grad::Parameters<float>& p) {
    for (const std::vector<float>* a : p.arrays()) {
      u64(a->size());
      out.write(reinterpret_cast<const char*>(a->data()), std::streamsize(a->size() * sizeof(float)));
    }
  }
};
struct Reader {
  std::ifstream& in;
  const std::string& path;
  void check() {
    if (!in) fail("checkpoint '" + path + "' is truncated or unreadable");
  }
  uint64_t u64() { uint64_t v = 0; in.read(reinterpret_cast<char*>(&v), 8); check(); return v; }
  double f64() { double v = 0; in.read(reinterpret_cast<char*>(&v), 8); check(); return v; }
  std::string str() {
    const uint64_t n = u64();
    if (n > (1u << 24)) fail("checkpoint '" + path + "' is corrupt");
    std::string s(n, '\0');
    in.read(s.data(), std::streamsize(n));
    check();
    return s;
  }
  void params(grad::Parameters<float>& p) {
    for (std::vector<float>* a : p.arrays()) {
      if (u64() != a->size()) fail("checkpoint '" + path + "' was written for a model of another shape");
      in.read(reinterpret_cast<char*>(a->data()), std::streamsize(a->size() * sizeof(float)));
      check();
    }
  }
};
}  // namespace

void Trainer::save_checkpoint(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("cannot write checkpoint '" + tmp + "'");
    out.write(kMagic, 8);
    Writer w{out};
    w.str(train_config_to_json(config_));
    w.u64(uint64_t(params_.config.vocab_size));
    w.u64(uint64_t(step_));
    w.u64(tokens_seen_);
    w.f64(train_seconds_);
    w.f64(double(last_val_loss_));
    for (uint64_t s : rng_.s) w.u64(s);
    w.u64(loader_.epoch);
    w.u64(loader_.position);
    w.params(params_);
    w.params(m_);
    w.params(v_);
    out.flush();
    if (!out) fail("writing checkpoint '" + tmp + "' failed (disk full?)");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) fail("cannot rename '" + tmp + "' to '" + path + "': " + ec.message());
}

void Trainer::load_checkpoint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open checkpoint '" + path + "'");
  char magic[8] = {};
  in.read(magic, 8);
  if (!in || std::memcmp(magic, kMagic, 8) != 0) fail("'" + path + "' is not a Loupe checkpoint");
  Reader r{in, path};
  const TrainConfig saved = train_config_from_json(r.str());
  if (saved.model.arch != config_.model.arch || saved.model.dim != config_.model.dim || saved.model.n_layers != config_.model.n_layers ||
      saved.model.n_heads != config_.model.n_heads || saved.model.ff_dim != config_.model.ff_dim ||
      saved.seq_len != config_.seq_len || saved.batch != config_.batch || saved.shards != config_.shards ||
      saved.seed != config_.seed)
    fail("checkpoint '" + path + "' was made with a different model shape, batch, shards or seed");
  if (r.u64() != uint64_t(params_.config.vocab_size)) fail("checkpoint '" + path + "' has another vocabulary size");
  step_ = int(r.u64());
  tokens_seen_ = r.u64();
  train_seconds_ = r.f64();
  last_val_loss_ = float(r.f64());
  for (uint64_t& s : rng_.s) s = r.u64();
  const uint64_t epoch = r.u64(), position = r.u64();
  loader_.restore(epoch, position);
  r.params(params_);
  r.params(m_);
  r.params(v_);
}

}  // namespace loupe::train
