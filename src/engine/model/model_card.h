// The model card as JSON: what `loupe-cli info --json` prints and the app's Model view
// shows. Facts only, taken from the file: architecture, sizes, tensor types, tokenizer,
// metadata (licence, author, data sources when the file names them).
#pragma once
#include <nlohmann/json.hpp>

#include "model/model.h"

namespace loupe {

nlohmann::json model_card_json(const Model& model);

}  // namespace loupe
