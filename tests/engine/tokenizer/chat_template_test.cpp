// Chat formats: recognised from the template text, written out exactly.
#include "core/error.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace loupe {
namespace {

const std::vector<ChatMessage> kChat = {
    {"system", "Be brief."}, {"user", "Hi!"}, {"assistant", "Hello."}, {"user", "Why?"}};

Tokenizer with_template(std::string tmpl, std::vector<std::pair<std::string, TokenType>> extra = {}) {
  Tokenizer t = test::tiny_byte_bpe(PreTokenizer::GPT2, std::move(extra));
  t.chat_template = std::move(tmpl);
  return t;
}

TEST(ChatTemplate, ChatMLWithoutDefaultSystem) {
  const Tokenizer t = with_template(
      "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
      "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}");
  EXPECT_EQ(detect_chat_template(t), ChatTemplateKind::CHATML);
  EXPECT_EQ(apply_chat_template(t, kChat, true),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n"
            "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nWhy?<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(apply_chat_template(t, {{"user", "Hi!"}}, false), "<|im_start|>user\nHi!<|im_end|>\n");
}

TEST(ChatTemplate, ChatMLDefaultSystemPromptOfQwen25) {
  const Tokenizer t = with_template(
      "{%- if messages[0]['role'] == 'system' %}\n        {{- messages[0]['content'] }}\n    {%- else %}\n"
      "        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}\n    {%- endif %}\n"
      "    {{- \"\\n\\n# Tools\" }}\n{%- else %}\n    {%- if messages[0]['role'] == 'system' %}\n"
      "        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n    {%- else %}\n"
      "        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}\n"
      "    {%- endif %}\n{%- endif %}");
  EXPECT_EQ(apply_chat_template(t, {{"user", "Hi"}}, true),
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  // A conversation with its own system message keeps it.
  EXPECT_EQ(apply_chat_template(t, {{"system", "S"}, {"user", "Hi"}}, false),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
}

TEST(ChatTemplate, ChatMLIsTheFallbackWhenTheVocabularyHasImStart) {
  const Tokenizer t = with_template("", {{"<|im_start|>", TokenType::CONTROL}});
  EXPECT_EQ(apply_chat_template(t, {{"user", "Hi"}}, true), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_THROW(apply_chat_template(with_template(""), {{"user", "Hi"}}, true), Error);
  EXPECT_THROW(apply_chat_template(with_template("{{ messages }}"), {{"user", "Hi"}}, true), Error);
}

TEST(ChatTemplate, Llama3) {
  const Tokenizer t = with_template(
      "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
      "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + "
      "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}"
      "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}");
  EXPECT_EQ(detect_chat_template(t), ChatTemplateKind::LLAMA3);
  EXPECT_EQ(apply_chat_template(t, {{"system", "Be brief."}, {"user", " Hi! "}}, true),
            "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplate, Llama2) {
  Tokenizer t = test::tiny_spm();  // <s> and </s>
  t.chat_template =
      "{% if messages[0]['role'] == 'system' %}...{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + "
      "content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + "
      "eos_token }}{% endif %}{% endfor %}";
  EXPECT_EQ(detect_chat_template(t), ChatTemplateKind::LLAMA2);
  EXPECT_EQ(apply_chat_template(t, kChat, true),
            "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi! [/INST] Hello. </s><s>[INST] Why? [/INST]");
  EXPECT_EQ(apply_chat_template(t, {{"user", "Hi"}}, true), "[INST] Hi [/INST]");
}

TEST(ChatTemplate, ZephyrOfTinyLlama) {
  Tokenizer t = test::tiny_spm();
  t.chat_template =
      "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + "
      "eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n"
      "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n"
      "{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";
  EXPECT_EQ(detect_chat_template(t), ChatTemplateKind::ZEPHYR);
  EXPECT_EQ(apply_chat_template(t, {{"system", "Be brief."}, {"user", "Hi!"}}, true),
            "<|system|>\nBe brief.</s>\n<|user|>\nHi!</s>\n<|assistant|>\n");
}

TEST(ChatTemplate, ParsesBackIntoSpecialTokens) {
  const Tokenizer t = with_template("<|im_start|>", {{"<|im_start|>", TokenType::CONTROL}, {"<|im_end|>", TokenType::CONTROL}});
  const std::vector<int32_t> ids = encode(t, apply_chat_template(t, {{"user", "the"}}, false), false);
  EXPECT_EQ(ids, (std::vector<int32_t>{261, 'u', 's', 259, '\n', 't', 256, 262, '\n'}));
}

}  // namespace
}  // namespace loupe
