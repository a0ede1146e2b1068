// Saha & Ye's square tiling (sim/schedules/square.hpp): its counts equal the
// closed form sim/README.md writes, its traffic sits within a tight bound
// derived here from that formula and the written block rule
// B = floor(sqrt(M_el / 4)) (nothing read from the code), it beats
// FlashAttention-2 (paper rule) where M < d^2 and loses where M >> d^2, its
// numeric mode passes the accuracy rule, and a tile loaded twice is caught.
#include <catch2/catch.hpp>
#include <rapidcheck.h>

#include <cmath>

#include "cases/generators.hpp"
#include "properties/prop.hpp"
#include "properties/sim/closed_form.hpp"
#include "properties/sim/planted.hpp"
#include "properties/sim/support.hpp"
#include "properties/sim/numeric_check.hpp"
#include "sim/simulate.hpp"

namespace flashcheck {
namespace {

using namespace sim;

// The written rule: B = floor(sqrt(M_el / 4)), M_el = M / 4 (fp16 / bf16: float32 on chip).
int64_t written_block(int64_t M) {
  int64_t b = 0;
  while ((b + 1) * (b + 1) <= M / 4 / 4) ++b;
  return b;
}
// sim/README.md, "square", unmasked, Nq = Nk = N, per head, with Tr = Tc <= N / B + 1
// and Td = ceil(d / B) head-dim chunks: 3 N d T + (2 + Td) N^2 + N + Td N + N d.
double written_bound(int64_t n, int64_t d, int64_t B) {
  const double N = double(n), T = N / double(std::min(B, n)) + 1;
  const double td = double((d + std::min(B, d) - 1) / std::min(B, d));
  return 3 * N * double(d) * T + (2 + td) * N * N + N + td * N + N * double(d);
}
// The property's check: the run's total within [0.9, 1] of the written bound.
bool within_tight_bound(const RunResult& r, double bound) {
  const double got = double(r.total_elems());
  return got <= bound && got >= 0.9 * bound;
}

TEST_CASE("sim square tiling (Saha-Ye)") {
  prop("the square tiling's counts equal its closed form for every mask, GQA and block size", [] {
    const Problem p = *gen::problem(simtest::sim_limits(70, {DType::f16, DType::f32, DType::f64}));
    const int64_t M = *rc::gen::inRange<int64_t>(64, 64 * 1024);
    const Plan plan = make_plan(p, ScheduleKind::square, Direction::fwd, M);
    const RunResult r = count(plan), slow = count(plan, true);
    RC_ASSERT(r.hbm == simtest::closed_form(p, plan.desc, true));
    RC_ASSERT(slow.hbm == r.hbm);
    RC_ASSERT(slow.matmul_flops == r.matmul_flops);
    RC_ASSERT(slow.other_flops == r.other_flops);
    RC_ASSERT(r.sram_peak_bytes <= M);
  });

  prop("square traffic <= the tight bound written from its closed form, and >= 0.9 of it once N >= 10 B "
       "(the printed bound is the same)",
       [] {
         const int64_t d = *rc::gen::element<int64_t>(64, 128, 256);
         const int64_t M = *rc::gen::inRange<int64_t>(1024, 64 * 1024);
         const int64_t B = written_block(M);
         const int64_t n = B * *rc::gen::inRange<int64_t>(10, 40) + *rc::gen::inRange<int64_t>(0, B);
         const RunResult r = simulate(simtest::fp16_head(n, d), ScheduleKind::square, Direction::fwd, M);
         RC_ASSERT(r.desc.Br == std::min(B, n));
         const double bound = written_bound(n, d, B);
         RC_LOG() << "B " << B << " traffic " << r.total_elems() << " bound " << bound << "\n";
         RC_ASSERT(within_tight_bound(r, bound));
         RC_ASSERT(std::fabs(check_bound(r).bound_elems - bound) <= 1e-9 * bound);
       });

  prop("the square tiling beats FlashAttention-2 (paper rule) for M_el <= d^2 / 4 and loses to it "
       "for M_el >= 4 d^2 (the terms N^2 d / sqrt(M) and N^2 d^2 / M cross at M = d^2)",
       [] {
         const int64_t d = *rc::gen::element<int64_t>(64, 128, 256);
         const int64_t n = *rc::gen::element<int64_t>(2048, 4096, 8192);
         const bool small = *rc::gen::arbitrary<bool>();
         // M_el = M / 4 elements (fp16: float32 on chip).
         const int64_t m_el = small ? *rc::gen::inRange<int64_t>(d * d / 64, d * d / 4 + 1)
                                    : *rc::gen::inRange<int64_t>(4 * d * d, 16 * d * d + 1);
         RC_PRE(m_el >= 5 * d + 4);  // flash2's paper rule needs one row
         const Problem p = simtest::fp16_head(n, d);
         const double sq = double(simulate(p, ScheduleKind::square, Direction::fwd, 4 * m_el).total_elems());
         const double fl = double(
             simulate(p, ScheduleKind::flash2, Direction::fwd, 4 * m_el, {}, BlockRule::paper).total_elems());
         RC_LOG() << "M_el / d^2 = " << double(m_el) / double(d * d) << ", square / flash2 = " << sq / fl << "\n";
         if (small) RC_ASSERT(sq < fl);
         else RC_ASSERT(sq > fl);
       });

  prop("planted: a square tiling that loads each Q, K, S or V tile twice fails the closed form and "
       "the tight bound",
       [] {
         const int64_t d = *rc::gen::element<int64_t>(64, 128, 256);
         const int64_t M = *rc::gen::inRange<int64_t>(1024, 64 * 1024);
         const int64_t B = written_block(M);
         const int64_t n = B * *rc::gen::inRange<int64_t>(10, 40);
         const Problem p = simtest::fp16_head(n, d);
         const Plan plan = make_plan(p, ScheduleKind::square, Direction::fwd, M);
         const TensorId t = *rc::gen::element(TensorId::Q, TensorId::K, TensorId::S, TensorId::V);
         const RunResult bad = simtest::count_loading_twice(plan, t);
         RC_ASSERT(!(bad.hbm == simtest::closed_form(p, plan.desc, true)));
         RC_ASSERT(!within_tight_bound(bad, written_bound(n, d, B)));
         RC_ASSERT(within_tight_bound(count(plan), written_bound(n, d, B)));  // the real schedule passes
       });

  prop("the square tiling in float64 passes the accuracy rule (O, LSE) and numeric mode counts what "
       "counting mode counts",
       [] {
         gen::ShapeLimits l = simtest::sim_limits(48, {DType::f64});
         l.max_head_dim = 40;
         const gen::Inputs in = *gen::inputs(l);
         const Problem& p = in.problem;
         const int64_t M = *rc::gen::inRange<int64_t>(32, 4096);
         const Plan plan = make_plan(p, ScheduleKind::square, Direction::fwd, M);
         RC_TAG(plan.desc.Bd < p.head_dim ? "head dim chunked" : "one chunk");
         simtest::check_numeric_forward(in, plan);
       });

  prop("the square schedule has no backward pass: a clear error", [] {
    const Problem p = simtest::fp16_head(*rc::gen::inRange<int64_t>(1, 100), 64);
    RC_ASSERT_THROWS_AS(make_plan(p, ScheduleKind::square, Direction::bwd, 1 << 16), std::invalid_argument);
  });
}

}  // namespace
}  // namespace flashcheck
