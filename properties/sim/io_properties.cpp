// IO properties that can fail (issue 11, item 6). Every constant here is
// derived in this file from the formulas sim/README.md writes down (block
// rules, closed-form traffic), never read from the code under test, and the
// bounds are tight: real runs sit at >= 0.9 of them, so a 2x regression, a
// 2x smaller block or a tensor loaded twice each fails a property.
#include <catch2/catch.hpp>
#include <rapidcheck.h>

#include <algorithm>
#include <cmath>

#include "cases/generators.hpp"
#include "properties/prop.hpp"
#include "properties/sim/support.hpp"
#include "sim/simulate.hpp"

namespace flashcheck {
namespace {

using namespace sim;

// sim/README.md, "Block rules" (GPU rule of flash2): 3/4 of the 64 K 32-bit
// registers of an SM hold accumulators; blocks are multiples of 16.
constexpr int64_t kRegs = 3 * 65536 * 4 / 4;
int64_t r16(int64_t x) { return x >= 16 ? x / 16 * 16 : x; }

struct Blocks {
  int64_t Br, Bc;
};
// The rules as written (before clamping to the sequence), fp16/bf16: e = 2, acc = 4.
Blocks written_rule(ScheduleKind k, Direction dir, int64_t d, int64_t M) {
  const int64_t e = 2, a = 4;
  if (k == ScheduleKind::flash2 && dir == Direction::fwd)
    return {r16(std::min((M - 2 * 64 * d * e) / (d * e), kRegs / ((d + 64 + 3) * a))), 64};
  if (k == ScheduleKind::flash2)
    return {64, r16(std::min((M - 2 * 64 * d * e - 2 * 64 * a) / (2 * d * e + 64 * e),
                             kRegs / (2 * d * a + 2 * 64 * a)))};
  const int64_t m_el = M / a;  // flash1 (the paper's rule): Bc = floor(M_el / (5d + 4)) or (10d + 3)
  const int64_t bc = m_el / (dir == Direction::fwd ? 5 * d + 4 : 10 * d + 3);
  return {std::min(bc, d), bc};
}

// Closed-form traffic per head, unmasked, Nq = Nk = N (sim/README.md):
// pass * T + compulsory, T the outer trip count (Tr flash2 fwd, else Tc).
struct Form {
  double pass, compulsory;
};
Form written_form(ScheduleKind k, Direction dir, double n, double d) {
  if (k == ScheduleKind::flash2)
    return dir == Direction::fwd ? Form{2 * n * d, 2 * n * d + n} : Form{4 * n * d + 2 * n, 7 * n * d + n};
  return dir == Direction::fwd ? Form{3 * n * d + 4 * n, 3 * n * d + 2 * n} : Form{5 * n * d + 2 * n, 5 * n * d};
}
// The tight bound: T <= N / B + 1 with B the written rule's big block.
double tight_bound(ScheduleKind k, Direction dir, int64_t n, int64_t d, int64_t M) {
  const Blocks b = written_rule(k, dir, d, M);
  const int64_t big = k == ScheduleKind::flash2 && dir == Direction::fwd ? b.Br : b.Bc;
  const Form f = written_form(k, dir, double(n), double(d));
  return f.pass * (double(n) / double(std::min(big, n)) + 1) + f.compulsory;
}
BlockRule rule_of(ScheduleKind k) { return k == ScheduleKind::flash2 ? BlockRule::own : BlockRule::paper; }


TEST_CASE("sim IO: tight bounds that can fail") {
  prop("the block rules are the formulas sim/README.md writes (GPU rule for flash2, paper rule for flash1)",
       [] {
         const int64_t d = *rc::gen::inRange<int64_t>(8, 257);
         const Problem p = simtest::fp16_head(1 << 20, d);
         const ScheduleKind k = *rc::gen::element(ScheduleKind::flash1, ScheduleKind::flash2);
         const Direction dir = *rc::gen::element(Direction::fwd, Direction::bwd);
         const int64_t M = *rc::gen::inRange<int64_t>(48 * 1024, 1024 * 1024);
         const Blocks w = written_rule(k, dir, d, M);
         RC_PRE(w.Br >= 1 && w.Bc >= 1);
         const BlockOverride b = rule_blocks(k, dir, p, M, rule_of(k));
         RC_ASSERT(b.Br == w.Br);
         RC_ASSERT(b.Bc == w.Bc);
       });

  prop("flash traffic <= the tight bound (T <= N/B + 1 in the written closed form) and >= 0.9 of it "
       "once N >= 10 B",
       [] {
         const int64_t d = *rc::gen::element<int64_t>(32, 64, 96, 128);
         const ScheduleKind k = *rc::gen::element(ScheduleKind::flash1, ScheduleKind::flash2);
         const Direction dir = *rc::gen::element(Direction::fwd, Direction::bwd);
         const int64_t M = *rc::gen::inRange<int64_t>(64 * 1024, 256 * 1024);
         const Blocks w = written_rule(k, dir, d, M);
         const int64_t big = k == ScheduleKind::flash2 && dir == Direction::fwd ? w.Br : w.Bc;
         const int64_t n = big * *rc::gen::inRange<int64_t>(10, 40) + *rc::gen::inRange<int64_t>(0, big);
         const Problem p = simtest::fp16_head(n, d);
         const RunResult r = simulate(p, k, dir, M, {}, rule_of(k));
         const double bound = tight_bound(k, dir, n, d, M), got = double(r.total_elems());
         RC_LOG() << "Br x Bc " << r.desc.Br << "x" << r.desc.Bc << " traffic " << got << " bound " << bound
                  << " (" << got / bound << ")\n";
         RC_ASSERT(got <= bound);
         RC_ASSERT(got >= 0.9 * bound);
         // The bound the report prints is this bound (a loosened constant there fails here).
         RC_ASSERT(std::fabs(check_bound(r).bound_elems - bound) <= 1e-9 * bound);
         RC_ASSERT(check_bound(r).holds);
       });

  prop("slopes: flash traffic grows as N^2 (x4 +- 3% when N doubles) and, at a fixed big block, "
       "linearly in d (x2 +- 5% when d doubles); standard grows as N^2 too",
       [] {
         const ScheduleKind k = *rc::gen::element(ScheduleKind::standard, ScheduleKind::flash1, ScheduleKind::flash2);
         const Direction dir = *rc::gen::element(Direction::fwd, Direction::bwd);
         const int64_t n = *rc::gen::element<int64_t>(8192, 12288, 16384);
         const int64_t d = *rc::gen::element<int64_t>(32, 64);
         const BlockOverride b{64, 64};
         const auto traffic = [&](int64_t nn, int64_t dd) {
           return double(simulate(simtest::fp16_head(nn, dd), k, dir, int64_t(1) << 30, b).total_elems());
         };
         const double sn = traffic(2 * n, d) / traffic(n, d);
         RC_LOG() << "N ratio " << sn << "\n";
         RC_ASSERT(std::fabs(sn - 4) <= 0.12);
         if (k == ScheduleKind::standard) return;  // its N^2 term has no d
         const double sd = traffic(n, 2 * d) / traffic(n, d);
         RC_LOG() << "d ratio " << sd << "\n";
         RC_ASSERT(std::fabs(sd - 2) <= 0.1);
       });
}

TEST_CASE("sim IO: separation") {
  // The d 128 backward floors: a sweep of `flashcheck sim` over M (256 B steps to 96 KiB, then
  // 1 KiB) at N 4096 and 8192 finds the least standard / flash2 at 1.237 (the block rule's
  // 64 x 48 tile near M = 72 KiB) below 128 KiB and 2.63 from 128 KiB; the others stay >= 3.67.
  prop("at d in {64, 128}, M in 64-256 KiB, standard moves more than the tight flash2 bound allows "
       "(>= 3x flash2 forward; backward >= 3x at d 64; at d 128 >= 1.2x below M = 128 KiB, where the block "
       "rule's small tiles leave 1.24x, and >= 2.5x from 128 KiB, where FlashAttention-2's own 64 x 128 tile "
       "leaves 2.6x)",
       [] {
         const int64_t d = *rc::gen::element<int64_t>(64, 128);
         const int64_t n = *rc::gen::element<int64_t>(4096, 8192);
         const Direction dir = *rc::gen::element(Direction::fwd, Direction::bwd);
         const int64_t M = *rc::gen::inRange<int64_t>(64 * 1024, 256 * 1024 + 1);
         const Problem p = simtest::fp16_head(n, d);
         const double st = double(simulate(p, ScheduleKind::standard, dir, M).total_elems());
         const double fl = double(simulate(p, ScheduleKind::flash2, dir, M).total_elems());
         RC_LOG() << "standard / flash2 = " << st / fl << "\n";
         RC_ASSERT(st > tight_bound(ScheduleKind::flash2, dir, n, d, M));
         const double floor = dir == Direction::bwd && d == 128 ? (M < 128 * 1024 ? 1.2 : 2.5) : 3.0;
         RC_ASSERT(st >= floor * fl);
       });
}

}  // namespace
}  // namespace flashcheck
