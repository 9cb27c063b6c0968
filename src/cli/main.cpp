// loupe-cli: the engine from the command line. Each subcommand is one function below;
// errors go to stderr with a non-zero exit status.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "commands.h"
#include "core/error.h"
#include "core/memory.h"
#include "core/version.h"
#include "model/model_card.h"

int main(int argc, char** argv) {
  loupe::keep_freed_memory();  // repeated passes reuse their buffers instead of faulting them in
  CLI::App app{"loupe-cli " + std::string(loupe::kVersion) +
               ": run and look inside small open language models (GGUF or safetensors)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(loupe::kVersion));
  loupe::cli::add_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const loupe::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "loupe-cli: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "loupe-cli: internal error: %s\n", e.what());
    return 1;
  }
  return 0;
}
