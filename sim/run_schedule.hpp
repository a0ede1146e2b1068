// Dispatch from a plan to the one schedule body, for any executor.
#pragma once
#include "sim/analysis.hpp"
#include "sim/counting.hpp"
#include "sim/schedules/flash1.hpp"
#include "sim/schedules/flash2.hpp"
#include "sim/schedules/splitkv.hpp"
#include "sim/schedules/square.hpp"
#include "sim/schedules/standard.hpp"

namespace flashcheck::sim {

template <class Ex>
void run_schedule(Ex& ex, const Plan& plan) {
  const bool fwd = plan.desc.direction == Direction::fwd;
  switch (plan.desc.kind) {
    case ScheduleKind::standard: fwd ? standard::forward(ex, plan) : standard::backward(ex, plan); break;
    case ScheduleKind::flash1: fwd ? flash1::forward(ex, plan) : flash1::backward(ex, plan); break;
    case ScheduleKind::flash2: fwd ? flash2::forward(ex, plan) : flash2::backward(ex, plan); break;
    // Forward-only schedules: make_plan refuses a backward plan for them.
    case ScheduleKind::square: square::forward(ex, plan); break;
    case ScheduleKind::splitkv: splitkv::forward(ex, plan); break;
  }
}

RunResult result_of(const Plan& plan, const CountingExecutor& ex);

}  // namespace flashcheck::sim
