// Chat formats of the supported instruct families. The model file's chat template is a
// Jinja program; Loupe does not run it but recognises which family's format it writes and
// writes that format itself:
//   ChatML (Qwen2/2.5, SmolLM/SmolLM2): <|im_start|>role\n...<|im_end|>\n
//   Llama 3:  <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>
//   Llama 2:  [INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST] answer </s><s>[INST] ...
//   Zephyr (TinyLlama chat): <|user|>\n...</s>\n<|assistant|>\n
// As llama.cpp does, the text never starts with BOS: encode adds it (tok.add_bos).
#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace loupe {

namespace {

bool contains(std::string_view text, std::string_view what) { return text.find(what) != std::string_view::npos; }

std::string strip(std::string_view s) {  // Python's str.strip() / Jinja's trim for ASCII space
  const char* space = " \t\n\r\v\f";
  const size_t first = s.find_first_not_of(space);
  if (first == std::string_view::npos) return "";
  return std::string(s.substr(first, s.find_last_not_of(space) - first + 1));
}

std::string token_text_or(const Tokenizer& tok, int32_t id, const char* fallback) {
  return (id >= 0 && id < tok.n_vocab()) ? tok.tokens[id] : fallback;
}

// The system prompt a ChatML template writes when the conversation has none (Qwen2.5's
// "You are Qwen, created by Alibaba Cloud...", SmolLM2's "You are a helpful AI assistant
// named SmolLM..."): a string literal '<|im_start|>system\n<text><|im_end|>' in the template.
std::string chatml_default_system(std::string_view tmpl) {
  const std::string_view head = "<|im_start|>system";
  const std::string_view end_tag = "<|im_end|>";
  for (size_t pos = tmpl.find(head); pos != std::string_view::npos; pos = tmpl.find(head, pos + 1)) {
    size_t start = pos + head.size();
    if (tmpl.compare(start, 2, "\\n") == 0) start += 2;
    else if (tmpl.compare(start, 1, "\n") == 0) start += 1;
    else continue;
    const size_t stop = tmpl.find(end_tag, start);
    if (stop == std::string_view::npos) continue;
    const std::string_view text = tmpl.substr(start, stop - start);
    if (text.empty() || text.find_first_of("'\"{}+") != std::string_view::npos) continue;
    std::string out;  // undo the Jinja string escapes \n and \'
    for (size_t i = 0; i < text.size(); i++) {
      if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == 'n') {
        out += '\n';
        i++;
      } else {
        out += text[i];
      }
    }
    return out;
  }
  return "";
}

std::string chatml(const Tokenizer& tok, const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
  std::string out;
  if (messages.empty() || messages[0].role != "system") {
    const std::string system = chatml_default_system(tok.chat_template);
    if (!system.empty()) out += "<|im_start|>system\n" + system + "<|im_end|>\n";
  }
  for (const ChatMessage& m : messages) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

std::string llama3(const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
  std::string out;
  for (const ChatMessage& m : messages)
    out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + strip(m.content) + "<|eot_id|>";
  if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

// Llama 2 puts the system prompt inside the first [INST]; add_generation_prompt changes
// nothing (the model answers after [/INST]).
std::string llama2(const Tokenizer& tok, const std::vector<ChatMessage>& messages) {
  const std::string bos = token_text_or(tok, tok.bos_id, "<s>");
  const std::string eos = token_text_or(tok, tok.eos_id, "</s>");
  std::string system;
  size_t first = 0;
  if (!messages.empty() && messages[0].role == "system") {
    system = messages[0].content;
    first = 1;
  }
  std::string out;
  for (size_t i = first; i < messages.size(); i++) {
    const ChatMessage& m = messages[i];
    std::string content = m.content;
    if (i == first && first == 1) content = "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content;
    if (m.role == "user") {
      if (i != first) out += bos;
      out += "[INST] ";
      out += strip(content);
      out += " [/INST]";
    } else if (m.role == "assistant") {
      out += ' ';
      out += strip(content);
      out += ' ';
      out += eos;
    } else {
      fail("the Llama 2 chat format has no role '" + m.role + "' (only system, user, assistant)");
    }
  }
  return out;
}

std::string zephyr(const Tokenizer& tok, const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
  const std::string eos = token_text_or(tok, tok.eos_id, "</s>");
  std::string out;
  for (const ChatMessage& m : messages) out += "<|" + m.role + "|>\n" + m.content + eos + "\n";
  if (add_generation_prompt) out += "<|assistant|>\n";
  return out;
}

}  // namespace

ChatTemplateKind detect_chat_template(const Tokenizer& tok) {
  const std::string& t = tok.chat_template;
  if (contains(t, "<|im_start|>")) return ChatTemplateKind::CHATML;
  if (contains(t, "<|start_header_id|>")) return ChatTemplateKind::LLAMA3;
  if (contains(t, "<|user|>")) return ChatTemplateKind::ZEPHYR;
  if (contains(t, "[INST]")) return ChatTemplateKind::LLAMA2;
  if (tok.token_to_id.count("<|im_start|>")) return ChatTemplateKind::CHATML;
  if (t.empty())
    fail("this model has no chat template and no <|im_start|> token: it is not a chat model Loupe "
         "knows how to prompt; use plain text instead");
  fail("this model's chat template is none Loupe recognises (ChatML, Llama 2, Llama 3, Zephyr); "
       "use plain text instead");
}

std::string apply_chat_template(const Tokenizer& tok, const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt) {
  switch (detect_chat_template(tok)) {
    case ChatTemplateKind::CHATML: return chatml(tok, messages, add_generation_prompt);
    case ChatTemplateKind::LLAMA3: return llama3(messages, add_generation_prompt);
    case ChatTemplateKind::LLAMA2: return llama2(tok, messages);
    case ChatTemplateKind::ZEPHYR: return zephyr(tok, messages, add_generation_prompt);
  }
  fail("unknown chat template kind");
}

}  // namespace loupe
