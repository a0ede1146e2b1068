// Subcommands of the flashcheck CLI. Each lives in its own file and adds
// itself to the app; library errors propagate as exceptions and main() turns
// them into a one-line message and an exit code.
#pragma once
#include <CLI/CLI.hpp>
#include <stdexcept>

namespace flashcheck::cli {

// Exit codes: 0 success, 1 a check failed or a runtime error, 2 bad input.
constexpr int kExitFailure = 1;
constexpr int kExitBadInput = 2;

// Thrown by a subcommand whose check ran and failed: exit code 1, no usage hint.
class CheckFailed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Registered subcommands (one line each in main.cpp).
void add_check_command(CLI::App& app);
void add_sim_command(CLI::App& app);  // sim_cmd.cpp
void add_report_command(CLI::App& app);  // report_cmd.cpp
void add_mutants_command(CLI::App& app);  // mutants_cmd.cpp
#ifdef FLASHCHECK_HAVE_CUDA
void add_bench_command(CLI::App& app);  // bench_cmd.cpp (CUDA builds only)
#endif

}  // namespace flashcheck::cli
