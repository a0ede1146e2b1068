#include "sim/simulate.hpp"

#include "sim/counting.hpp"
#include "sim/run_schedule.hpp"

namespace flashcheck::sim {

RunResult result_of(const Plan& plan, const CountingExecutor& ex) {
  RunResult r;
  r.problem = plan.problem;
  r.desc = plan.desc;
  r.sram_bytes = plan.sram_bytes;
  r.row_resident = plan.row_resident;
  r.hbm = ex.hbm;
  r.matmul_flops = ex.matmul_flops;
  r.other_flops = ex.other_flops;
  r.smem_read_bytes = ex.smem_read;
  r.smem_write_bytes = ex.smem_write;
  r.exps = ex.exps;
  r.sram_peak_bytes = ex.sram().peak();
  r.work_units = plan.work_units;
  r.page_rows = plan.paging.page_rows;
  return r;
}

RunResult count(const Plan& plan, bool walk_every_tile) {
  CountingExecutor ex(plan.sram_bytes, !walk_every_tile);
  ex.set_paging(plan.paging, dtype_bytes(plan.problem.dtype));
  ex.set_warps(plan.desc.warps);
  run_schedule(ex, plan);
  return result_of(plan, ex);
}

RunResult simulate(const Problem& p, ScheduleKind k, Direction d, int64_t sram_bytes,
                   BlockOverride blocks, BlockRule rule) {
  return count(make_plan(p, k, d, sram_bytes, blocks, rule));
}

}  // namespace flashcheck::sim
