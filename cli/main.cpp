// flashcheck: one binary, one subcommand per job (sim, check, bench, report).
#include <exception>
#include <iostream>
#include <stdexcept>

#include "cli/commands.hpp"

int main(int argc, char** argv) {
  using namespace flashcheck::cli;
  CLI::App app{
      "flashcheck: verification and IO simulation harness for FlashAttention-style kernels"};
  app.require_subcommand(0, 1);
  app.set_version_flag("--version", "flashcheck 0.1.0");
  add_sim_command(app);
  add_check_command(app);
  add_report_command(app);
  add_mutants_command(app);
#ifdef FLASHCHECK_HAVE_CUDA
  add_bench_command(app);
#endif
  try {
    app.parse(argc, argv);
    if (app.get_subcommands().empty()) {
      std::cout << app.help();
      return 0;
    }
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::cerr << "flashcheck: error: " << e.what() << " (see --help)\n";
    return kExitBadInput;
  } catch (const CheckFailed& e) {
    std::cerr << "flashcheck: " << e.what() << "\n";
    return kExitFailure;
  } catch (const std::invalid_argument& e) {
    std::cerr << "flashcheck: error: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const std::exception& e) {
    std::cerr << "flashcheck: error: " << e.what() << "\n";
    return kExitFailure;
  }
  return 0;
}
