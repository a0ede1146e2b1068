// Beyond bytes (sim/README.md, "Beyond bytes"): FlashAttention-2's
// shared-memory traffic and exponentials equal the closed forms written
// there, derived here from the visited-tile sums of an element-wise scan (not
// from the simulator); the counting shortcuts count what a walk over every
// tile counts; a tile staged twice, a doubled exponential and a wrong warp
// count are each caught; the roofline's on-chip ceilings use them.
#include <catch2/catch.hpp>
#include <rapidcheck.h>

#include "cases/generators.hpp"
#include "properties/prop.hpp"
#include "properties/sim/closed_form.hpp"
#include "properties/sim/planted.hpp"
#include "properties/sim/support.hpp"
#include "sim/hardware.hpp"
#include "sim/simulate.hpp"

namespace flashcheck {
namespace {

using namespace sim;

struct OnChip {
  int64_t smem_read = 0, smem_write = 0, exps = 0;
  bool operator==(const OnChip& o) const {
    return smem_read == o.smem_read && smem_write == o.smem_write && exps == o.exps;
  }
  bool operator!=(const OnChip& o) const { return !(*this == o); }
};
void showValue(const OnChip& c, std::ostream& os) {
  os << "smem read " << c.smem_read << " B, write " << c.smem_write << " B, exps " << c.exps;
}

// sim/README.md's closed forms, per query head (units B x Hq) and per KV head
// (B x Hkv); e the dtype's bytes, a = max(4, e) for LSE_i, D_i, w the warps.
OnChip closed_on_chip(const Problem& p, Direction dir, int64_t Br, int64_t Bc, int64_t w) {
  const simtest::TileSums s = simtest::tile_sums(p, Br, Bc);
  const int64_t d = p.head_dim, e = dtype_bytes(p.dtype), a = std::max<int64_t>(4, e);
  const int64_t uq = p.batch * p.heads_q, ukv = p.batch * p.heads_kv;
  OnChip c;
  if (dir == Direction::fwd) {
    // Q_i once per live Q block, K_j and V_j per visited tile; S = Q K^T reads Q once and K per
    // warp, O += P V (P in registers) reads V per warp; P = exp(S - m) and one rescale per row.
    c.smem_write = uq * e * (s.Rne * d + 2 * s.CK * d);
    c.smem_read = uq * e * (s.RQ * d + 2 * w * s.CK * d);
    c.exps = uq * (s.A + s.RQ);
  } else {
    // Preprocess: O_i, dO_i staged for every row. Main, per visited tile: Q_i, dO_i (e), LSE_i,
    // D_i (a) loaded, P and dS staged (transposed operands of dV += P^T dO, dK += dS^T Q); reads:
    // S, dP: Q_i / dO_i once, K_j / V_j per warp; dV, dK: P / dS once, dO_i / Q_i per warp;
    // dQ = dS K: K_j per warp. K_j, V_j once per live KV block and KV head. P = exp(S - LSE).
    c.smem_write = uq * (2 * p.seqlen_q * d * e + 2 * s.RQ * d * e + 2 * s.RQ * a + 2 * s.A * e) +
                   ukv * 2 * s.Cne * d * e;
    c.smem_read = uq * e * (2 * s.RQ * d + 2 * w * s.RQ * d + 3 * w * s.CK * d + 2 * s.A);
    c.exps = uq * s.A;
  }
  return c;
}
OnChip of(const RunResult& r) { return {r.smem_read_bytes, r.smem_write_bytes, r.exps}; }

// Exponentials counted twice: every online-softmax and recomputation step run twice.
class ExpTwice : public CountingExecutor {
 public:
  using CountingExecutor::CountingExecutor;
  void online_softmax(int s, int m, int l, int o, int64_t nr, int64_t nc, int64_t d) {
    CountingExecutor::online_softmax(s, m, l, o, nr, nc, d);
    CountingExecutor::online_softmax(s, m, l, o, nr, nc, d);
  }
  void recompute_p_lse(int s, int lse, int64_t nr, int64_t nc) {
    CountingExecutor::recompute_p_lse(s, lse, nr, nc);
    CountingExecutor::recompute_p_lse(s, lse, nr, nc);
  }
};

struct Config {
  Problem p;
  Direction dir;
  int64_t Br, Bc, warps;
};
Config config() {
  Config c;
  c.p = *gen::problem(simtest::sim_limits(70, {DType::f16, DType::bf16, DType::f32}));
  c.dir = *simtest::direction();
  c.Br = *rc::gen::inRange<int64_t>(1, 25);
  c.Bc = *rc::gen::inRange<int64_t>(1, 25);
  c.warps = *rc::gen::inRange<int64_t>(1, 9);
  return c;
}
Plan plan_of(const Config& c) {
  return make_plan(c.p, ScheduleKind::flash2, c.dir, int64_t(1) << 30, {c.Br, c.Bc, 0, c.warps});
}

TEST_CASE("sim beyond bytes: shared memory and exponentials") {
  prop("flash2 shared-memory bytes and exponentials equal their closed forms (every mask, GQA, "
       "any warps), and the counting shortcuts count what a walk over every tile counts",
       [] {
         const Config c = config();
         const Plan plan = plan_of(c);
         const RunResult fast = count(plan), slow = count(plan, true);
         RC_ASSERT(of(fast) == closed_on_chip(c.p, c.dir, plan.Br(), plan.Bc(), c.warps));
         RC_ASSERT(of(fast) == of(slow));
       });

  prop("planted: a K tile staged twice, exponentials counted twice and a miscounted warp each "
       "break the closed form",
       [] {
         Config c = config();
         c.p.mask = Mask::none();
         const Plan plan = plan_of(c);
         const OnChip want = closed_on_chip(c.p, c.dir, plan.Br(), plan.Bc(), c.warps);
         RunResult twice = simtest::count_loading_twice(plan, TensorId::K);
         RC_ASSERT(of(twice).smem_write != want.smem_write);
         ExpTwice ex(plan.sram_bytes);
         ex.set_warps(c.warps);
         run_schedule(ex, plan);
         RC_ASSERT(result_of(plan, ex).exps != want.exps);
         RC_ASSERT(of(count(plan)) != closed_on_chip(c.p, c.dir, plan.Br(), plan.Bc(), c.warps + 1));
       });

  prop("the roofline's on-chip ceilings are the counts over the preset's shared-memory bandwidth "
       "and exponential throughput, and time is the highest ceiling",
       [] {
         const Config c = config();
         const RunResult r = count(plan_of(c));
         const Hardware& hw = *rc::gen::elementOf(hardware_presets());
         const Roofline rl = roofline(r, hw);
         RC_ASSERT(rl.smem_s == double(r.smem_read_bytes + r.smem_write_bytes) / hw.smem_bytes_per_s);
         RC_ASSERT(rl.exp_s == double(r.exps) / hw.exp_per_s);
         RC_ASSERT(rl.time_s * rl.utilisation >= std::max({rl.memory_s, rl.compute_s, rl.smem_s, rl.exp_s}) * (1 - 1e-12));
       });
}

TEST_CASE("sim beyond bytes: the presets' on-chip figures") {
  // 128 B and 16 exp2 per clock per SM at the clock of the dense fp16 peak (sim/hardware.cpp).
  for (const Hardware& hw : hardware_presets()) {
    const double clock = hw.matmul_flops_16 / (double(hw.sm_count) * (hw.name == "A100" ? 2048 : 4096));
    CHECK(hw.smem_bytes_per_s == Approx(128.0 * double(hw.sm_count) * clock).epsilon(0.01));
    CHECK(hw.exp_per_s == Approx(16.0 * double(hw.sm_count) * clock).epsilon(0.01));
  }
  // FlashAttention-3, Section 3.1: the H100 SXM5 has 3.9 TFLOPS of special functions.
  CHECK(find_preset("h100").exp_per_s == Approx(3.9e12).epsilon(0.02));
}

}  // namespace
}  // namespace flashcheck
