// loupe-cli to-safetensors: any model Loupe reads, written as a Hugging Face folder (F32
// safetensors, config.json, tokenizer.json) that transformers and Loupe's app both open.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "commands.h"
#include "core/error.h"
#include "model/export_safetensors.h"
#include "model/model.h"

namespace loupe::cli {

void add_convert_command(CLI::App& app) {
  struct Options {
    std::string model_path, out_dir;
  };
  auto o = std::make_shared<Options>();
  CLI::App* c = app.add_subcommand("to-safetensors", "Write a model as a Hugging Face folder (F32 safetensors, config.json, tokenizer.json)");
  c->add_option("-m,--model", o->model_path, "GGUF file, or a Hugging Face folder")->required();
  c->add_option("-o,--out", o->out_dir, "Folder to write (created if missing)")->required();
  c->callback([o] {
    const Model model = load_model(o->model_path);
    std::error_code ec;
    std::filesystem::create_directories(o->out_dir, ec);
    if (ec) fail("cannot create '" + o->out_dir + "': " + ec.message());
    for (const auto& [name, bytes] : to_hugging_face(model)) {
      const std::filesystem::path path = std::filesystem::path(o->out_dir) / name;
      std::ofstream out(path, std::ios::binary);
      out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
      if (!out) fail("cannot write '" + path.string() + "'");
      std::printf("wrote %s (%zu bytes)\n", path.string().c_str(), bytes.size());
    }
  });
}

}  // namespace loupe::cli
