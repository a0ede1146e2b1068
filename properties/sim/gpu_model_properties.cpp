// The GPU model (sim/gpu_model.cpp) against what must hold whatever the L2
// does: a forward's written bytes are either written back during the kernel
// or still dirty at its end (nothing lost, nothing made up); DRAM reads lie
// between the compulsory traffic and the SM-side reads; a bigger L2 never
// reads more; --l2 0 is the two-level count; the model's cost (class sums)
// does not grow with B x H; the class sums equal a walk over every wave; each
// wave decides reuse on its own footprint, not the average wave's.
#include <catch2/catch.hpp>
#include <rapidcheck.h>

#include <cmath>
#include <numeric>

#include "properties/prop.hpp"
#include "sim/gpu_model.hpp"
#include "sim/hardware.hpp"
#include "sim/simulate.hpp"
#include "sim/variants.hpp"

namespace flashcheck {
namespace {

using namespace sim;

struct Case {
  Problem p;
  const KernelVariant* v = nullptr;
  Hardware hw;
};
Case gen_case(bool forward) {
  Case c;
  c.p.batch = *rc::gen::inRange<int64_t>(1, 9);
  c.p.heads_q = c.p.heads_kv = *rc::gen::inRange<int64_t>(1, 33);
  c.p.seqlen_q = c.p.seqlen_k = *rc::gen::inRange<int64_t>(1, 70000);
  c.p.head_dim = *rc::gen::element<int64_t>(64, 128);
  c.p.dtype = DType::bf16;
  if (*rc::gen::arbitrary<bool>()) c.p.mask = Mask::causal_top_left();
  const char* names[] = {"flash2_fwd", "torch_flash_fwd", "flash2_bwd", "torch_flash_bwd"};
  c.v = &find_kernel_variant(names[*rc::gen::inRange(0, 2) + (forward ? 0 : 2)]);
  c.hw = find_preset("h200");
  c.hw.l2_bytes = *rc::gen::inRange<int64_t>(1, 200) * 1000 * 1000;
  return c;
}
RunResult run(const Case& c) {
  const ScheduleDesc d = c.v->schedule(c.p);
  return simulate(c.p, d.kind, d.direction, c.hw.smem_per_block_bytes, {d.Br, d.Bc, 0, d.warps});
}

// A bf16 problem of B x H heads (query and KV alike) of N x d.
Problem square(int64_t batch, int64_t heads, int64_t n, int64_t d, Mask m = Mask::none()) {
  Problem p;
  p.batch = batch;
  p.heads_q = p.heads_kv = heads;
  p.seqlen_q = p.seqlen_k = n;
  p.head_dim = d;
  p.dtype = DType::bf16;
  p.mask = m;
  return p;
}
// The GPU model of a registered kernel on p, with its tiles and launch.
GpuTraffic kernel_traffic(const KernelVariant& v, const Problem& p, const Hardware& hw) {
  const ScheduleDesc s = v.schedule(p);
  const RunResult r = simulate(p, s.kind, s.direction, hw.smem_per_block_bytes, {s.Br, s.Bc, 0, s.warps});
  return gpu_traffic(r, hw, v.launch_for(p));
}

TEST_CASE("sim GPU model: conservation, bounds and cost") {
  prop("forward: DRAM writes (spills apart) + bytes dirty at the end = the bytes written; compulsory <= DRAM "
       "reads <= SM-side reads; the hit rate is in [0, 1]",
       [] {
         const Case c = gen_case(true);
         const RunResult r = run(c);
         const GpuTraffic g = gpu_traffic(r, c.hw, c.v->launch_for(c.p));
         RC_ASSERT(g.modelled);
         RC_ASSERT(g.dram_write_bytes - g.spill_write_bytes + g.l2_dirty_end_bytes == r.write_bytes());
         RC_ASSERT(g.dram_write_bytes >= g.spill_write_bytes);
         // Q, K, V each once (every key and query is visible somewhere under both masks).
         const int64_t once = c.p.batch * c.p.heads_q * c.p.seqlen_q * c.p.head_dim * 2 * 3;
         RC_ASSERT(g.dram_read_bytes >= once);
         RC_ASSERT(g.dram_read_bytes <= g.sm_read_bytes);
         RC_ASSERT(g.l2_hit_rate >= 0 && g.l2_hit_rate <= 1);
       });

  prop("backward: DRAM writes + dirty bytes cover dK, dV and dQ at least once; DRAM reads at least Q, "
       "K, V, O, dO once",
       [] {
         const Case c = gen_case(false);
         const RunResult r = run(c);
         const GpuTraffic g = gpu_traffic(r, c.hw, c.v->launch_for(c.p));
         const int64_t tensor = c.p.batch * c.p.heads_q * c.p.seqlen_q * c.p.head_dim * 2;
         RC_ASSERT(g.dram_write_bytes + g.l2_dirty_end_bytes >= 3 * tensor);
         RC_ASSERT(g.dram_read_bytes >= 5 * tensor);
         RC_ASSERT(g.l2_reduction_bytes == 4 * r.hbm.elems[idx(TensorId::dQ)].read);
       });

  prop("a bigger L2 never reads more from DRAM; no L2 (--l2 0) is the two-level count", [] {
    const bool fwd = *rc::gen::arbitrary<bool>();
    Case c = gen_case(fwd);
    const RunResult r = run(c);
    const Launch l = c.v->launch_for(c.p);
    const GpuTraffic small = gpu_traffic(r, c.hw, l);
    Hardware big = c.hw;
    big.l2_bytes = c.hw.l2_bytes * *rc::gen::inRange<int64_t>(2, 10);
    RC_ASSERT(gpu_traffic(r, big, l).dram_read_bytes <= small.dram_read_bytes);
    Hardware none = c.hw;
    none.l2_bytes = 0;
    const GpuTraffic off = gpu_traffic(r, none, l);
    RC_ASSERT(!off.modelled);
    RC_ASSERT(off.dram_read_bytes == r.read_bytes());
    RC_ASSERT(off.dram_write_bytes == r.write_bytes());
  });

  prop("the model's cost does not grow with B x H: as many class sums at 1000 x P heads as at P, "
       "P = W / gcd(W, T) the ways a head falls on wave boundaries",
       [] {
         Case c = gen_case(*rc::gen::arbitrary<bool>());
         c.p.heads_kv = c.p.heads_q = 1;
         c.p.batch = 1;
         const RunResult r1 = run(c);
         const Launch l = c.v->launch_for(c.p);
         const GpuTraffic g1 = gpu_traffic(r1, c.hw, l);
         const int64_t W = g1.concurrent_ctas, T = g1.simulated_ctas;
         const int64_t P = W / std::gcd(W, T);
         c.p.batch = P;
         const GpuTraffic gp = gpu_traffic(run(c), c.hw, l);
         c.p.batch = 1000 * P;
         const GpuTraffic gbig = gpu_traffic(run(c), c.hw, l);
         RC_ASSERT(gbig.model_steps == gp.model_steps);
         RC_ASSERT(gbig.simulated_ctas == 1000 * gp.simulated_ctas);
       });
}

}  // namespace
}  // namespace flashcheck

namespace flashcheck {
// Reports judge a measurement against the GPU it ran on: the preset a device name names.
// A case with any band mask, Nq != Nk, and few SMs (many waves per head: long classes).
Case gen_wave_case() {
  Case c = gen_case(*rc::gen::arbitrary<bool>());
  c.p.seqlen_k = *rc::gen::inRange<int64_t>(1, 70000);
  switch (*rc::gen::inRange(0, 4)) {
    case 0: c.p.mask = Mask::none(); break;
    case 1: c.p.mask = Mask::causal_top_left(); break;
    case 2: c.p.mask = Mask::causal_bottom_right(); break;
    default: c.p.mask = Mask::sliding_window(*rc::gen::inRange<int64_t>(0, 5000), *rc::gen::inRange<int64_t>(0, 5000));
  }
  c.hw.sm_count = *rc::gen::element<int64_t>(1, 2, 3, 5, 7, 16, 132);
  if (*rc::gen::arbitrary<bool>()) c.hw.l2_reuse = {};  // LRU's cliff instead of the measured curve
  return c;
}

// Reads with every wave's re-reads hitting (an L2 no footprint exceeds) or missing (one byte).
int64_t reads_with_l2(const RunResult& r, const Case& c, const Launch& l, int64_t l2) {
  Hardware hw = c.hw;
  hw.l2_bytes = l2;
  return gpu_traffic(r, hw, l).dram_read_bytes;
}

// The per-wave decision shows: strictly fewer reads than all-miss, no fewer than all-hit.
bool per_wave(int64_t reads, int64_t all_hit, int64_t all_miss) { return all_hit <= reads && reads < all_miss; }

TEST_CASE("sim GPU model: reuse decided per wave") {
  prop("the class sums equal a walk over every wave (DRAM bytes, fitting waves, mean footprint)", [] {
    const Case c = gen_wave_case();
    const RunResult r = run(c);
    const Launch l = c.v->launch_for(c.p);
    const GpuTraffic g = gpu_traffic(r, c.hw, l), w = gpu_traffic(r, c.hw, l, true);
    // Closed-form sums of affine miss shares against one wave at a time: equal up to rounding.
    const auto near = [](double a, double b) { return std::abs(a - b) <= 1e-9 * std::abs(b) + 2; };
    RC_ASSERT(near(g.dram_read_bytes, w.dram_read_bytes));
    RC_ASSERT(near(g.dram_write_bytes, w.dram_write_bytes));
    RC_ASSERT(std::abs(g.fitting_wave_share - w.fitting_wave_share) <= 1e-12);
    RC_ASSERT(g.reuse == w.reuse);
    RC_ASSERT(std::abs(g.wave_footprint_bytes - w.wave_footprint_bytes) <= 1e-9 * w.wave_footprint_bytes);
  });

  prop("all-hit <= DRAM reads <= all-miss at any L2 (no GQA: whole rows either way)", [] {
    const Case c = gen_wave_case();
    const RunResult r = run(c);
    const Launch l = c.v->launch_for(c.p);
    const int64_t reads = gpu_traffic(r, c.hw, l).dram_read_bytes;
    RC_ASSERT(reads_with_l2(r, c, l, int64_t(1) << 50) <= reads);
    RC_ASSERT(reads <= reads_with_l2(r, c, l, 1));
  });

  SECTION("causal, average wave over L/2, short waves under it: between all-hit and all-miss") {
    // c10's forward (B1 H1 N 65536 d 128 causal, heaviest first: 4 waves of 512 Q blocks, each
    // shorter than the one before) on an L2 whose half the average wave exceeds by 5%.
    Case c;
    c.p.batch = c.p.heads_q = c.p.heads_kv = 1;
    c.p.seqlen_q = c.p.seqlen_k = 65536;
    c.p.head_dim = 128;
    c.p.dtype = DType::bf16;
    c.p.mask = Mask::causal_top_left();
    c.v = &find_kernel_variant("flash2_fwd");
    c.hw = find_preset("h200");
    const RunResult r = run(c);
    const Launch l = c.v->launch_for(c.p);
    const double mean = gpu_traffic(r, c.hw, l).wave_footprint_bytes;
    c.hw.l2_bytes = static_cast<int64_t>(2 * mean / 1.05);
    const GpuTraffic g = gpu_traffic(r, c.hw, l);
    REQUIRE(g.wave_footprint_bytes > g.l2_effective_bytes);
    CHECK(g.fitting_wave_share > 0);
    CHECK(g.fitting_wave_share < 1);
    const int64_t hit = reads_with_l2(r, c, l, int64_t(1) << 50), miss = reads_with_l2(r, c, l, 1);
    CHECK(per_wave(g.dram_read_bytes, hit, miss));
    // Planted bug: the decision reverted to the average wave (over L/2: every re-read misses).
    const int64_t average_rule = g.wave_footprint_bytes <= g.l2_effective_bytes ? hit : miss;
    CHECK_FALSE(per_wave(average_rule, hit, miss));
  }
}

TEST_CASE("sim GPU model: the stack-frame floor is the resident CTAs' frames of the selected instantiation") {
  const KernelVariant& v = find_kernel_variant("torch_flash_fwd");
  const auto floor_of = [&](int64_t batch, int64_t n, Mask m) {
    return kernel_traffic(v, square(batch, 1, n, 64, m), find_preset("h200")).stack_dirty_end_bytes;
  };
  // 264 resident CTAs (132 SMs x 2) of 128 threads; frames 112 B (none), 136 B (causal), 88 B and
  // 208 B where the 128 x 128 tile does not divide N (reports/fidelity/torch_sass).
  CHECK(floor_of(1, 65536, Mask::none()) == 264 * 128 * 112);
  CHECK(floor_of(1, 65536, Mask::causal_top_left()) == 264 * 128 * 136);
  CHECK(floor_of(1, 65536 - 1, Mask::none()) == 264 * 128 * 88);
  CHECK(floor_of(1, 65536 - 1, Mask::causal_top_left()) == 264 * 128 * 208);
  // Fewer CTAs than slots: only those (8 Q blocks); a window mask's instantiation is not read off.
  CHECK(floor_of(1, 1024, Mask::none()) == 8 * 128 * 112);
  CHECK(floor_of(1, 65536, Mask::sliding_window(100, 0)) == 0);
  // Many heads: still one frame per slot, not per CTA.
  CHECK(floor_of(64, 4096, Mask::none()) == 264 * 128 * 112);
}

TEST_CASE("sim GPU model: spills, a slot's later CTAs writing back their cold frame part") {
  prop("0 <= spill write-backs <= (CTAs - W) x the cold part, none without one; a bigger L2 writes back no more", [] {
    Case c = gen_case(true);
    if (*rc::gen::arbitrary<bool>()) {  // PyTorch's forward on whole tiles: a cold part read off
      c.v = &find_kernel_variant("torch_flash_fwd");
      c.p.seqlen_q = c.p.seqlen_k = 128 * ((c.p.seqlen_q + 127) / 128);
    }
    const RunResult r = run(c);
    const Launch l = c.v->launch_for(c.p);
    const GpuTraffic g = gpu_traffic(r, c.hw, l);
    RC_ASSERT(g.spill_share >= 0 && g.spill_share <= 1);
    RC_ASSERT(g.spill_write_bytes >= 0);
    RC_ASSERT(g.spill_write_bytes <= std::max<int64_t>(0, g.simulated_ctas - g.concurrent_ctas) * l.cold_stack_bytes_per_cta + 1);
    if (l.cold_stack_bytes_per_cta == 0) RC_ASSERT(g.spill_write_bytes == 0);
    Hardware big = c.hw;
    big.l2_bytes = c.hw.l2_bytes * *rc::gen::inRange<int64_t>(2, 10);
    RC_ASSERT(gpu_traffic(r, big, l).spill_write_bytes <= g.spill_write_bytes);
  });
  const KernelVariant& v = find_kernel_variant("torch_flash_fwd");
  const auto traffic = [&](int64_t batch, int64_t heads, int64_t n, int64_t d, Mask m, const Hardware& hw) {
    return kernel_traffic(v, square(batch, heads, n, d, m), hw);
  };
  const Hardware h200 = find_preset("h200");
  // The cold parts read off the SASS (reports/fidelity/spillstudy/s24): 88 / 104 B (d 64), 76 / 72 B (d 128).
  const auto cold = [&](int64_t n, int64_t d, Mask m) { return v.launch_for(square(1, 1, n, d, m)).cold_stack_bytes_per_cta; };
  CHECK(cold(4096, 64, Mask::none()) == 128 * 88);
  CHECK(cold(4096, 64, Mask::causal_top_left()) == 128 * 104);
  CHECK(cold(4096, 128, Mask::none()) == 128 * 76);
  CHECK(cold(4096, 128, Mask::causal_top_left()) == 128 * 72);
  CHECK(cold(4095, 64, Mask::none()) == 0);  // uneven tiles: not read off
  // CTAs all alike and one a head (B33 H16 N128: 2 waves of 264 heads): each CTA's lifetime sees a
  // wave's worth, so the share is the curve at the wave's footprint plus half the resident frames.
  const GpuTraffic alike = traffic(33, 16, 128, 64, Mask::none(), h200);
  const double y = (alike.wave_footprint_bytes + 0.5 * 264 * 128 * 112) / (h200.l2_bytes / 2.0);
  CHECK(alike.spill_share == Approx(h200.spill_aging.miss(y)).epsilon(1e-9));
  CHECK(alike.spill_write_bytes == std::llround((528 - 264) * 128 * 88 * alike.spill_share));
  // LRU's cliff: a tiny L2 writes every later CTA's cold part back, a huge one none.
  Hardware cliff = h200;
  cliff.spill_aging = {};
  cliff.l2_bytes = 1000 * 1000;
  CHECK(traffic(16, 16, 1024, 64, Mask::none(), cliff).spill_write_bytes == (2048 - 264) * 128 * 88);
  cliff.l2_bytes = int64_t(1) << 40;
  CHECK(traffic(16, 16, 1024, 64, Mask::none(), cliff).spill_write_bytes == 0);
  CHECK(alike.spill_share > 0);
  // Heaviest first or not, a causal head's long Q blocks live through more of the kernel than an
  // average wave: their share is above the one the average wave's footprint gives.
  const GpuTraffic causal = traffic(2, 8, 32768, 64, Mask::causal_top_left(), h200);
  CHECK(causal.spill_share > h200.spill_aging.miss((causal.wave_footprint_bytes + 0.5 * 264 * 128 * 136) / (h200.l2_bytes / 2.0)));
  // Bounded cost: a head of 2^19 Q blocks is sampled, not walked.
  CHECK(traffic(1, 1, int64_t(1) << 26, 64, Mask::causal_top_left(), h200).spill_share > 0);
}

TEST_CASE("sim GPU model: flashcheck's dQaccum memset leaves its last L/2 of zeros dirty for the backward") {
  const auto memset_dirty = [](const char* variant, int64_t batch, int64_t n, int64_t l2) {
    Hardware hw = find_preset("h200");
    hw.l2_bytes = l2;
    return kernel_traffic(find_kernel_variant(variant), square(batch, 16, n, 64), hw).memset_dirty_bytes;
  };
  // dQaccum is float32: rows x d x 4 B, here 16 x 1024 x 64 x 4 = 4 MiB, all of it under L/2;
  // 16 x 16384 x 64 x 4 = 64 MiB, of which L/2 (the H200's 60 MiB / 2) stays dirty.
  CHECK(memset_dirty("flash2_bwd", 1, 1024, 62914560) == 16 * 1024 * 64 * 4);
  CHECK(memset_dirty("flash2_bwd", 1, 16384, 62914560) == 62914560 / 2);
  CHECK(memset_dirty("flash2_bwd", 1, 16384, 8000000) == 4000000);
  // PyTorch zeroes dQaccum in its D kernel (counted there), and a forward has no dQaccum.
  CHECK(memset_dirty("torch_flash_bwd", 1, 16384, 62914560) == 0);
  CHECK(memset_dirty("flash2_fwd", 1, 16384, 62914560) == 0);
}

TEST_CASE("sim GPU model: a backward's continued heads overlap the wave before when T <= W") {
  prop("overlap never reads more than synchronous waves, and changes nothing where it does not apply", [] {
    const Case c = gen_case(false);
    const RunResult r = run(c);
    Launch sync = c.v->launch_for(c.p);
    sync.continued_heads_overlap = false;
    const GpuTraffic on = gpu_traffic(r, c.hw, c.v->launch_for(c.p)), off = gpu_traffic(r, c.hw, sync);
    RC_ASSERT(on.dram_read_bytes <= off.dram_read_bytes);
    if (c.p.mask.kind == MaskKind::none) RC_ASSERT(on.dram_read_bytes == off.dram_read_bytes);  // CTAs alike
  });
  const Hardware h200 = find_preset("h200");
  Hardware huge = h200;
  huge.l2_bytes = int64_t(1) << 40;
  const KernelVariant& v = find_kernel_variant("flash2_bwd");
  const auto reads = [&](const Problem& p, const Hardware& hw, bool overlap) {
    const ScheduleDesc s = v.schedule(p);
    const RunResult r = simulate(p, s.kind, s.direction, hw.smem_per_block_bytes, {s.Br, s.Bc, 0, s.warps});
    Launch l = v.launch_for(p);
    l.continued_heads_overlap = overlap;
    return gpu_traffic(r, hw, l).dram_read_bytes;
  };
  // c04 (B1 H16 N16384 d 128 causal; T = 256 KV blocks <= W = 264): every re-read hits, as measured
  // (0.675 GB; all-hit 0.673 GB); with synchronous waves most of them missed (0.851 GB).
  const Problem c04 = square(1, 16, 16384, 128, Mask::causal_top_left());
  CHECK(reads(c04, h200, true) == reads(c04, huge, true));
  CHECK(reads(c04, h200, false) > 1.2 * reads(c04, huge, true));
  // Alike CTAs (no mask) and heads longer than a wave (c10: one head, T = 1024) are left as they were.
  const Problem c02 = square(1, 16, 16384, 128), c10 = square(1, 1, 65536, 128, Mask::causal_top_left());
  CHECK(reads(c02, h200, true) == reads(c02, h200, false));
  CHECK(reads(c02, h200, true) > 1.2 * reads(c02, huge, true));
  CHECK(reads(c10, h200, true) == reads(c10, h200, false));
}

TEST_CASE("sim L2 reuse curve: LRU's cliff without knots, the presets' curves monotone in [0, 1]") {
  const L2Reuse cliff;
  CHECK(cliff.miss(1.0) == 0);
  CHECK(cliff.miss(1.0 + 1e-12) == 1);
  for (const Hardware& h : hardware_presets()) {
    INFO(h.name);
    const auto& k = h.l2_reuse.knots;
    for (size_t i = 0; i < k.size(); ++i) {
      CHECK(k[i].miss >= 0);
      CHECK(k[i].miss <= 1);
      if (i > 0) CHECK(k[i].x >= k[i - 1].x);
      if (i > 0) CHECK(k[i].miss >= k[i - 1].miss);
    }
    double last = 0;  // a bigger L2 (smaller x) never misses more
    for (double x = 0.5; x < 1.5; x += 0.001) {
      CHECK(h.l2_reuse.miss(x) >= last);
      last = h.l2_reuse.miss(x);
    }
    CHECK(h.l2_reuse.miss(0.5) == 0);
    CHECK(h.l2_reuse.miss(1.5) == 1);
  }
  // Between knots the curve is the line through them (H200: 0.217 at 1.00, 0.986 at 1.10).
  CHECK(find_preset("h200").l2_reuse.miss(1.05) == Approx((0.217 + 0.986) / 2));
  CHECK(find_preset("a100").l2_reuse.knots.empty());
}

TEST_CASE("sim presets: a measured device's name picks its own preset") {
  CHECK(sim::preset_of_device("NVIDIA H200 (sm_90, 132 SMs)").name == "H200");
  CHECK(sim::preset_of_device("NVIDIA H100 80GB HBM3").name == "H100");
  CHECK(sim::preset_of_device("nvidia a100-sxm4-40gb").name == "A100");
  CHECK(sim::preset_of_device("NVIDIA H200").hbm_bytes_per_s == sim::find_preset("h200").hbm_bytes_per_s);
  // A name inside another word is no match; an unknown GPU is a clear error, never a default.
  CHECK_THROWS_WITH(sim::preset_of_device("NVIDIA GH2000"), Catch::Contains("no hardware preset"));
  CHECK_THROWS_WITH(sim::preset_of_device("NVIDIA L40S"), Catch::Contains("NVIDIA L40S"));
}
}  // namespace flashcheck
