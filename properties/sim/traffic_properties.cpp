// Properties of the simulated HBM traffic: the counts equal each schedule's
// documented closed form exactly, numeric mode counts what counting mode
// counts, standard attention never beats its 4 N^2 floor, and the extra HBM
// footprint is what sim/README.md says.
#include <catch2/catch.hpp>
#include <rapidcheck.h>

#include <algorithm>
#include <set>

#include "cases/generators.hpp"
#include "properties/prop.hpp"
#include "properties/sim/closed_form.hpp"
#include "properties/sim/support.hpp"
#include "sim/simulate.hpp"

namespace flashcheck {
namespace {

using namespace sim;
using simtest::RunConfig;

const std::vector<DType> kAllDtypes = {DType::f16, DType::bf16, DType::f32, DType::f64};

void show_counts(const HbmCounters& got, const HbmCounters& want) {
  for (TensorId t : kAllTensors) {
    const Traffic& g = got.elems[idx(t)];
    const Traffic& w = want.elems[idx(t)];
    if (g.read != w.read || g.write != w.write)
      RC_LOG() << tensor_name(t) << ": simulated r=" << g.read << " w=" << g.write
               << ", closed form r=" << w.read << " w=" << w.write << "\n";
  }
}

TEST_CASE("sim traffic: closed forms") {
  prop("every schedule's simulated counts equal its closed form in sim/README.md", [] {
    const Problem p = *gen::problem(simtest::sim_limits(70, kAllDtypes));
    const RunConfig c = *simtest::run_config(p);
    const Plan plan = simtest::plan_of(p, c);
    RC_TAG(schedule_name(c.kind), plan.row_resident ? "row resident" : "row streamed");
    const RunResult r = count(plan);
    const HbmCounters want =
        simtest::closed_form(p, c.kind, c.dir, plan.Br(), plan.Bc(), plan.row_resident);
    show_counts(r.hbm, want);
    RC_ASSERT(r.hbm == want);
  });

  prop("large unmasked problems match the closed form, and with Nq = Nk = N one head matches "
       "the summed formulas of sim/README.md (counting mode, seqlen up to 8192)",
       [] {
         Problem p;
         p.batch = *rc::gen::inRange<int64_t>(1, 9);
         p.heads_kv = *rc::gen::inRange<int64_t>(1, 5);
         p.heads_q = p.heads_kv * *rc::gen::inRange<int64_t>(1, 4);
         p.seqlen_q = *rc::gen::inRange<int64_t>(1, 8193);
         p.seqlen_k = *rc::gen::arbitrary<bool>() ? p.seqlen_q : *rc::gen::inRange<int64_t>(1, 8193);
         p.head_dim = *rc::gen::element<int64_t>(32, 64, 80, 128);
         p.dtype = *gen::dtype(kAllDtypes);
         const ScheduleKind k = *simtest::schedule_kind();
         const Direction d = *simtest::direction();
         const Plan plan = make_plan(p, k, d, 96 * 1024 + *rc::gen::inRange<int64_t>(0, 128 * 1024));
         const RunResult r = count(plan);
         RC_ASSERT(r.hbm == simtest::closed_form(p, k, d, plan.Br(), plan.Bc(), plan.row_resident));
         if (p.seqlen_q != p.seqlen_k) return;
         const int64_t N = p.seqlen_q, hd = p.head_dim;
         const int64_t Tr = (N + plan.Br() - 1) / plan.Br(), Tc = (N + plan.Bc() - 1) / plan.Bc();
         const int64_t pp = plan.row_resident ? 1 : 2;
         const bool fwd = d == Direction::fwd;
         int64_t per_head = 0;  // README, "Unmasked, Nq = Nk = N, one head, summed"
         switch (k) {
           case ScheduleKind::flash2:
             per_head = fwd ? 2 * N * hd + N + 2 * Tr * N * hd : 7 * N * hd + N + Tc * (4 * N * hd + 2 * N);
             break;
           case ScheduleKind::flash1:
             per_head = fwd ? 3 * N * hd + 2 * N + Tc * (3 * N * hd + 4 * N) : 5 * N * hd + Tc * (5 * N * hd + 2 * N);
             break;
           case ScheduleKind::standard:
             per_head = fwd ? (2 + 2 * Tr) * N * hd + N + (3 + pp) * N * N
                            : (4 + 2 * Tr + 2 * Tc) * N * hd + (5 + 2 * pp) * N * N;
             break;
           case ScheduleKind::square:
           case ScheduleKind::splitkv:  // not drawn here: square_properties.cpp, splitkv_properties.cpp
             break;
         }
         if (p.heads_q == p.heads_kv) RC_ASSERT(r.total_elems() == p.batch * p.heads_q * per_head);
       });

  prop("counting mode's symmetry shortcuts count exactly what a walk over every tile and head counts",
       [] {
         const Problem p = *gen::problem(simtest::sim_limits(200, kAllDtypes));
         const RunConfig c = *simtest::run_config(p);
         const Plan plan = simtest::plan_of(p, c);
         const RunResult fast = count(plan), slow = count(plan, true);
         RC_ASSERT(fast.hbm == slow.hbm);
         RC_ASSERT(fast.matmul_flops == slow.matmul_flops);
         RC_ASSERT(fast.other_flops == slow.other_flops);
         RC_ASSERT(fast.sram_peak_bytes == slow.sram_peak_bytes);
       });

  prop("numeric mode counts the same traffic and FLOPs as counting mode", [] {
    const auto in = *gen::inputs(simtest::sim_limits(24, {DType::f32}), {gen::Values::normal});
    const Problem& p = in.problem;
    const RunConfig c = *simtest::run_config(p);
    const Plan plan = simtest::plan_of(p, c);
    const RunResult counted = count(plan);
    RunResult numeric;
    if (c.dir == Direction::fwd) {
      numeric = numeric_forward(plan, Precision::f64, in.Q, in.K, in.V).run;
    } else {
      Tensor4<double> O(q_shape(p), 0.5), LSE(lse_shape(p), 1.0);
      numeric = numeric_backward(plan, Precision::f64, in.Q, in.K, in.V, O, LSE, in.dO).run;
    }
    RC_ASSERT(numeric.hbm == counted.hbm);
    RC_ASSERT(numeric.matmul_flops == counted.matmul_flops);
    RC_ASSERT(numeric.other_flops == counted.other_flops);
    RC_ASSERT(numeric.sram_peak_bytes == counted.sram_peak_bytes);
  });
}

TEST_CASE("sim traffic: standard attention's floor and the extra footprint") {
  prop("standard attention's traffic never falls below 4 elements per visible score, whatever M", [] {
    const Problem p = *gen::problem(simtest::sim_limits(70, kAllDtypes));
    const Direction d = *simtest::direction();
    const int64_t M = *rc::gen::inRange<int64_t>(p.head_dim * 64 + 512, 1 << 22);
    const RunResult r = simulate(p, ScheduleKind::standard, d, M);
    const int64_t heads = p.batch * p.heads_q;
    const int64_t floor = 4 * heads * visible_pairs(p);
    RC_ASSERT(r.total_elems() >= floor);
    // Unmasked: at least 4 N^2 elements per head.
    if (p.mask.kind == MaskKind::none) RC_ASSERT(r.total_elems() >= 4 * heads * p.seqlen_q * p.seqlen_k);
  });

  prop("a run touches exactly its schedule's extra tensors; standard keeps >= 2 N^2 per head "
       "forward, flash at most 2 N per head",
       [] {
         const Problem p = *gen::problem(simtest::sim_limits(70, kAllDtypes));
         const RunConfig c = *simtest::run_config(p);
         const RunResult r = count(simtest::plan_of(p, c));
         std::set<TensorId> touched, declared;
         for (TensorId t : kAllTensors) {
           const Traffic& tr = r.hbm.elems[idx(t)];
           if (is_extra(t) && (tr.read || tr.write)) touched.insert(t);
         }
         for (TensorId t : extra_tensors(c.kind, c.dir)) declared.insert(t);
         // A fully masked problem skips every tile: only the tensors it still writes.
         if (visible_pairs(p) > 0) RC_ASSERT(touched == declared);
         const int64_t heads = p.batch * p.heads_q;
         const int64_t nn = p.seqlen_q * p.seqlen_k * int64_t(dtype_bytes(p.dtype));
         const int64_t n = p.seqlen_q * kStatBytes;
         if (visible_pairs(p) == 0) return;
         if (c.kind == ScheduleKind::standard) {
           RC_ASSERT(r.extra_hbm_bytes() >= heads * 2 * nn);
           if (c.dir == Direction::fwd) RC_ASSERT(r.extra_hbm_bytes() == heads * (2 * nn + n));
           else RC_ASSERT(r.extra_hbm_bytes() == heads * 3 * nn);
         } else {
           RC_ASSERT(r.extra_hbm_bytes() <= heads * 2 * n);
           RC_ASSERT(r.extra_hbm_bytes() == heads * n * int64_t(extra_tensors(c.kind, c.dir).size()));
         }
       });
}

}  // namespace
}  // namespace flashcheck
