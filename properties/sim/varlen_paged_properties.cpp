// Varlen batches and paged KV in the simulator (sim/varlen.hpp,
// sim/paging.hpp). Varlen: equal lengths pack to exactly the padded count,
// the packed flash2 forward is the sum of sim/README.md's per-sequence closed
// form, and packing never moves more than padding. Paged KV: the K/V and
// block-table reads equal an element-wise scan, written here, of the sectors
// or pages every visited tile touches; every other tensor is unchanged; a
// tile loaded twice is caught.
#include <catch2/catch.hpp>
#include <rapidcheck.h>

#include <set>

#include "cases/generators.hpp"
#include "properties/prop.hpp"
#include "properties/sim/closed_form.hpp"
#include "properties/sim/planted.hpp"
#include "properties/sim/support.hpp"
#include "sim/simulate.hpp"
#include "sim/varlen.hpp"

namespace flashcheck {
namespace {

using namespace sim;

std::vector<int64_t> lengths(int64_t n, int64_t max_len) {
  return *rc::gen::container<std::vector<int64_t>>(static_cast<size_t>(n), rc::gen::inRange<int64_t>(1, max_len + 1));
}
Problem heads_only() {
  Problem p;
  p.heads_kv = *rc::gen::inRange<int64_t>(1, 4);
  p.heads_q = p.heads_kv * *rc::gen::inRange<int64_t>(1, 3);
  p.head_dim = *rc::gen::element<int64_t>(32, 64, 128);
  p.dtype = *rc::gen::element(DType::f16, DType::bf16);
  return p;
}

TEST_CASE("sim varlen batches") {
  prop("a batch of equal lengths packs to exactly the padded count (every schedule and direction)", [] {
    const Problem p = heads_only();
    const ScheduleKind k = *rc::gen::element(ScheduleKind::standard, ScheduleKind::flash1, ScheduleKind::flash2);
    const Direction d = *simtest::direction();
    const int64_t n = *rc::gen::inRange<int64_t>(1, 9), len = *rc::gen::inRange<int64_t>(1, 5000);
    const VarlenRun v = simulate_varlen(p, std::vector<int64_t>(size_t(n), len), {}, k, d, 227 * 1024);
    RC_ASSERT(v.packed.hbm == v.padded.hbm);
    RC_ASSERT(v.packed.flops() == v.padded.flops());
    RC_ASSERT(v.packed.smem_read_bytes == v.padded.smem_read_bytes);
    RC_ASSERT(v.packed.smem_write_bytes == v.padded.smem_write_bytes);
    RC_ASSERT(v.packed.exps == v.padded.exps);
  });

  prop("a packed batch's shared-memory bytes and exponentials are its sequences' summed", [] {
    const Problem p = heads_only();
    const Direction d = *simtest::direction();
    const std::vector<int64_t> ls = lengths(*rc::gen::inRange<int64_t>(1, 6), 3000);
    const VarlenRun v = simulate_varlen(p, ls, {}, ScheduleKind::flash2, d, 227 * 1024);
    int64_t rd = 0, wr = 0, ex = 0;
    for (int64_t l : ls) {
      Problem one = p;
      one.seqlen_q = one.seqlen_k = l;
      const RunResult r = simulate(one, ScheduleKind::flash2, d, 227 * 1024, {v.padded.desc.Br, v.padded.desc.Bc});
      rd += r.smem_read_bytes, wr += r.smem_write_bytes, ex += r.exps;
    }
    RC_ASSERT(v.packed.smem_read_bytes == rd);
    RC_ASSERT(v.packed.smem_write_bytes == wr);
    RC_ASSERT(v.packed.exps == ex);
  });

  prop("the packed flash2 forward is the per-sequence closed form summed (sim/README.md: "
       "2Ld + L + 2 ceil(L/Br) L d per query head, Br the padded plan's), and never above padding",
       [] {
         Problem p = heads_only();
         p.heads_q = p.heads_kv;  // the closed form counts K/V per query head
         const std::vector<int64_t> ls = lengths(*rc::gen::inRange<int64_t>(1, 40), 20000);
         const VarlenRun v = simulate_varlen(p, ls, {}, ScheduleKind::flash2, Direction::fwd, 227 * 1024);
         const int64_t Br = v.padded.desc.Br, d = p.head_dim;
         int64_t want = 0;
         for (int64_t L : ls) {
           const int64_t br = std::min(Br, L);
           want += p.heads_q * (2 * L * d + L + 2 * ((L + br - 1) / br) * L * d);
         }
         RC_ASSERT(v.packed.total_elems() == want);
         RC_ASSERT(v.packed.total_bytes() <= v.padded.total_bytes());
       });

  prop("varlen refuses an empty list, a zero length and lists of different sizes", [] {
    const Problem p = heads_only();
    RC_ASSERT_THROWS_AS(simulate_varlen(p, {}, {}, ScheduleKind::flash2, Direction::fwd, 1 << 20), std::invalid_argument);
    RC_ASSERT_THROWS_AS(simulate_varlen(p, {5, 0}, {}, ScheduleKind::flash2, Direction::fwd, 1 << 20), std::invalid_argument);
    RC_ASSERT_THROWS_AS(simulate_varlen(p, {5, 6}, {5}, ScheduleKind::flash2, Direction::fwd, 1 << 20), std::invalid_argument);
  });
}

// Sectors (32 B) or whole pages a tile of KV rows [r0, r0 + nr) touches, by a
// scan over its rows' bytes: pages hold P rows of `row` bytes from a sector boundary.
struct Touch {
  int64_t elems, pages;
};
Touch scan_tile(int64_t r0, int64_t nr, int64_t P, bool whole_pages, int64_t d, int64_t e) {
  std::set<int64_t> pages;
  std::set<std::pair<int64_t, int64_t>> sectors;
  for (int64_t r = r0; r < r0 + nr; ++r) {
    pages.insert(r / P);
    for (int64_t byte = (r % P) * d * e; byte < (r % P + 1) * d * e; ++byte) sectors.insert({r / P, byte / 32});
  }
  const int64_t n_pages = static_cast<int64_t>(pages.size());
  const int64_t page_sectors = (P * d * e + 31) / 32;  // a whole page, from its sector-aligned start
  return whole_pages ? Touch{n_pages * page_sectors * (32 / e), n_pages}
                     : Touch{static_cast<int64_t>(sectors.size()) * (32 / e), n_pages};
}

TEST_CASE("sim paged KV") {
  prop("paged K/V reads and block-table reads equal a scan of the sectors / pages each visited tile touches "
       "(flash2 fwd and splitkv, every mask, GQA); every other tensor is the unpaged closed form",
       [] {
         Problem p = *gen::problem(simtest::sim_limits(90, {DType::f16, DType::f32}));
         p.head_dim = *rc::gen::element<int64_t>(1, 3, 8, 16, 24, 64);
         const bool split = *rc::gen::arbitrary<bool>();
         const int64_t Bc = *rc::gen::element<int64_t>(1, 4, 8, 16);
         const int64_t P = *rc::gen::element<int64_t>(1, 2, 4, 8, 16, 32, 64);
         RC_PRE(Bc % P == 0 || P % Bc == 0);
         const bool whole = *rc::gen::arbitrary<bool>();
         const ScheduleKind k = split ? ScheduleKind::splitkv : ScheduleKind::flash2;
         const int64_t Br = split ? p.seqlen_q : *rc::gen::inRange<int64_t>(1, 17);
         const Plan base = make_plan(p, k, Direction::fwd, 1 << 30, {Br, Bc, split ? *rc::gen::inRange<int64_t>(1, 9) : 0});
         const Paging pg{P, whole ? Paging::Read::page : Paging::Read::sector};
         // Several tiles per page read by sector: alike only if a tile is whole sectors (else refused).
         const int64_t e = dtype_bytes(p.dtype);
         if (base.Bc() < p.seqlen_k && !whole && base.Bc() % P != 0 && base.Bc() * p.head_dim * e % 32 != 0) {
           RC_ASSERT_THROWS_AS(with_paging(base, pg), std::invalid_argument);
           return;
         }
         const Plan plan = with_paging(base, pg);
         const RunResult r = count(plan), slow = count(plan, true);
         RC_ASSERT(r.hbm == slow.hbm);
         // The scan: every visited tile (i, j) loads K_j and V_j once per query head.
         const simtest::TileSums ts = simtest::tile_sums(p, plan.Br(), plan.Bc());
         int64_t kv = 0, pt = 0;
         for (int64_t i = 0; i < ts.Tr; ++i)
           for (int64_t j = 0; j < ts.Tc; ++j) {
             bool any = false;
             for (int64_t q = i * plan.Br(); q < std::min((i + 1) * plan.Br(), p.seqlen_q) && !any; ++q)
               for (int64_t c = j * plan.Bc(); c < std::min((j + 1) * plan.Bc(), p.seqlen_k) && !any; ++c)
                 any = p.visible(q, c);
             if (!any) continue;
             const Touch t = scan_tile(j * plan.Bc(), std::min(plan.Bc(), p.seqlen_k - j * plan.Bc()), P, whole, p.head_dim, e);
             kv += t.elems;
             pt += t.pages;
           }
         const int64_t H = p.batch * p.heads_q;
         RC_ASSERT(r.hbm.elems[idx(TensorId::K)].read == H * kv);
         RC_ASSERT(r.hbm.elems[idx(TensorId::V)].read == H * kv);
         RC_ASSERT(r.hbm.elems[idx(TensorId::PT)].read == H * pt);
         HbmCounters rest = r.hbm, want = simtest::closed_form(p, plan.desc, true);
         for (TensorId t : {TensorId::K, TensorId::V, TensorId::PT}) rest.elems[idx(t)] = want.elems[idx(t)] = {};
         RC_ASSERT(rest == want);
         // A tile loaded twice is caught by the same scan.
         const RunResult bad = simtest::count_loading_twice(plan, TensorId::V);
         RC_ASSERT(bad.hbm.elems[idx(TensorId::V)].read != H * kv || kv == 0);
       });

  prop("rows of d e bytes that fill whole sectors cost nothing when paged by sector: K/V bytes equal the "
       "contiguous layout's, the block table adds 4 B per page per tile",
       [] {
         Problem p;
         p.seqlen_q = 1;
         p.seqlen_k = *rc::gen::inRange<int64_t>(1, 1 << 20);
         p.heads_q = p.heads_kv = *rc::gen::inRange<int64_t>(1, 9);
         p.head_dim = *rc::gen::element<int64_t>(16, 64, 128);
         p.dtype = DType::f16;
         const int64_t P = *rc::gen::element<int64_t>(1, 16, 64, 256, 1024);
         const Plan base = make_plan(p, ScheduleKind::flash2, Direction::fwd, 227 * 1024);
         const RunResult flat = count(base), paged = count(with_paging(base, {P, Paging::Read::sector}));
         RC_ASSERT(paged.read_bytes(TensorId::K) == flat.read_bytes(TensorId::K));
         const int64_t Tc = (p.seqlen_k + base.Bc() - 1) / base.Bc(), last = p.seqlen_k - (Tc - 1) * base.Bc();
         const int64_t per_tile = (base.Bc() + P - 1) / P;  // Bc and P nest: tiles start on a page or inside one
         RC_ASSERT(paged.hbm.elems[idx(TensorId::PT)].read ==
                   p.heads_q * ((Tc - 1) * per_tile + (last + P - 1) / P));
       });

  prop("paging refuses page sizes that do not nest with Bc, and schedules other than flash2 fwd / splitkv", [] {
    const Problem p = simtest::fp16_head(*rc::gen::inRange<int64_t>(200, 5000), 64);
    const Plan f2 = make_plan(p, ScheduleKind::flash2, Direction::fwd, 1 << 30, {64, 64});
    RC_ASSERT_THROWS_AS(with_paging(f2, {48, Paging::Read::sector}), std::invalid_argument);
    const Plan sq = make_plan(p, ScheduleKind::square, Direction::fwd, 1 << 14);
    RC_ASSERT_THROWS_AS(with_paging(sq, {16, Paging::Read::sector}), std::invalid_argument);
    const Plan bwd = make_plan(p, ScheduleKind::flash2, Direction::bwd, 1 << 30, {64, 64});
    RC_ASSERT_THROWS_AS(with_paging(bwd, {16, Paging::Read::sector}), std::invalid_argument);
  });
}

}  // namespace
}  // namespace flashcheck
