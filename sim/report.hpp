// Formatting simulated runs as a readable table, CSV or JSON (the CLI's
// --format). One row per run on one hardware description.
#pragma once
#include <string>
#include <vector>

#include "sim/analysis.hpp"
#include "sim/gpu_model.hpp"
#include "sim/hardware.hpp"

namespace flashcheck::sim {

struct ReportRow {
  RunResult run;
  Hardware hw;
  Roofline roof;
  BoundCheck bound;
  GpuTraffic gpu;  // the GPU model's DRAM prediction
};
ReportRow make_row(const RunResult& r, const Hardware& hw, const Launch& launch = {});

// Rows grouped by hardware and SRAM size; a schedule's fwd and bwd rows are
// followed by their sum. `title` heads the table.
// sweep: one table per hardware with a row per SRAM size (an M column).
std::string format_table(const std::string& title, const std::vector<ReportRow>& rows,
                         bool sweep = false);
std::string format_csv(const std::vector<ReportRow>& rows);
// An array of runs with the fields the CLI documents (sim/README.md).
std::string format_json(const std::vector<ReportRow>& rows);

}  // namespace flashcheck::sim
