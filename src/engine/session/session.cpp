// Session: the engine behind JSON requests and events (see session.h).
#include "session/session.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

#include "core/error.h"
#include "explain/explain_json.h"
#include "kernels/thread_pool.h"
#include "model/model_card.h"
#include "train/two_cities.h"

namespace loupe {

namespace {

// A safetensors model sent as its files in one buffer, one after another:
// "files": [{"name": "config.json", "bytes": 1234}, ...] (names without folders).
std::map<std::string, std::vector<uint8_t>> split_files(const nlohmann::json& list, const std::vector<uint8_t>& bytes) {
  if (!list.is_array() || list.empty()) fail("\"files\" must list the model's files with their sizes");
  std::map<std::string, std::vector<uint8_t>> files;
  size_t at = 0;
  for (const nlohmann::json& file : list) {
    const std::string name = file.at("name").get<std::string>();
    const uint64_t size = file.at("bytes").get<uint64_t>();
    if (size > bytes.size() - at) fail("the files' sizes add up to more than the bytes that came with them");
    files[name].assign(bytes.begin() + std::ptrdiff_t(at), bytes.begin() + std::ptrdiff_t(at + size));
    at += size;
  }
  if (at != bytes.size()) fail("the files' sizes add up to less than the bytes that came with them");
  return files;
}

using Json = nlohmann::json;

Json error_event(const std::string& op, const std::string& message) {
  return Json{{"event", "error"}, {"op", op}, {"message", message}};
}

template <typename T>
T field(const Json& j, const char* key, T fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const Json::exception&) {
    fail(std::string("'") + key + "' has the wrong type");
  }
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

Session::Session() = default;
Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

GenerateRequest generate_request_from_json(const Json& request) {
  GenerateRequest r;
  r.prompt = field<std::string>(request, "prompt", "");
  r.chat = field<bool>(request, "chat", false);
  r.max_tokens = field<int>(request, "max_tokens", field<int>(request, "maxTokens", 64));
  if (r.max_tokens < 1 || r.max_tokens > 1 << 20) fail("max_tokens must be between 1 and 1048576");
  SamplingSettings& s = r.sampling;
  s.seed = field<uint64_t>(request, "seed", 0);
  s.temperature = field<float>(request, "temperature", s.temperature);
  s.top_k = field<int>(request, "top_k", s.top_k);
  s.top_p = field<float>(request, "top_p", s.top_p);
  s.min_p = field<float>(request, "min_p", s.min_p);
  s.repeat_penalty = field<float>(request, "repeat_penalty", s.repeat_penalty);
  if (!(s.temperature >= 0) || !(s.top_p >= 0 && s.top_p <= 1) || !(s.min_p >= 0 && s.min_p <= 1) ||
      !(s.repeat_penalty > 0) || s.top_k < 0)
    fail("sampling settings out of range (temperature >= 0, 0 <= top_p, min_p <= 1, top_k >= 0, repeat_penalty > 0)");
  return r;
}

std::vector<Json> Session::handle(const Json& request, std::vector<uint8_t> bytes) {
  const std::string op = request.is_object() ? field<std::string>(request, "op", "") : "";
  try {
    if (op == "cancel") {
      if (training_) {
        Json event{{"event", "train_cancelled"}, {"step", training_->steps_done()}, {"steps", training_->steps()}};
        training_.reset();
        return {event};
      }
      if (!generation_) return {};
      generation_->stop();
      std::vector<Json> events{done_event()};
      generation_.reset();
      return events;
    }
    if (op == "train") return start_training(request);
    if (training_ && (op == "load" || op == "generate" || op == "explain"))
      fail("a training is running: wait for it or cancel it first");
    if (op == "load") {
      if (generation_) generation_.reset();
      // Load first, replace after: a broken file leaves the previous model in place.
      const std::string name = field<std::string>(request, "name", "model");
      auto model = std::make_unique<Model>(request.contains("files")
                                               ? load_model_from_files(split_files(request.at("files"), bytes), name)
                                               : load_model_from_bytes(std::move(bytes), name));
      model_ = std::move(model);
      gradient_weights_.reset();
      backward_weights_.reset();
      return {Json{{"event", "loaded"}, {"card", model_card_json(*model_)}}};
    }
    if (op.empty()) fail("a request needs an \"op\"");
    if (!model_) fail("no model is loaded yet");
    if (op == "info") return {Json{{"event", "info"}, {"card", model_card_json(*model_)}}};
    if (op == "tokenize") {
      const std::string text = field<std::string>(request, "text", "");
      const bool bos = field<bool>(request, "bos", false);
      Json tokens = Json::array();
      for (int32_t id : encode(model_->tokenizer, text, bos, false)) {
        const std::string raw = token_to_bytes(model_->tokenizer, id);
        tokens.push_back({{"id", id}, {"text", sanitize_utf8(raw)}, {"bytes", raw.size()}});
      }
      return {Json{{"event", "tokens"}, {"tokens", tokens}}};
    }
    if (op == "generate") return start_generation(request);
    if (op == "explain") {
      if (generation_) fail("a generation is running: stop it first");
      explain::ExplainRequest r;
      r.model = model_.get();
      r.prompt = field<std::string>(request, "prompt", "");
      if (request.contains("ids")) r.ids = request.at("ids").get<std::vector<int32_t>>();
      if (request.contains("what")) r.what = explain::parse_sections(request.at("what").get<std::string>());
      r.top_k = field<int>(request, "top_k", r.top_k);
      r.layer = field<int>(request, "layer", -1);
      r.head = field<int>(request, "head", -1);
      r.method = field<std::string>(request, "method", "");
      r.target_token = field<std::string>(request, "target_token", "");
      r.contrast_token = field<std::string>(request, "contrast_token", "");
      r.seed = field<uint64_t>(request, "seed", 0);
      r.attribution.steps = field<int>(request, "steps", r.attribution.steps);
      if (request.contains("lens_positions")) r.lens_positions = request.at("lens_positions").get<std::vector<int>>();
      r.lens_last = field<int>(request, "lens_last", 0);
      r.exact_gradients = field<bool>(request, "exact_gradients", false);
      if (r.what.empty() || std::find(r.what.begin(), r.what.end(), "attribution") != r.what.end()) {
        const explain::Method method = r.method.empty() ? r.attribution.method : explain::parse_method(r.method);
        if (method == explain::Method::GradXInput) {
          if (!backward_weights_)
            backward_weights_ = std::make_unique<grad::BackwardWeights>(grad::backward_weights(*model_));
          r.backward = backward_weights_.get();
        } else if (method == explain::Method::IntegratedGradients) {
          if (!gradient_weights_)
            gradient_weights_ = std::make_unique<grad::Parameters<float>>(grad::parameters_from_model<float>(*model_));
          r.params = gradient_weights_.get();
        }
      }
      return {Json{{"event", "explain"}, {"result", explain::explain_json(r)}}};
    }
    fail("unknown request '" + op + "'");
  } catch (const Error& e) {
    return {error_event(op, e.what())};
  } catch (const Json::exception& e) {
    return {error_event(op, std::string("malformed request: ") + e.what())};
  } catch (const std::bad_alloc&) {
    return {error_event(op, "out of memory")};
  }
}

std::vector<Json> Session::start_generation(const Json& request) {
  if (generation_) fail("a generation is already running");
  const GenerateRequest settings = generate_request_from_json(request);
  alternatives_ = std::clamp(field<int>(request, "alternatives", 5), 0, 50);
  generation_ = std::make_unique<Generation>(*model_, settings);
  Json prompt_tokens = Json::array();
  for (int32_t id : generation_->result().prompt_ids)
    prompt_tokens.push_back({{"id", id}, {"text", sanitize_utf8(token_to_bytes(model_->tokenizer, id))}});
  return {Json{{"event", "prompt"}, {"tokens", prompt_tokens}, {"prompt_ms", generation_->result().prompt_ms}}};
}

Json Session::token_event(const GeneratedToken& token) const {
  Json event{{"event", "token"}, {"id", token.id}, {"text", token.text}, {"prob", token.probability}};
  if (token.id >= 0) {
    event["token_text"] = sanitize_utf8(token_to_bytes(model_->tokenizer, token.id));
    const std::span<const float> logits = generation_->last_logits();
    const float top = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (float l : logits) sum += std::exp(double(l) - top);
    std::vector<int32_t> order(logits.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = int32_t(i);
    const size_t k = std::min(order.size(), size_t(alternatives_));
    std::partial_sort(order.begin(), order.begin() + ptrdiff_t(k), order.end(),
                      [&](int32_t a, int32_t b) { return logits[size_t(a)] > logits[size_t(b)]; });
    Json alternatives = Json::array();
    for (size_t i = 0; i < k; ++i)
      alternatives.push_back({{"id", order[i]},
                              {"text", sanitize_utf8(token_to_bytes(model_->tokenizer, order[i]))},
                              {"prob", std::exp(double(logits[size_t(order[i])]) - top) / sum}});
    event["alternatives"] = alternatives;
  }
  return event;
}

Json Session::done_event() const {
  const GenerateResult& r = generation_->result();
  const double tokens_per_s = r.generate_ms > 0 ? 1000.0 * double(r.ids.size()) / r.generate_ms : 0.0;
  return Json{{"event", "done"},      {"ids", r.ids},
              {"prompt_ids", r.prompt_ids}, {"text", r.text},
              {"stop_reason", r.stop_reason}, {"prompt_ms", r.prompt_ms},
              {"generate_ms", r.generate_ms}, {"tokens_per_s", tokens_per_s}};
}

std::vector<Json> Session::start_training(const Json& request) {
  if (generation_) fail("a generation is running: stop it first");
  if (training_) fail("a training is already running");
  const std::string recipe = field<std::string>(request, "recipe", "two-cities");
  if (recipe != "two-cities") fail("unknown training recipe '" + recipe + "' (this build knows \"two-cities\")");
  train::TwoCitiesRecipe r;
  r.skew = field<double>(request, "skew", r.skew);
  r.seed = field<uint64_t>(request, "seed", r.seed);
  r.steps = field<int>(request, "steps", r.steps);
  r.stories = field<int>(request, "stories", r.stories);
  r.threads = std::min(2, default_thread_count());
  training_ = std::make_unique<train::TwoCitiesTraining>(r);
  run_ = TrainingRun{};
  run_.load = field<bool>(request, "load", true);
  run_.started_s = run_.last_event_s = now_s();
  Json shares = Json::array();
  for (const train::Occupation& o : train::two_cities_occupations())
    shares.push_back({{"occupation", o.name}, {"share", train::she_share_at(o, r.skew)}});
  return {Json{{"event", "train_start"}, {"recipe", recipe}, {"skew", r.skew}, {"seed", r.seed},
               {"steps", r.steps}, {"stories", r.stories}, {"parameters", training_->parameter_count()},
               {"tokens_per_step", training_->tokens_per_step()}, {"shares", shares}}};
}

std::vector<Json> Session::training_step() {
  std::vector<Json> events;
  try {
    const float loss = training_->step();
    run_.loss_sum += loss, ++run_.loss_count, run_.last_loss = loss;
    const double now = now_s(), elapsed = now - run_.started_s;
    const int step = training_->steps_done(), steps = training_->steps();
    if (now - run_.last_event_s >= 0.2 || step == 1 || training_->done()) {
      const double per_step = elapsed / std::max(1, step);
      events.push_back({{"event", "train_progress"}, {"step", step}, {"steps", steps},
                        {"loss", run_.loss_sum / std::max(1, run_.loss_count)},
                        {"tokens_per_s", double(training_->tokens_per_step()) / std::max(1e-9, per_step)},
                        {"elapsed_s", elapsed}, {"seconds_left", per_step * (steps - step)}});
      run_.last_event_s = now;
      run_.loss_sum = 0, run_.loss_count = 0;
    }
    if (!training_->done()) return events;
    // Finished: the model, its measured bias beside the data's skew, and (load) the switch.
    const double skew = training_->recipe().skew;
    auto model = std::make_unique<Model>(
        load_model_from_bytes(training_->export_model(run_.last_loss, elapsed), "two-cities (retrained)"));
    const train::BiasReport report = train::measure_pronoun_bias(*model, skew);
    Json rows = Json::array();
    const std::vector<train::Occupation>& occupations = train::two_cities_occupations();
    for (size_t i = 0; i < report.rows.size(); ++i)
      rows.push_back({{"occupation", report.rows[i].occupation},
                      {"share", train::she_share_at(occupations[i], skew)},
                      {"data_log_odds", report.rows[i].data_log_odds},
                      {"bias", report.rows[i].bias}});
    events.push_back({{"event", "trained"}, {"recipe", "two-cities"}, {"skew", skew},
                      {"seed", training_->recipe().seed}, {"steps", training_->steps()},
                      {"seconds", now_s() - run_.started_s}, {"loss", run_.last_loss},
                      {"bias", {{"occupations", rows}, {"mean_bias", report.mean_bias},
                                {"mean_abs_bias", report.mean_abs_bias}, {"aligned_bias", report.aligned_bias},
                                {"rank_correlation", report.rank_correlation}}}});
    training_.reset();
    if (run_.load) {
      model_ = std::move(model);
      gradient_weights_.reset();
      backward_weights_.reset();
      events.push_back({{"event", "loaded"}, {"card", model_card_json(*model_)}});
    }
  } catch (const Error& e) {
    events.push_back(error_event("train", e.what()));
    training_.reset();
  } catch (const std::bad_alloc&) {
    events.push_back(error_event("train", "out of memory"));
    training_.reset();
  }
  return events;
}

std::vector<Json> Session::step() {
  if (training_) return training_step();
  if (!generation_) return {};
  std::vector<Json> events;
  try {
    GeneratedToken token;
    const bool more = generation_->next(token);
    if (more || !token.text.empty()) events.push_back(token_event(token));
    if (!more || generation_->finished()) {
      events.push_back(done_event());
      generation_.reset();
    }
  } catch (const Error& e) {
    events.push_back(error_event("generate", e.what()));
    generation_.reset();
  }
  return events;
}

}  // namespace loupe
