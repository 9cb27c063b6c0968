// libFuzzer target for model loading as a whole: the input is a GGUF file (full model
// load: metadata -> configuration, tensor look-up, shape checks, tokenizer), or, when it
// does not start with "GGUF", a Hugging Face folder made from it: config.json up to the
// first NUL byte, model.safetensors after it, and a small fixed tokenizer.json. Loaded
// models also run one token, so a file that passes the checks must also run safely.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/forward.h"
#include "model/model.h"

static const char kTokenizerJson[] =
    R"({"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2,"<s>":3},"merges":["a b"]},)"
    R"("pre_tokenizer":{"type":"ByteLevel"},"decoder":{"type":"ByteLevel"}})";

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    loupe::Model model;
    if (size >= 4 && std::memcmp(data, "GGUF", 4) == 0) {
      model = loupe::load_model_from_bytes(std::vector<uint8_t>(data, data + size), "fuzz");
    } else {
      const uint8_t* nul = static_cast<const uint8_t*>(std::memchr(data, 0, size));
      const size_t config_size = nul ? size_t(nul - data) : size;
      std::map<std::string, std::vector<uint8_t>> files;
      files["config.json"] = std::vector<uint8_t>(data, data + config_size);
      if (nul) files["model.safetensors"] = std::vector<uint8_t>(nul + 1, data + size);
      files["tokenizer.json"] = std::vector<uint8_t>(kTokenizerJson, kTokenizerJson + sizeof(kTokenizerJson) - 1);
      model = loupe::load_model_from_files(std::move(files), "fuzz");
    }
    // Keep runs fast: only small models are worth running.
    if (uint64_t(model.config.n_layers) * model.config.dim * model.config.ff_dim < (1u << 22) &&
        model.config.context_length <= 4096) {
      loupe::InferenceState state = loupe::make_state(model, 8);
      const int32_t token = 0;
      loupe::forward(model, state, std::span<const int32_t>(&token, 1));
    }
  } catch (const loupe::Error&) {
  }
  return 0;
}
