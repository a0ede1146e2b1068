// Properties of the SRAM model and the capacity check: the high-water mark
// never exceeds M, an over-sized configuration fails before counting with a
// message naming its buffers, and the allocator agrees with a trivial model.
#include <catch2/catch.hpp>
#include <rapidcheck.h>

#include <map>

#include "cases/generators.hpp"
#include "properties/prop.hpp"
#include "properties/sim/support.hpp"
#include "sim/simulate.hpp"

namespace flashcheck {
namespace {

using namespace sim;

const std::vector<DType> kAllDtypes = {DType::f16, DType::bf16, DType::f32, DType::f64};

int64_t largest_kernel(const Plan& plan) {
  int64_t m = 0;
  for (const KernelPlan& k : plan.kernels) m = std::max(m, k.bytes());
  return m;
}

TEST_CASE("sim SRAM: capacity") {
  prop("the SRAM high-water mark is the largest kernel's declared buffers and never exceeds M", [] {
    const Problem p = *gen::problem(simtest::sim_limits(70, kAllDtypes));
    const simtest::RunConfig c = *simtest::run_config(p);
    const Plan plan = simtest::plan_of(p, c);
    const RunResult r = count(plan);
    RC_ASSERT(r.sram_peak_bytes <= c.sram_bytes);
    RC_ASSERT(r.sram_peak_bytes == largest_kernel(plan));
  });

  prop("the paper's block rules fill at least a quarter of M's worth of rows: the big block is "
       "Theta(M / d)",
       [] {
         const Problem p = *gen::problem(simtest::sim_limits(4096, kAllDtypes));
         const ScheduleKind k = *rc::gen::element(ScheduleKind::flash1, ScheduleKind::flash2);
         const Direction d = *simtest::direction();
         const int64_t M = simtest::min_rule_sram(k, d, p.head_dim, p.dtype) *
                           *rc::gen::inRange<int64_t>(1, 200);
         const BlockOverride b = rule_blocks(k, d, p, M, BlockRule::paper);
         const int64_t big = (k == ScheduleKind::flash2 && d == Direction::fwd) ? b.Br : b.Bc;
         const int64_t m_el = sram_elems(M, p.dtype);
         RC_ASSERT(big >= 1);
         RC_ASSERT(big * 13 * p.head_dim + big * 4 >= m_el / 2);  // big >= M_el / (2 (13 d + 4))
         RC_ASSERT(big * (5 * p.head_dim) <= m_el);               // and never past M_el / 5d
       });

  prop("a configuration whose buffers exceed M fails before counting, naming every buffer and "
       "its size (standard may instead stream its softmax rows and fit)",
       [] {
         const Problem p = *gen::problem(simtest::sim_limits(70, kAllDtypes));
         const ScheduleKind k = *simtest::schedule_kind();
         const Direction d = *simtest::direction();
         const BlockOverride b{*rc::gen::inRange<int64_t>(1, 40), *rc::gen::inRange<int64_t>(1, 40)};
         const Plan roomy = make_plan(p, k, d, int64_t(1) << 40, b);
         const int64_t need = largest_kernel(roomy);
         const int64_t M = *rc::gen::inRange<int64_t>(1, need);  // one byte short or worse
         try {
           const Plan fits = make_plan(p, k, d, M, b);
           // Only the standard schedule adapts to M (its softmax streams a row
           // that does not fit); what it plans then fits.
           RC_ASSERT(k == ScheduleKind::standard);
           RC_ASSERT(largest_kernel(fits) <= M);
           RC_ASSERT(!fits.row_resident);
         } catch (const CapacityError& e) {
           const std::string msg = e.what();
           const KernelPlan& kp = e.kernel();
           RC_ASSERT(kp.bytes() > M);
           RC_ASSERT(msg.find("M = " + std::to_string(M) + " B") != std::string::npos);
           RC_ASSERT(msg.find("'" + kp.kernel + "' needs " + std::to_string(kp.bytes()) + " B") != std::string::npos);
           for (const BufferSpec& buf : kp.buffers)
             RC_ASSERT(msg.find(buf.name + " " + std::to_string(buf.rows) + "x" +
                                std::to_string(buf.cols) + "x" + std::to_string(buf.elem_bytes) +
                                "B = " + std::to_string(buf.bytes()) + " B") != std::string::npos);
           // Flash kernels do not depend on M: the first one over M is the one named.
           if (k != ScheduleKind::standard)
             for (const KernelPlan& want : roomy.kernels)
               if (want.bytes() > M) {
                 RC_ASSERT(want.kernel == kp.kernel);
                 break;
               }
         }
       });

  prop("an SRAM too small for any tile is an invalid_argument that names the size", [] {
    const Problem p = *gen::problem(simtest::sim_limits(70, kAllDtypes));
    const ScheduleKind k = *rc::gen::element(ScheduleKind::flash1, ScheduleKind::flash2);
    const Direction d = *simtest::direction();
    const int64_t M = *rc::gen::inRange<int64_t>(1, simtest::min_rule_sram(k, d, p.head_dim, p.dtype));
    try {
      make_plan(p, k, d, M, {}, BlockRule::paper);
      RC_FAIL("accepted an SRAM below the rule's minimum");
    } catch (const std::invalid_argument& e) {
      RC_ASSERT(std::string(e.what()).find(std::to_string(M) + " B") != std::string::npos);
    }
  });
}

TEST_CASE("sim SRAM: the GPU rule's minimum") {
  prop("flash2's GPU rule rejects an M below one row of each staged tile (3 d e forward: Q, K, V; "
       "4 d e + e + 2 acc backward: Q, dO, K, V, dS, LSE, D), naming the size",
       [] {
         const Problem p = *gen::problem(simtest::sim_limits(70, kAllDtypes));
         const Direction d = *simtest::direction();
         const int64_t e = dtype_bytes(p.dtype), hd = p.head_dim;
         const int64_t need = d == Direction::fwd ? 3 * hd * e : 4 * hd * e + e + 2 * acc_bytes(p.dtype);
         const int64_t M = *rc::gen::inRange<int64_t>(1, need);
         try {
           make_plan(p, ScheduleKind::flash2, d, M);
           RC_FAIL("accepted an SRAM below one row of each staged tile");
         } catch (const std::invalid_argument& e) {
           RC_ASSERT(std::string(e.what()).find(std::to_string(M) + " B") != std::string::npos);
         }
         RC_ASSERT(make_plan(p, ScheduleKind::flash2, d, need).Br() >= 1);
       });
}

TEST_CASE("sim SRAM: allocator") {
  prop("the SRAM allocator agrees with a trivial model over random alloc/free sequences", [] {
    const int64_t capacity = *rc::gen::inRange<int64_t>(1, 1 << 16);
    const auto ops = *rc::gen::container<std::vector<std::pair<bool, int64_t>>>(
        rc::gen::pair(rc::gen::arbitrary<bool>(), rc::gen::inRange<int64_t>(0, 1 << 14)));
    Sram sram(capacity);
    std::map<int, int64_t> live;  // the model: handle -> bytes
    int64_t peak = 0;
    for (const auto& [is_alloc, n] : ops) {
      int64_t used = 0;
      for (const auto& kv : live) used += kv.second;
      if (is_alloc || live.empty()) {
        if (used + n > capacity) {
          RC_ASSERT_THROWS_AS(sram.alloc("buf", n), std::logic_error);
          continue;
        }
        live[sram.alloc("buf", n)] = n;
        peak = std::max(peak, used + n);
      } else {
        auto it = std::next(live.begin(), static_cast<long>(static_cast<uint64_t>(n) % live.size()));
        sram.free(it->first);
        live.erase(it);
      }
      int64_t now = 0;
      for (const auto& kv : live) now += kv.second;
      RC_ASSERT(sram.in_use() == now);
      RC_ASSERT(sram.peak() == peak);
      RC_ASSERT(sram.peak() <= capacity);
    }
  });
}

}  // namespace
}  // namespace flashcheck
