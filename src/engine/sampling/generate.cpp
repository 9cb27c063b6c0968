// The generation loop (see generate.h).
#include "sampling/generate.h"

#include <chrono>
#include <cmath>

#include "core/error.h"
#include "model/forward.h"

namespace loupe {

namespace {
double elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}

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

GenerateResult generate(const Model& model, const GenerateRequest& request,
                        const std::function<bool(const GeneratedToken&)>& on_token) {
  GenerateResult result;
  result.prompt_ids = prompt_tokens(model, request.prompt, request.chat, request.add_bos);
  if (result.prompt_ids.empty()) fail("the prompt is empty: type something for the model to continue");
  InferenceState state = make_state(model);
  if (int(result.prompt_ids.size()) >= state.context)
    fail("the prompt is " + std::to_string(result.prompt_ids.size()) + " tokens long; the model's context holds " +
         std::to_string(state.context));

  Rng rng(request.sampling.seed);
  StreamDecoder decoder(model.tokenizer);
  std::vector<int32_t> history = result.prompt_ids;

  auto start = std::chrono::steady_clock::now();
  forward(model, state, result.prompt_ids);
  result.prompt_ms = elapsed_ms(start);
  start = std::chrono::steady_clock::now();

  result.stop_reason = "max_tokens";
  for (int i = 0; i < request.max_tokens; ++i) {
    const std::span<const float> logits(state.logits.data(), size_t(model.config.vocab_size));
    const int32_t id = sample_token(logits, request.sampling, rng, history);
    if (request.stop_at_end_of_text && is_end_of_text(model.tokenizer, id)) {
      result.stop_reason = "end_of_text";
      break;
    }
    GeneratedToken token{id, decoder.push(id), probability_of(logits, id)};
    result.ids.push_back(id);
    result.text += token.text;
    history.push_back(id);
    if (on_token && !on_token(token)) {
      result.stop_reason = "stopped";
      break;
    }
    if (i + 1 == request.max_tokens) break;
    if (state.n_past + 1 > state.context) {
      result.stop_reason = "context_full";
      break;
    }
    forward(model, state, std::span<const int32_t>(&id, 1));
  }
  const std::string tail = decoder.flush();
  if (!tail.empty()) {
    result.text += tail;
    if (on_token) on_token(GeneratedToken{-1, tail, 0});
  }
  result.generate_ms = elapsed_ms(start);
  return result;
}

}  // namespace loupe
