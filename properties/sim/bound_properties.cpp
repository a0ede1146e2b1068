// Properties that tie the simulated traffic to the theory (shared/ANCHORS.md):
// FlashAttention's Theta(N^2 d^2 / M) with the constants of sim/README.md, its
// log-log slope of -1 in M, monotonicity in M, the causal saving, and what
// the flash1 block rule does to the Q-outer flash2 forward.
#include <catch2/catch.hpp>
#include <rapidcheck.h>

#include <cmath>

#include "cases/generators.hpp"
#include "properties/prop.hpp"
#include "properties/sim/support.hpp"
#include "sim/simulate.hpp"

namespace flashcheck {
namespace {

using namespace sim;

const std::vector<DType> kAllDtypes = {DType::f16, DType::bf16, DType::f32, DType::f64};

rc::Gen<ScheduleKind> flash_kind() { return rc::gen::element(ScheduleKind::flash1, ScheduleKind::flash2); }

// The loop whose trip count multiplies the pass traffic: Tr for the Q-outer
// flash2 forward, Tc for the KV-outer rest.
int64_t passes(const RunResult& r) {
  const Problem& p = r.problem;
  return r.desc.kind == ScheduleKind::flash2 && r.desc.direction == Direction::fwd
             ? (p.seqlen_q + r.desc.Br - 1) / r.desc.Br
             : (p.seqlen_k + r.desc.Bc - 1) / r.desc.Bc;
}

// M (bytes) at which the rule's big block is exactly `big` rows.
int64_t sram_for_big_block(ScheduleKind k, Direction d, const Problem& p, int64_t big) {
  return simtest::min_rule_sram(k, d, p.head_dim, p.dtype) * big;
}

TEST_CASE("sim bounds: FlashAttention is Theta(N^2 d^2 / M)") {
  prop("paper rule: flash traffic <= C N^2 d^2 / M + C' N d elements (sim/README.md constants) for every M in range",
       [] {
         const Problem p = *gen::problem(simtest::sim_limits(1024, kAllDtypes));
         const ScheduleKind k = *flash_kind();
         const Direction d = *simtest::direction();
         // From the rule's minimum up to 16 N d elements; big blocks of >= 4 rows keep it fast.
         const int64_t lo = sram_for_big_block(k, d, p, std::min<int64_t>(4, p.seqlen_q));
         const int64_t hi = std::max(lo + 1, 16 * std::max(p.seqlen_q, p.seqlen_k) * p.head_dim * acc_bytes(p.dtype));
         const int64_t M = *rc::gen::inRange<int64_t>(lo, hi);
         const RunResult r = simulate(p, k, d, M, {}, BlockRule::paper);
         const BoundCheck b = check_bound(r);
         RC_LOG() << b.text << " total=" << r.total_elems() << "\n";
         RC_ASSERT(b.holds);
       });

  prop("over a sweep of M, log(traffic) against log(M) has slope in [-1.1, -0.9] while the "
       "pass count is >= 32 (before the single-pass floor)",
       [] {
         Problem p;
         p.seqlen_q = p.seqlen_k = *rc::gen::element<int64_t>(4096, 6000, 8192);
         p.head_dim = *rc::gen::inRange<int64_t>(8, 129);
         p.dtype = *gen::dtype(kAllDtypes);
         p.mask = *rc::gen::element(Mask::none(), Mask::causal_top_left());
         const ScheduleKind k = *flash_kind();
         const Direction d = *simtest::direction();
         std::vector<double> xs, ys;
         for (int64_t big = 16; big <= p.seqlen_q; big *= 2) {
           const int64_t M = sram_for_big_block(k, d, p, big);
           const RunResult r = simulate(p, k, d, M, {}, BlockRule::paper);
           if (passes(r) < 32) break;
           xs.push_back(std::log(static_cast<double>(M)));
           ys.push_back(std::log(static_cast<double>(r.total_elems())));
         }
         RC_ASSERT(xs.size() >= 3);
         double mx = 0, my = 0;
         for (size_t n = 0; n < xs.size(); ++n) mx += xs[n] / xs.size(), my += ys[n] / ys.size();
         double sxy = 0, sxx = 0;
         for (size_t n = 0; n < xs.size(); ++n) sxy += (xs[n] - mx) * (ys[n] - my), sxx += (xs[n] - mx) * (xs[n] - mx);
         const double slope = sxy / sxx;
         RC_LOG() << "slope " << slope << " over " << xs.size() << " sizes\n";
         RC_ASSERT(slope >= -1.1);
         RC_ASSERT(slope <= -0.9);
       });

  prop("more SRAM never increases flash traffic under the default rules (no mask)", [] {
    Problem p = *gen::problem(simtest::sim_limits(1024, kAllDtypes));
    p.mask = Mask::none();
    const ScheduleKind k = *flash_kind();
    const Direction d = *simtest::direction();
    const int64_t lo = sram_for_big_block(k, d, p, 4);
    const int64_t M1 = *rc::gen::inRange<int64_t>(lo, 64 * lo);
    const int64_t M2 = M1 + *rc::gen::inRange<int64_t>(0, 64 * lo);
    RC_ASSERT(simulate(p, k, d, M2, {}, BlockRule::paper).total_elems() <=
              simulate(p, k, d, M1, {}, BlockRule::paper).total_elems());
  });

  prop("causal flash traffic <= half the non-causal traffic + half its compulsory part + one block "
       "row per outer block: a (N + T (Br + Bc))",
       [] {
         Problem p;
         p.seqlen_q = p.seqlen_k = *rc::gen::inRange<int64_t>(1, 3000);
         p.head_dim = *rc::gen::inRange<int64_t>(1, 129);
         p.dtype = *gen::dtype(kAllDtypes);
         const ScheduleKind k = *flash_kind();
         const Direction d = *simtest::direction();
         const int64_t M = sram_for_big_block(k, d, p, *rc::gen::inRange<int64_t>(4, 300));
         const RunResult nc = simulate(p, k, d, M, {}, BlockRule::paper);
         p.mask = *rc::gen::element(Mask::causal_top_left(), Mask::causal_bottom_right());
         const RunResult c = simulate(p, k, d, M, {}, BlockRule::paper);
         const int64_t N = p.seqlen_q, hd = p.head_dim;
         // Per pass and row of the inner block (a), and the pass-independent traffic (sim/README.md).
         int64_t a = 0, compulsory = 0;
         const bool f2 = k == ScheduleKind::flash2, fwd = d == Direction::fwd;
         if (f2 && fwd) a = 2 * hd, compulsory = 2 * N * hd + N;
         if (!f2 && fwd) a = 3 * hd + 4, compulsory = 3 * N * hd + 2 * N;
         if (!f2 && !fwd) a = 5 * hd + 2, compulsory = 5 * N * hd;
         if (f2 && !fwd) a = 4 * hd + 2, compulsory = 7 * N * hd + N;
         const double bound = 0.5 * static_cast<double>(nc.total_elems()) + 0.5 * static_cast<double>(compulsory) +
                              static_cast<double>(a * (N + passes(nc) * (nc.desc.Br + nc.desc.Bc)));
         RC_LOG() << "causal " << c.total_elems() << " non-causal " << nc.total_elems() << " bound " << bound << "\n";
         RC_ASSERT(static_cast<double>(c.total_elems()) <= bound);
       });

  prop("flash2 forward with the flash1 rule (Br = min(Bc, d)) keeps >= 2 N^2 K/V elements per head "
       "however large M is: Theta(N^2), not Theta(N^2 d^2 / M); its own rule goes below",
       [] {
         Problem p;
         p.seqlen_q = p.seqlen_k = *rc::gen::inRange<int64_t>(64, 4097);
         p.head_dim = *rc::gen::inRange<int64_t>(1, 65);
         p.dtype = *gen::dtype(kAllDtypes);
         // M large enough that the own rule's Br is >= 4 d (and at least 2 blocks of rows fit).
         const int64_t M = sram_for_big_block(ScheduleKind::flash2, Direction::fwd, p,
                                              4 * p.head_dim * *rc::gen::inRange<int64_t>(1, 9));
         const RunResult f1rule = simulate(p, ScheduleKind::flash2, Direction::fwd, M, {}, BlockRule::flash1);
         const RunResult f1rule_4M = simulate(p, ScheduleKind::flash2, Direction::fwd, 4 * M, {}, BlockRule::flash1);
         const RunResult own = simulate(p, ScheduleKind::flash2, Direction::fwd, M, {}, BlockRule::paper);
         const int64_t N = p.seqlen_q;
         const int64_t kv = f1rule.hbm.elems[idx(TensorId::K)].read + f1rule.hbm.elems[idx(TensorId::V)].read;
         RC_ASSERT(f1rule.desc.Br <= p.head_dim);
         RC_ASSERT(kv >= 2 * N * N);
         RC_ASSERT(f1rule_4M.total_elems() == f1rule.total_elems());  // more SRAM buys nothing
         if (own.desc.Br < N) RC_ASSERT(own.total_elems() < f1rule.total_elems());
       });
}

}  // namespace
}  // namespace flashcheck
