// Soundness of the counts (issue 11, item 5): a count that would leave int64
// is an error, never a wrapped number; the cost of a run does not grow with
// its trip counts (closed forms and classes of alike steps), and those
// shortcuts count exactly what a walk over every step counts.
#include <catch2/catch.hpp>
#include <rapidcheck.h>

#include "cases/generators.hpp"
#include "properties/prop.hpp"
#include "sim/analysis.hpp"
#include "sim/checked.hpp"
#include "sim/simulate.hpp"

namespace flashcheck {
namespace {

using namespace sim;

constexpr ScheduleKind kKinds[] = {ScheduleKind::standard, ScheduleKind::flash1, ScheduleKind::flash2};
constexpr Direction kDirs[] = {Direction::fwd, Direction::bwd};

Problem shape(int64_t b, int64_t h, int64_t nq, int64_t nk, Mask m = Mask::none()) {
  Problem p;
  p.batch = b;
  p.heads_q = p.heads_kv = h;
  p.seqlen_q = nq;
  p.seqlen_k = nk;
  p.head_dim = 64;
  p.mask = m;
  p.dtype = DType::f16;
  return p;
}

rc::Gen<Mask> band_mask() {
  return rc::gen::oneOf(rc::gen::just(Mask::none()), rc::gen::just(Mask::causal_top_left()),
                        rc::gen::just(Mask::causal_bottom_right()),
                        rc::gen::apply([](int64_t l, int64_t r) { return Mask::sliding_window(l, r); },
                                       rc::gen::inRange<int64_t>(0, 700), rc::gen::inRange<int64_t>(0, 300)));
}

TEST_CASE("sim soundness: no count wraps") {
  // The two inputs of the issue that printed "total GB -9223370937".
  for (const Problem& p : {shape(1, 1, int64_t(1) << 31, int64_t(1) << 31),
                           shape(1 << 20, 1 << 20, 1024, 1024)})
    for (ScheduleKind k : kKinds)
      for (Direction d : kDirs) {
        CAPTURE(p.describe(), schedule_name(k), direction_name(d));
        try {
          const RunResult r = simulate(p, k, d, 227 * 1024);
          // A run that answers answers with counts that are at least the compulsory traffic.
          CHECK(r.total_bytes() >= tensor_elems(TensorId::Q, p) * 2);
          CHECK(r.flops() > 0);
        } catch (const OverflowError& e) {
          CHECK(std::string(e.what()).find("overflows int64") != std::string::npos);
        }
      }
  // Each of them overflows in at least one schedule (so the check above ran its error path).
  CHECK_THROWS_AS(simulate(shape(1 << 20, 1 << 20, 1024, 1024), ScheduleKind::standard,
                           Direction::fwd, 227 * 1024), OverflowError);
  CHECK_THROWS_AS(simulate(shape(1, 1, int64_t(1) << 31, int64_t(1) << 31), ScheduleKind::flash2,
                           Direction::fwd, 227 * 1024), OverflowError);
  CHECK_THROWS_AS(checked_mul(int64_t(1) << 32, int64_t(1) << 31, "x"), OverflowError);
  CHECK(checked_mul(int64_t(1) << 31, int64_t(1) << 31, "x") == int64_t(1) << 62);
}

TEST_CASE("sim soundness: huge trip counts answer from closed forms") {
  // Nq = 1, Nk = 2^40 (the 60 s case): flash2 forward reads Q once,
  // K and V once each, writes O and LSE once; Tc = 2^40 / Bc steps backward.
  const int64_t nk = int64_t(1) << 40;
  const Problem p = shape(1, 1, 1, nk);
  const RunResult f = simulate(p, ScheduleKind::flash2, Direction::fwd, 227 * 1024);
  CHECK(f.hbm.elems[idx(TensorId::K)].read == nk * 64);
  CHECK(f.hbm.elems[idx(TensorId::V)].read == nk * 64);
  CHECK(f.hbm.elems[idx(TensorId::Q)].read == 64);
  const RunResult b = simulate(p, ScheduleKind::flash2, Direction::bwd, 227 * 1024);
  const int64_t tc = (nk + b.desc.Bc - 1) / b.desc.Bc;
  CHECK(b.hbm.elems[idx(TensorId::Q)].read == tc * 64);  // Q_i once per KV block
  CHECK(b.hbm.elems[idx(TensorId::dK)].write == nk * 64);
  // N = 2^27 causal, one head: the diagonal's steps grow by one block each and
  // are summed in closed form; flash2 fwd K reads = sum over Q blocks of the
  // rows of the KV blocks they visit.
  const int64_t n = int64_t(1) << 27;
  const RunResult c = simulate(shape(1, 1, n, n, Mask::causal_top_left()), ScheduleKind::flash2,
                               Direction::fwd, 227 * 1024, {128, 64});
  const int64_t tr = n / 128;  // Q block i visits KV blocks [0, 2i + 2)
  CHECK(c.hbm.elems[idx(TensorId::K)].read == 64 * 64 * (tr * (tr + 1)));
  CHECK(visible_pairs(shape(1, 1, n, n, Mask::causal_top_left())) == n * (n + 1) / 2);
}

TEST_CASE("sim soundness: shortcuts equal the walk") {
  prop("visible_pairs (closed form) equals a scan of every row's key range", [] {
    Problem p = shape(1, 1, *rc::gen::inRange<int64_t>(1, 3000), *rc::gen::inRange<int64_t>(1, 3000));
    p.mask = *band_mask();
    int64_t scan = 0;
    for (int64_t q = 0; q < p.seqlen_q; ++q) scan += p.key_range(q).size();
    RC_ASSERT(visible_pairs(p) == scan);
  });

  prop("classes of alike steps (windows slide, causal grows) count exactly what a walk over every "
       "step counts, for blocks that divide each other and blocks that do not",
       [] {
         Problem p = shape(*rc::gen::inRange<int64_t>(1, 3), *rc::gen::inRange<int64_t>(1, 3),
                           *rc::gen::inRange<int64_t>(1, 2500), 1);
         p.seqlen_k = *rc::gen::arbitrary<bool>() ? p.seqlen_q : *rc::gen::inRange<int64_t>(1, 2500);
         p.head_dim = *rc::gen::element<int64_t>(8, 16, 64);
         p.mask = *band_mask();
         const ScheduleKind k = *rc::gen::element(ScheduleKind::standard, ScheduleKind::flash1,
                                                  ScheduleKind::flash2);
         const Direction d = *rc::gen::element(Direction::fwd, Direction::bwd);
         const int64_t br = *rc::gen::element<int64_t>(8, 16, 24, 32, 48, 64, 128);
         const int64_t bc = *rc::gen::element<int64_t>(8, 16, 24, 32, 48, 64, 128);
         const Plan plan = make_plan(p, k, d, int64_t(1) << 30, {br, bc});
         const RunResult fast = count(plan), slow = count(plan, true);
         RC_ASSERT(fast.hbm == slow.hbm);
         RC_ASSERT(fast.matmul_flops == slow.matmul_flops);
         RC_ASSERT(fast.other_flops == slow.other_flops);
       });
}

}  // namespace
}  // namespace flashcheck
