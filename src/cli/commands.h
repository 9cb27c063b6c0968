// The subcommands of loupe-cli, each registered on the CLI11 app with its own --help.
#pragma once
#include <CLI/CLI.hpp>

namespace loupe::cli {

void add_commands(CLI::App& app);
// bench and the hidden bench-model (cli/bench.cpp).
void add_bench_commands(CLI::App& app);
// explain (cli/explain.cpp).
void add_explain_command(CLI::App& app);
// train and two-cities (cli/train.cpp).
void add_train_commands(CLI::App& app);
// bias (cli/bias.cpp).
void add_bias_command(CLI::App& app);
// to-safetensors (cli/convert.cpp).
void add_convert_command(CLI::App& app);

}  // namespace loupe::cli
