// Planted schedule bugs for the IO properties: a counting executor that
// loads one tensor's tiles twice, run on the real schedule code (the same
// templates the simulator runs), so a property that is meant to catch "a tile
// loaded twice" is shown to catch it.
#pragma once
#include "sim/analysis.hpp"
#include "sim/counting.hpp"
#include "sim/run_schedule.hpp"

namespace flashcheck::simtest {

class LoadTwice : public sim::CountingExecutor {
 public:
  LoadTwice(int64_t sram_bytes, sim::TensorId twice) : CountingExecutor(sram_bytes), twice_(twice) {}
  void load(int buf, sim::TensorId t, int64_t b, int64_t h, int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
    CountingExecutor::load(buf, t, b, h, r0, nr, c0, nc);
    if (t == twice_) CountingExecutor::load(buf, t, b, h, r0, nr, c0, nc);
  }

 private:
  sim::TensorId twice_;
};

// The plan counted with every tile of `twice` loaded twice.
inline sim::RunResult count_loading_twice(const sim::Plan& plan, sim::TensorId twice) {
  LoadTwice ex(plan.sram_bytes, twice);
  ex.set_paging(plan.paging, dtype_bytes(plan.problem.dtype));
  sim::run_schedule(ex, plan);
  return sim::result_of(plan, ex);
}

}  // namespace flashcheck::simtest
