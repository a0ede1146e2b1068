// The GPU model's stack-frame table (sim/variants.cpp, StackFrame) against the
// committed SASS listings of the kernels (reports/fidelity/*_sass/*.tsv, written by
// sim/fidelity/stack_frames.sh): every row's kernel must appear once in them, with
// the row's bytes, so the table cannot drift from the binaries it was read off.
#pragma once
#include <string>

#include "cli/report/fidelity_data.hpp"

namespace flashcheck::report {

// Returns the report's section; says so when `dir` holds no *_sass listing. Throws
// std::runtime_error naming the variant, head dim and kernel on a row that is
// missing, ambiguous or different, and when the spill probe (d.spill) left a
// launch's frames dirty at its end further from the floor than the method's
// floor (d.idle_drain_writes) and 10% allow.
std::string sass_frames_section(const std::string& dir, const FidelityData& d);

}  // namespace flashcheck::report
