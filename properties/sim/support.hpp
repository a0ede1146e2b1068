// Shared pieces of the simulator properties: shape limits, a generated run
// configuration (schedule, direction, and either an SRAM size for the block
// rule or explicit Br x Bc), and printing.
#pragma once
#include <ostream>

#include <rapidcheck.h>

#include "cases/generators.hpp"
#include "sim/plan.hpp"

namespace flashcheck::simtest {

struct RunConfig {
  sim::ScheduleKind kind = sim::ScheduleKind::flash2;
  sim::Direction dir = sim::Direction::fwd;
  int64_t sram_bytes = 0;      // M
  sim::BlockOverride blocks;   // {0, 0}: the block rule
};

inline void showValue(const RunConfig& c, std::ostream& os) {
  os << sim::schedule_name(c.kind) << " " << sim::direction_name(c.dir) << " M=" << c.sram_bytes
     << " B";
  if (c.blocks.Br || c.blocks.Bc) os << " Br=" << c.blocks.Br << " Bc=" << c.blocks.Bc;
}

inline rc::Gen<sim::ScheduleKind> schedule_kind() {
  return rc::gen::element(sim::ScheduleKind::standard, sim::ScheduleKind::flash1,
                          sim::ScheduleKind::flash2);
}
inline rc::Gen<sim::Direction> direction() {
  return rc::gen::element(sim::Direction::fwd, sim::Direction::bwd);
}

// Lengths leaning to the edges of small blocks (the sizes configs use).
inline gen::ShapeLimits sim_limits(int64_t max_seqlen, std::vector<DType> dtypes) {
  gen::ShapeLimits l = gen::tiled_limits({4, 8, 16}, max_seqlen, {}, std::move(dtypes));
  return l;
}

// The smallest M (bytes) the paper rule of (k, d) accepts for head_dim hd
// (flash2's own GPU rule needs at most this plus gpu_rule_fixed_sram).
inline int64_t min_rule_sram(sim::ScheduleKind k, sim::Direction d, int64_t hd, DType t) {
  if (k == sim::ScheduleKind::standard) return 0;
  const int64_t div = d == sim::Direction::fwd ? 5 * hd + 4
                      : k == sim::ScheduleKind::flash1 ? 10 * hd + 3 : 9 * hd + 2;
  return div * sim::acc_bytes(t);
}

// Half the time explicit blocks in [1, 24] with a roomy M; otherwise an M
// from the rule's minimum (standard: a little over its smallest tile, so its
// softmax sometimes streams a row twice) to ~64 times that.
inline rc::Gen<RunConfig> run_config(const Problem& p, rc::Gen<sim::Direction> dirs) {
  return rc::gen::apply(
      [p](sim::ScheduleKind k, sim::Direction d, bool explicit_blocks, int64_t Br, int64_t Bc,
          int64_t rows, int64_t extra) {
        RunConfig c{k, d, 0, {}};
        if (explicit_blocks) {
          c.blocks = {Br, Bc};
          c.sram_bytes = int64_t(1) << 30;
          return c;
        }
        // flash2's GPU rule also stages 64-row K/V (fwd) or Q/dO (bwd) blocks.
        const int64_t gpu_fixed = k == sim::ScheduleKind::flash2
                                      ? 2 * 64 * p.head_dim * static_cast<int64_t>(dtype_bytes(p.dtype)) + 512
                                      : 0;
        const int64_t base = k == sim::ScheduleKind::standard
                                 ? 16 * p.head_dim + 16
                                 : min_rule_sram(k, d, p.head_dim, p.dtype) + gpu_fixed;
        c.sram_bytes = base * rows + extra % base;
        return c;
      },
      schedule_kind(), std::move(dirs), rc::gen::arbitrary<bool>(), rc::gen::inRange<int64_t>(1, 25),
      rc::gen::inRange<int64_t>(1, 25),
      rc::gen::weightedOneOf<int64_t>({{3, rc::gen::inRange<int64_t>(1, 4)},
                                       {2, rc::gen::inRange<int64_t>(1, 65)}}),
      rc::gen::inRange<int64_t>(0, 4096));
}
inline rc::Gen<RunConfig> run_config(const Problem& p) { return run_config(p, direction()); }
inline rc::Gen<RunConfig> run_config(const Problem& p, sim::Direction d) {
  return run_config(p, rc::gen::just(d));
}

// One head, Nq = Nk = n, fp16 or bf16 (the IO properties' problems).
inline Problem fp16_head(int64_t n, int64_t d) {
  Problem p;
  p.seqlen_q = p.seqlen_k = n;
  p.head_dim = d;
  p.dtype = *rc::gen::element(DType::f16, DType::bf16);
  return p;
}

inline sim::Plan plan_of(const Problem& p, const RunConfig& c) {
  return sim::make_plan(p, c.kind, c.dir, c.sram_bytes, c.blocks);
}

}  // namespace flashcheck::simtest
