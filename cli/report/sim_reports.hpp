// The CPU-derived reports: everything here comes from the simulator's
// counting mode, so it is exact and reproducible to the last digit (the drift
// test regenerates it and compares).
#pragma once
#include <string>

#include "cli/report/writer.hpp"

namespace flashcheck::report {

// Each writes <name>.md, its CSV and its plots into the writer's folder and
// returns the Markdown section for the index.
std::string io_vs_sram(const Writer& w);
std::string seqlen_scaling(const Writer& w);
std::string recomputation(const Writer& w);
std::string intensity(const Writer& w);
std::string block_sweep(const Writer& w);

}  // namespace flashcheck::report
