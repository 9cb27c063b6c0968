// Checks that every weight of a loaded model has the shape and type its architecture
// needs, shared by the GGUF and safetensors loaders.
#pragma once
#include <map>
#include <string>

#include "core/file_bytes.h"
#include "model/model.h"

namespace loupe {

// Throws loupe::Error naming the first tensor that does not fit the configuration.
void check_model_shapes(const Model& model);

// Packs the weight matrices for the matrix products (kernels/packed.h), in place in the
// model's own bytes, which every loader keeps writable and private (a copy-on-write
// mapping natively, an owned buffer otherwise). Setting LOUPE_PACKED=0 in the
// environment leaves them row-major (to measure or test the row-major kernels).
void pack_weights(Model& model);

// The loaders, behind load_model / load_model_from_bytes / load_model_from_files.
Model load_model_from_gguf(FileBytes file_bytes, std::string source);
// `files` by file name: config.json, tokenizer.json, [tokenizer_config.json],
// model.safetensors or model.safetensors.index.json with its shards.
Model load_model_from_safetensors(std::map<std::string, FileBytes> files, std::string source);

}  // namespace loupe
