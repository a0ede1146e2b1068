// The GPU model's stack-frame table (sim/variants.cpp, StackFrame) against the
// committed SASS listings of the kernels (reports/fidelity/*_sass/*.tsv, written by
// sim/fidelity/stack_frames.sh): every row's kernel must appear once in them, with
// the row's bytes, so the table cannot drift from the binaries it was read off.
#pragma once
#include <string>

namespace flashcheck::report {

// Returns the report's section; says so when `dir` holds no *_sass listing. Throws
// std::runtime_error naming the variant, head dim and kernel on a row that is
// missing, ambiguous or different.
std::string sass_frames_section(const std::string& dir);

}  // namespace flashcheck::report
