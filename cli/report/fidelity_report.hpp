// The GPU-model fidelity report (reports/fidelity): the model against the
// committed Nsight Compute CSVs of an H200. Reading: fidelity_data.hpp;
// verdicts: fidelity_judge.hpp; this renders them.
#pragma once
#include <string>

#include "cli/report/writer.hpp"

namespace flashcheck::report {

// Writes fidelity/README.md, fidelity.csv and the scatter plot from the
// measurement folder `dir`; returns the index line.
std::string fidelity(const Writer& w, const std::string& dir);

}  // namespace flashcheck::report
