// Split-KV decoding (sim/schedules/splitkv.hpp): the partial-result traffic
// is exactly splits x Nq x (d + 1) float32 elements written and read back per
// query head, derived here from the formula sim/README.md writes (not from
// the code); K and V are still read once per visited block; the output is
// the reference's for every number of splits; a reduce that reads a partial
// twice is caught; splits multiply the thread blocks (wave utilisation).
#include <catch2/catch.hpp>
#include <rapidcheck.h>

#include "cases/generators.hpp"
#include "properties/prop.hpp"
#include "properties/sim/closed_form.hpp"
#include "properties/sim/planted.hpp"
#include "properties/sim/support.hpp"
#include "properties/sim/numeric_check.hpp"
#include "sim/hardware.hpp"
#include "sim/simulate.hpp"

namespace flashcheck {
namespace {

using namespace sim;

// A decode problem: Nq <= 16 queries, a long KV.
Problem decode(bool any_mask) {
  Problem p;
  p.batch = *rc::gen::inRange<int64_t>(1, 9);
  p.heads_kv = *rc::gen::inRange<int64_t>(1, 5);
  p.heads_q = p.heads_kv * *rc::gen::element<int64_t>(1, 2, 8);
  p.seqlen_q = *rc::gen::inRange<int64_t>(1, 17);
  p.seqlen_k = *rc::gen::inRange<int64_t>(1, 200000);
  p.head_dim = *rc::gen::element<int64_t>(64, 128);
  p.dtype = *rc::gen::element(DType::f16, DType::bf16);
  if (any_mask)
    p.mask = *gen::mask({MaskKind::none, MaskKind::causal_top_left, MaskKind::causal_bottom_right,
                         MaskKind::sliding_window},
                        p.seqlen_q, p.seqlen_k);
  return p;
}

// The partial results, per query head: splits x Nq rows of O_s (d) and LSE_s (1), written once by
// the chunks and read once by the reduce: r = w = splits * Nq * (d + 1), all float32 (4 B).
int64_t partial_elems(const Problem& p, int64_t splits) {
  return p.batch * p.heads_q * splits * p.seqlen_q * (p.head_dim + 1);
}
bool partials_exact(const RunResult& r, int64_t splits) {
  const Problem& p = r.problem;
  const Traffic o = r.hbm.elems[idx(TensorId::Oacc)], l = r.hbm.elems[idx(TensorId::LSEacc)];
  const int64_t want = partial_elems(p, splits);
  return o.read + l.read == want && o.write + l.write == want &&
         r.read_bytes(TensorId::Oacc) + r.read_bytes(TensorId::LSEacc) == 4 * want;
}

TEST_CASE("sim split-KV decoding") {
  prop("split-KV moves exactly splits x Nq x (d + 1) float32 partial elements each way per query head, "
       "and its counts equal the closed form (K, V once per visited block, Q once per live chunk)",
       [] {
         const Problem p = decode(true);
         const int64_t splits = *rc::gen::inRange<int64_t>(1, 130);
         const Plan plan = make_plan(p, ScheduleKind::splitkv, Direction::fwd, 227 * 1024, {0, 0, splits});
         const int64_t S = plan.desc.splits;
         RC_ASSERT(S == std::min(splits, (p.seqlen_k + plan.Bc() - 1) / plan.Bc()));
         const RunResult r = count(plan);
         RC_ASSERT(partials_exact(r, S));
         RC_ASSERT(r.hbm == simtest::closed_form(p, plan.desc, true));
         // K, V: what FlashAttention-2 without splits reads (same blocks visited).
         const RunResult f2 = simulate(p, ScheduleKind::flash2, Direction::fwd, 227 * 1024, {plan.Br(), plan.Bc()});
         RC_ASSERT(r.hbm.elems[idx(TensorId::K)].read == f2.hbm.elems[idx(TensorId::K)].read);
         RC_ASSERT(r.work_units == p.batch * p.heads_q * S);
       });

  prop("split-KV counting shortcuts count what a walk over every chunk and tile counts", [] {
    const Problem p = *gen::problem(simtest::sim_limits(60, {DType::f16, DType::f32}));
    const int64_t Bc = *rc::gen::inRange<int64_t>(1, 17);
    const int64_t splits = *rc::gen::inRange<int64_t>(1, 20);
    const Plan plan = make_plan(p, ScheduleKind::splitkv, Direction::fwd, 1 << 30, {p.seqlen_q, Bc, splits});
    const RunResult fast = count(plan), slow = count(plan, true);
    RC_ASSERT(fast.hbm == slow.hbm);
    RC_ASSERT(fast.matmul_flops == slow.matmul_flops);
    RC_ASSERT(fast.other_flops == slow.other_flops);
    RC_ASSERT(fast.hbm == simtest::closed_form(p, plan.desc, true));
  });

  prop("split-KV in float64 passes the accuracy rule (O, LSE) for every number of splits, every mask "
       "and GQA; numeric mode counts what counting mode counts",
       [] {
         gen::ShapeLimits l = simtest::sim_limits(60, {DType::f64});
         l.max_head_dim = 24;
         const gen::Inputs in = *gen::inputs(l);
         const Problem& p = in.problem;
         const int64_t Bc = *rc::gen::inRange<int64_t>(1, 17);
         const int64_t splits = *rc::gen::inRange<int64_t>(1, 12);
         const Plan plan = make_plan(p, ScheduleKind::splitkv, Direction::fwd, 1 << 30, {p.seqlen_q, Bc, splits});
         simtest::check_numeric_forward(in, plan);
       });

  prop("planted: a reduce that reads each partial O_s or LSE_s twice breaks the exact partial traffic", [] {
    const Problem p = decode(false);
    const Plan plan = make_plan(p, ScheduleKind::splitkv, Direction::fwd, 227 * 1024,
                                {0, 0, *rc::gen::inRange<int64_t>(1, 64)});
    const TensorId t = *rc::gen::element(TensorId::Oacc, TensorId::LSEacc);
    RC_ASSERT(partials_exact(count(plan), plan.desc.splits));
    RC_ASSERT(!partials_exact(simtest::count_loading_twice(plan, t), plan.desc.splits));
  });

  prop("splits raise decode's wave utilisation: B x Hq x splits thread blocks on the H100's 132 SMs", [] {
    Problem p = decode(false);
    p.batch = 1;
    p.heads_kv = p.heads_q = *rc::gen::inRange<int64_t>(1, 33);
    p.seqlen_k = 1 << 16;
    const Hardware& hw = find_preset("h100");
    const RunResult one = simulate(p, ScheduleKind::splitkv, Direction::fwd, 227 * 1024, {0, 0, 1});
    const RunResult many = simulate(p, ScheduleKind::splitkv, Direction::fwd, 227 * 1024);
    const int64_t units = p.heads_q * many.desc.splits;
    // The written rule: the smallest S <= 128 with wave efficiency >= 0.85 of the best.
    const auto eff = [&](int64_t s) { return double(p.heads_q * s) / (double((p.heads_q * s + 131) / 132) * 132.0); };
    double best = 0;
    for (int64_t s = 1; s <= 128; ++s) best = std::max(best, eff(s));
    int64_t want = 1;
    while (eff(want) < 0.85 * best) ++want;
    RC_ASSERT(many.desc.splits == want);
    RC_ASSERT(roofline(one, hw).utilisation == Approx(double(p.heads_q) / 132.0));
    RC_ASSERT(roofline(many, hw).utilisation ==
              Approx(double(units) / (double((units + 131) / 132) * 132.0)));
    RC_ASSERT(roofline(many, hw).time_s < roofline(one, hw).time_s);
  });

  prop("split-KV refuses more queries than one Q block holds, and a backward pass", [] {
    Problem p = decode(false);
    p.seqlen_q = *rc::gen::inRange<int64_t>(17, 100);
    RC_ASSERT_THROWS_AS(make_plan(p, ScheduleKind::splitkv, Direction::fwd, 1 << 20, {16, 64, 4}),
                        std::invalid_argument);
    RC_ASSERT_THROWS_AS(make_plan(p, ScheduleKind::splitkv, Direction::bwd, 1 << 20), std::invalid_argument);
  });
}

}  // namespace
}  // namespace flashcheck
