// `flashcheck check gen|verify`: case files for implementations outside this
// repository (see case_files.hpp).
#include <iostream>

#include "cases/case_files.hpp"
#include "cli/commands.hpp"

namespace flashcheck::cli {

void add_check_command(CLI::App& app) {
  auto* check = app.add_subcommand(
      "check", "validate any attention implementation through .npy case files");
  check->require_subcommand(1);

  auto gen_opts = std::make_shared<cases::GenOptions>();
  auto* gen = check->add_subcommand("gen", "write a suite of cases with the float64 reference");
  gen->add_option("--out", gen_opts->out_dir, "output folder")->required();
  gen->add_option("--seed", gen_opts->seed, "suite seed")->capture_default_str();
  gen->add_option("--count", gen_opts->count, "number of cases")->capture_default_str()->check(CLI::PositiveNumber);
  gen->add_option("--max-seqlen", gen_opts->max_seqlen, "longest sequence")->capture_default_str()->check(CLI::PositiveNumber);
  gen->add_option("--max-head-dim", gen_opts->max_head_dim, "largest head dim")->capture_default_str()->check(CLI::PositiveNumber);
  gen->callback([gen_opts] {
    const int n = cases::generate(*gen_opts, std::cerr);
    std::cout << "wrote " << n << " cases to " << gen_opts->out_dir << "\n";
  });

  auto verify_opts = std::make_shared<cases::VerifyOptions>();
  auto* verify = check->add_subcommand(
      "verify", "judge a candidate's o.npy (lse, dq, dk, dv when present) by the accuracy rule");
  verify->add_option("dir", verify_opts->dir, "suite folder written by check gen")->required();
  verify->add_option("--candidate", verify_opts->candidate_dir,
                     "folder with the candidate's case_NNN/*.npy (default: the case folders)");
  verify->callback([verify_opts] {
    const cases::VerifySummary s = cases::verify(*verify_opts, std::cout);
    if (s.failed > 0) throw CheckFailed(std::to_string(s.failed) + " case(s) failed");
  });
}

}  // namespace flashcheck::cli
