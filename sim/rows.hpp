// The simulator's report rows for a request (problem, schedules, hardware,
// SRAM sizes, tiles, kernel variant): the one row builder behind
// `flashcheck sim` and flashcheck.simulate in Python.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "reference/problem.hpp"
#include "sim/hardware.hpp"
#include "sim/paging.hpp"
#include "sim/plan.hpp"
#include "sim/report.hpp"

namespace flashcheck::sim {

// Preset name (a100, h100, h200, all, custom) and what-if overrides.
struct HardwareChoice {
  std::string preset = "all";
  std::optional<double> hbm_gbps, matmul_tflops, vector_tflops;
  std::optional<int64_t> sms;
  std::optional<std::string> l2;  // "50MB"-style; "0" turns the L2 level off
  // The L2's edge: "measured" (the preset's reuse curve, Hardware::l2_reuse) or "lru" (the cliff).
  std::string l2_edge = "measured";
};
// The hardware descriptions of a choice; throws std::invalid_argument on bad values.
std::vector<Hardware> hardware_of(const HardwareChoice& c);

struct RowsRequest {
  Problem problem;
  std::vector<ScheduleKind> schedules{ScheduleKind::standard, ScheduleKind::flash1, ScheduleKind::flash2};
  std::vector<Direction> directions{Direction::fwd, Direction::bwd};
  std::vector<Hardware> hardware;
  std::vector<int64_t> sram_sizes;  // empty: each hardware's shared memory per block
  BlockOverride blocks;
  int64_t splits = 0;  // split-KV chunks for splitkv (0: the schedule's default)
  Paging paging;       // paged K/V; off by default
  std::optional<std::string> variant;  // a kernel's schedule, tiles and launch
  // Called before each (hardware, M) group: index, count (the CLI's sweep progress).
  std::function<void(const Hardware&, int64_t m, size_t n, size_t count)> progress;
};
// Split count and paging as a user gives them (nullopt: the default), checked:
// splits >= 1 and only with the splitkv schedule; page size >= 1 row, and the
// read mode ('sector' or 'page') other than 'sector' only with a page size.
int64_t checked_splits(const std::optional<int64_t>& splits, const std::vector<ScheduleKind>& schedules);
Paging checked_paging(const std::optional<int64_t>& page_rows, const std::string& read);

// One row per hardware x M x schedule x direction (a variant: its own schedule
// and direction); runs that depend only on M are reused across hardware.
std::vector<ReportRow> simulate_rows(const RowsRequest& r);

}  // namespace flashcheck::sim
