// Public entry points of the simulator: counting mode (no data) and numeric
// mode (real math in float64 or float32), both walking the same schedule code.
#pragma once
#include <cstdint>

#include "reference/tensor.hpp"
#include "sim/analysis.hpp"
#include "sim/plan.hpp"

namespace flashcheck::sim {

// Counting mode: traffic, FLOPs and SRAM of one run. Throws as make_plan does.
// walk_every_tile: no symmetry shortcuts (counting.hpp); the same counts, slower.
RunResult count(const Plan& plan, bool walk_every_tile = false);
RunResult simulate(const Problem& p, ScheduleKind k, Direction d, int64_t sram_bytes,
                   BlockOverride blocks = {}, BlockRule rule = BlockRule::own);

enum class Precision { f64, f32 };

struct NumericForward {
  Tensor4<double> O, LSE;
  Tensor4<double> l, m;  // flash1 only: the statistics Algorithm 4 reads back
  RunResult run;
};
struct NumericBackward {
  Tensor4<double> dQ, dK, dV;
  RunResult run;
};

// Inputs are float64 tensors (rounded to float when precision is f32).
// flash1 writes l and m, not LSE: LSE = m + log l is derived after the run.
NumericForward numeric_forward(const Plan& plan, Precision prec, const Tensor4<double>& Q,
                               const Tensor4<double>& K, const Tensor4<double>& V);
// flash1 reads l and m: they are set to l = 1, m = LSE (the same P). standard
// reads P: it is produced by running the standard forward first (uncounted).
NumericBackward numeric_backward(const Plan& plan, Precision prec, const Tensor4<double>& Q,
                                 const Tensor4<double>& K, const Tensor4<double>& V,
                                 const Tensor4<double>& O, const Tensor4<double>& LSE,
                                 const Tensor4<double>& dO);
// The backward of a numeric forward run, as training runs it: O and LSE from
// `fwd`, and for flash1 its own l and m (not the l = 1, m = LSE substitute).
NumericBackward numeric_backward(const Plan& plan, Precision prec, const Tensor4<double>& Q,
                                 const Tensor4<double>& K, const Tensor4<double>& V,
                                 const NumericForward& fwd, const Tensor4<double>& dO);

}  // namespace flashcheck::sim
