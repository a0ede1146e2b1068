// The fidelity report's verdicts: each measured (case, kernel) against the GPU
// model's prediction (`flashcheck sim --variant KERNEL --preset h200`), judged
// against the spread of its samples, with the reason a row misses its goal and
// what the model leaves out there. No formatting (fidelity_report.cpp renders).
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cli/report/fidelity_data.hpp"

namespace flashcheck::report {

// Metrics judged, in this order everywhere: 0 SM-side (L2) reads, 1 DRAM reads, 2 DRAM writes.
constexpr int kFidelityMetrics = 3;

struct FidelityRow {
  FidelityCase c;
  std::string kernel;
  size_t samples = 0;
  double pred[kFidelityMetrics] = {}, mean[kFidelityMetrics] = {};  // in-kernel counters, bytes
  double spread = 0;  // max over the metrics of max / min - 1 over the samples
  double dirty_end_pred = 0, stack_end_pred = 0, spill_pred = 0, sm_write = 0, sm_write_pred = 0, red = 0, red_pred = 0, lts = 0;
  double footprint_over_l2 = 0;
  bool reuse = false;          // every wave's re-reads hit
  double fitting_share = 0;    // the waves whose re-reads hit (each decides on its own footprint)
  std::string why;           // why it missed, "" when it met every goal
  std::string not_modelled;  // what the model leaves out that this row shows, "" if nothing
  bool has_eventual = false; // DRAM writes judged on eventual writes (writeback/ passes)
  double eventual_mean = 0, eventual_pred = 0;
};

// Errors per metric of the held-out and the fit half.
struct HalfErrors {
  std::vector<double> held[kFidelityMetrics], fit[kFidelityMetrics];
  void add(const std::string& half, int k, double e) { (half == "fit" ? fit : held)[k].push_back(e); }
};

struct FidelityJudgement {
  std::vector<FidelityRow> rows;
  // Held-out half: each row's error per metric, and the same with stored lines weighted 1.
  std::vector<double> err[kFidelityMetrics], err_before[kFidelityMetrics];
  // The same for the model with one of its parts changed, each half apart: LRU's cliff in place of
  // the measured reuse curve; no stack-frame floor (Launch::stack_bytes_per_cta 0); no cold-part
  // write-backs (Launch::cold_stack_bytes_per_cta 0); no dQaccum memset zeros
  // (GpuTraffic::memset_dirty_bytes 0); every backward wave synchronous (continued_heads_overlap false).
  HalfErrors cliff, noframe, nospill, nomemset, synchronous;
  double worst_e[kFidelityMetrics] = {0, 0, 0};
  std::string worst[kFidelityMetrics];
  // Fit half: the same errors (the half that informed the model's design, shown beside).
  std::vector<double> err_fit[kFidelityMetrics];
  double worst_fit_e[kFidelityMetrics] = {0, 0, 0};
  std::string worst_fit[kFidelityMetrics];
  std::map<std::string, int> reasons;  // held-out misses per class
  std::set<std::string> flipped;       // held rows whose reuse decision the stored-line weight changes
  std::string slice_example;           // the cited row of the slice counter's shortfall
  double slice_min = 0, slice_max = 0; // lts / crossbar over all rows
};

// Goals of issue 11 item 3: SM-side reads within 10% each, DRAM within 25% worst (15% median).
constexpr double kFidelityLimit[kFidelityMetrics] = {0.10, 0.25, 0.25};

FidelityJudgement judge_fidelity(const FidelityData& d);

}  // namespace flashcheck::report
