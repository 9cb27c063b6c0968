// The generation loop (see generate.h).
#include "sampling/generate.h"

#include <chrono>
#include <cmath>

#include "core/error.h"
#include "model/forward.h"

namespace loupe {

namespace {
float probability_of(std::span<const float> logits, int32_t id) {
  const float top = logits[size_t(argmax(logits))];
  double sum = 0;
  for (float l : logits) sum += std::exp(double(l) - top);
  return float(std::exp(double(logits[size_t(id)]) - top) / sum);
}
}  // namespace

std::vector<int32_t> prompt_tokens(const Model& model, const std::string& prompt, bool chat, int add_bos) {
  const Tokenizer& tokenizer = model.tokenizer;
  std::string text = prompt;
  if (chat) text = apply_chat_template(tokenizer, {{"user", prompt}}, true);
  const bool bos = add_bos < 0 ? tokenizer.add_bos : add_bos != 0;
  // Special tokens written in a plain prompt stay text; a chat template's are real.
  return encode(tokenizer, text, bos, /*parse_special=*/chat);
}

bool is_end_of_text(const Tokenizer& tokenizer, int32_t id) {
  if (id == tokenizer.eos_id) return true;
  // Instruct models end a turn with their own marker, often not the file's EOS.
  if (!tokenizer.is_special(id)) return false;
  const std::string& text = tokenizer.tokens[size_t(id)];
  return text == "<|im_end|>" || text == "<|eot_id|>" || text == "<|endoftext|>" || text == "</s>" ||
         text == "<|end|>";
}

namespace {
double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

Generation::Generation(const Model& model, const GenerateRequest& request)
    : model_(model), request_(request), rng_(request.sampling.seed), decoder_(model.tokenizer) {
  result_.prompt_ids = prompt_tokens(model, request.prompt, request.chat, request.add_bos);
  if (result_.prompt_ids.empty()) fail("the prompt is empty: type something for the model to continue");
  state_ = make_state(model);
  if (int(result_.prompt_ids.size()) >= state_.context)
    fail("the prompt is " + std::to_string(result_.prompt_ids.size()) + " tokens long; the model's context holds " +
         std::to_string(state_.context));
  history_ = result_.prompt_ids;
  const double start = now_ms();
  forward(model, state_, result_.prompt_ids);
  result_.prompt_ms = now_ms() - start;
  result_.stop_reason = "max_tokens";
  if (request_.max_tokens <= 0) finished_ = true;
}

void Generation::stop() {
  if (finished_) return;
  finished_ = true;
  result_.stop_reason = "stopped";
}

bool Generation::next(GeneratedToken& token) {
  token = GeneratedToken{};
  if (finished_) return false;
  const double start = now_ms();
  // The token before this one still has to go through the model, unless this is the first.
  if (!result_.ids.empty()) {
    if (state_.n_past + 1 > state_.context) {
      finished_ = true;
      result_.stop_reason = "context_full";
      token.id = -1;
      token.text = decoder_.flush();
      result_.text += token.text;
      return false;
    }
    forward(model_, state_, std::span<const int32_t>(&result_.ids.back(), 1));
  }
  const std::span<const float> logits(state_.logits.data(), size_t(model_.config.vocab_size));
  last_logits_.assign(logits.begin(), logits.end());
  const int32_t id = sample_token(logits, request_.sampling, rng_, history_);
  if (request_.stop_at_end_of_text && is_end_of_text(model_.tokenizer, id)) {
    finished_ = true;
    result_.stop_reason = "end_of_text";
    token.id = -1;
    token.text = decoder_.flush();
    result_.text += token.text;
    result_.generate_ms += now_ms() - start;
    return false;
  }
  token.id = id;
  token.text = decoder_.push(id);
  token.probability = probability_of(logits, id);
  result_.ids.push_back(id);
  result_.text += token.text;
  history_.push_back(id);
  if (int(result_.ids.size()) >= request_.max_tokens) {
    finished_ = true;
    const std::string tail = decoder_.flush();
    token.text += tail;
    result_.text += tail;
  }
  result_.generate_ms += now_ms() - start;
  return true;
}

GenerateResult generate(const Model& model, const GenerateRequest& request,
                        const std::function<bool(const GeneratedToken&)>& on_token) {
  Generation generation(model, request);
  GeneratedToken token;
  while (generation.next(token)) {
    if (on_token && !on_token(token)) generation.stop();
  }
  if (on_token && !token.text.empty()) on_token(token);  // text held back until the end
  return generation.result();
}

}  // namespace loupe
