// The L2 probe's part of the fidelity report (reports/fidelity/l2probe): the
// share of re-reads that missed against the stream's footprint, measured, beside
// the reuse curve a preset carries (sim::L2Reuse). The curve must follow the
// measurement: rendering fails when it departs from it.
#pragma once
#include <string>

#include "cli/report/fidelity_data.hpp"
#include "cli/report/writer.hpp"
#include "sim/hardware.hpp"

namespace flashcheck::report {

// Largest |curve(x) - mean measured miss at x| allowed over the read-only points.
constexpr double kProbeTolerance = 0.03;

// Writes fidelity/l2probe.csv and its plot; returns the Markdown section (saying so
// when the folder holds no probe). Throws std::runtime_error when the probe has no
// read-only sweep or when `curve`
// departs from its means by more than kProbeTolerance (naming where).
std::string probe_section(const Writer& w, const FidelityData& d, const sim::L2Reuse& curve);

}  // namespace flashcheck::report
