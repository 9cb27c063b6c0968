// A loaded model (GGUF or safetensors, any tensor type) as the files of a Hugging Face
// folder: model.safetensors (F32), config.json and tokenizer.json, by file name.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/model.h"

namespace loupe {

using HuggingFaceFiles = std::map<std::string, std::vector<uint8_t>>;
HuggingFaceFiles to_hugging_face(const Model& model);

}  // namespace loupe
