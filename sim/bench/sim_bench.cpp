// Speed of the simulator (issue 3, "Speed"):
//  - counting mode, flash2 forward + backward, seqlen 131072, head dim 128
//    (target: under 1 s on one core);
//  - numeric mode in float64 against the float64 reference, seqlen 2048,
//    head dim 64, forward + backward (target: within 3x of the reference).
// Run: build-*/sim/flashcheck_sim_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <random>

#include "reference/attention.hpp"
#include "sim/gpu_model.hpp"
#include "sim/hardware.hpp"
#include "sim/variants.hpp"
#include "sim/simulate.hpp"

namespace {

using namespace flashcheck;
using namespace flashcheck::sim;

Problem problem(int64_t n, int64_t d) {
  Problem p;
  p.seqlen_q = p.seqlen_k = n;
  p.head_dim = d;
  p.dtype = DType::f16;
  return p;
}

// state.range(0): SRAM bytes; state.range(1): 1 = walk every tile (no
// symmetry shortcuts, counting.hpp), 0 = the default counting mode.
void BM_CountingFlash2FwdBwd_131072_d128(benchmark::State& state) {
  const Problem p = problem(131072, 128);
  const int64_t M = state.range(0);
  const bool every_tile = state.range(1) != 0;
  const Plan fwd = make_plan(p, ScheduleKind::flash2, Direction::fwd, M);
  const Plan bwd = make_plan(p, ScheduleKind::flash2, Direction::bwd, M);
  state.SetLabel(every_tile ? "every tile" : "shortcuts");
  int64_t bytes = 0;
  for (auto _ : state) {
    bytes = count(fwd, every_tile).total_bytes() + count(bwd, every_tile).total_bytes();
    benchmark::DoNotOptimize(bytes);
  }
  state.counters["hbm_GB"] = static_cast<double>(bytes) / 1e9;
  state.counters["tile_steps"] = static_cast<double>(
      ((p.seqlen_q + fwd.Br() - 1) / fwd.Br()) * ((p.seqlen_k + fwd.Bc() - 1) / fwd.Bc()) +
      ((p.seqlen_q + bwd.Br() - 1) / bwd.Br()) * ((p.seqlen_k + bwd.Bc() - 1) / bwd.Bc()));
}
BENCHMARK(BM_CountingFlash2FwdBwd_131072_d128)
    ->Args({163 * 1024, 0})  // A100 preset M
    ->Args({227 * 1024, 0})  // H100 preset M
    ->Args({163 * 1024, 1})
    ->Args({227 * 1024, 1})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

struct Data {
  Problem p;
  Tensor4<double> Q, K, V, dO;
  ForwardResult ref;
};

const Data& data_2048() {
  static const Data data = [] {
    Data x;
    x.p = problem(2048, 64);
    x.Q = Tensor4<double>(q_shape(x.p));
    x.K = Tensor4<double>(kv_shape(x.p));
    x.V = Tensor4<double>(kv_shape(x.p));
    x.dO = Tensor4<double>(q_shape(x.p));
    std::mt19937_64 rng(1);
    std::normal_distribution<double> normal;
    for (Tensor4<double>* t : {&x.Q, &x.K, &x.V, &x.dO})
      for (double& v : t->values()) v = normal(rng);
    x.ref = reference_forward(x.p, x.Q, x.K, x.V);
    return x;
  }();
  return data;
}

void BM_ReferenceF64FwdBwd_2048_d64(benchmark::State& state) {
  const Data& x = data_2048();
  for (auto _ : state) {
    const ForwardResult f = reference_forward(x.p, x.Q, x.K, x.V);
    const Gradients g = reference_backward(x.p, x.Q, x.K, x.V, f.O, f.LSE, x.dO);
    benchmark::DoNotOptimize(g.dQ.data());
  }
}
BENCHMARK(BM_ReferenceF64FwdBwd_2048_d64)->Unit(benchmark::kMillisecond)->Iterations(3);

// state.range(0): schedule (0 standard, 1 flash1, 2 flash2); M = H100 preset.
void BM_NumericF64FwdBwd_2048_d64(benchmark::State& state) {
  const Data& x = data_2048();
  const auto kind = static_cast<ScheduleKind>(state.range(0));
  const int64_t M = find_preset("h100").smem_per_block_bytes;
  const Plan fwd = make_plan(x.p, kind, Direction::fwd, M);
  const Plan bwd = make_plan(x.p, kind, Direction::bwd, M);
  state.SetLabel(schedule_name(kind));
  for (auto _ : state) {
    const NumericForward f = numeric_forward(fwd, Precision::f64, x.Q, x.K, x.V);
    const NumericBackward g = numeric_backward(bwd, Precision::f64, x.Q, x.K, x.V, f, x.dO);
    benchmark::DoNotOptimize(g.dQ.data());
  }
}
BENCHMARK(BM_NumericF64FwdBwd_2048_d64)
    ->Arg(0)->Arg(1)->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

}  // namespace

// The GPU model per configuration (count + gpu_traffic) with a kernel's
// geometry (sim/variants.cpp), H200, d 128: state.range(0) = seqlen, (1) =
// B x H, (2) = causal, (3) = variant index (flash2_fwd, flash2_bwd,
// torch_flash_fwd, torch_flash_bwd). Counters: the CTAs the main kernel
// launches (what a cycle simulator would walk) and the class sums the model
// evaluates (its cost), to show the cost does not grow with B x H.
void BM_GpuModel(benchmark::State& state) {
  Problem p = problem(state.range(0), 128);
  p.batch = state.range(1);
  p.heads_q = p.heads_kv = 1;
  p.dtype = DType::bf16;
  if (state.range(2)) p.mask = Mask::causal_top_left();
  const KernelVariant& v = kernel_variants().at(static_cast<size_t>(state.range(3)));
  const ScheduleDesc desc = v.schedule(p);
  const Hardware& hw = find_preset("h200");
  GpuTraffic g;
  for (auto _ : state) {
    const RunResult r = simulate(p, desc.kind, desc.direction, hw.smem_per_block_bytes,
                                 {desc.Br, desc.Bc, 0, desc.warps});
    g = gpu_traffic(r, hw, v.launch_for(p));
    benchmark::DoNotOptimize(g.dram_read_bytes);
  }
  state.SetLabel(v.name + (state.range(2) ? " causal" : " none"));
  state.counters["BxH"] = static_cast<double>(state.range(1));
  state.counters["simulated_ctas"] = static_cast<double>(g.simulated_ctas);
  state.counters["model_steps"] = static_cast<double>(g.model_steps);
  state.counters["dram_read_GB"] = static_cast<double>(g.dram_read_bytes) / 1e9;
}
void gpu_model_args(benchmark::internal::Benchmark* b) {
  for (int64_t variant = 0; variant < 4; ++variant)
    for (int64_t causal = 0; causal < 2; ++causal)
      for (int64_t bh : {int64_t(1), int64_t(16), int64_t(256), int64_t(4096), int64_t(1) << 20})
        b->Args({16384, bh, causal, variant});
  b->Args({int64_t(1) << 24, 1, 1, 1});  // N = 2^24 causal backward
}
BENCHMARK(BM_GpuModel)->Apply(gpu_model_args)->Unit(benchmark::kMicrosecond);

// Trip counts that once took a minute (issue 11): Nq = 1, Nk = 2^40; N = 2^27 causal.
void BM_HugeTripCounts(benchmark::State& state) {
  Problem p = problem(1, 64);
  if (state.range(0) == 0) {
    p.seqlen_k = int64_t(1) << 40;
  } else {
    p.seqlen_q = p.seqlen_k = int64_t(1) << 27;
    p.mask = Mask::causal_top_left();
  }
  for (auto _ : state) {
    const int64_t b = simulate(p, ScheduleKind::flash2, Direction::fwd, 227 * 1024).total_bytes() +
                      simulate(p, ScheduleKind::flash2, Direction::bwd, 227 * 1024).total_bytes();
    benchmark::DoNotOptimize(b);
  }
}
BENCHMARK(BM_HugeTripCounts)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
