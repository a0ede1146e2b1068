// Forward timing of one variant on one problem, the FlashAttention benchmark
// way: device events around each launch after warm-up, the median of the
// repeats, L2 cleared before each timed launch (by default a 256 MiB memset,
// more than any current L2; l2_flush_mode.hpp), FLOPs by the FlashAttention
// convention.
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "kernels/l2_flush_mode.hpp"
#include "kernels/problem_tensors.hpp"
#include "kernels/registry.hpp"

namespace flashcheck::kernels {

struct BenchOptions {
  int warmup = 3;
  int repeats = 10;
  L2Flush flush = L2Flush::write;
};

struct BenchResult {
  double median_ms = 0;
  double min_ms = 0;
  double tflops = 0;             // forward_flops / median time
  std::size_t workspace_bytes = 0;  // the variant's intermediates
  std::size_t lse_bytes = 0;        // float32 LSE, produced by every variant
};

// The one timing rule (benchmark, sanitizer driver's bench, tuners):
// o.warmup untimed calls of f, then o.repeats calls each between two device
// events, L2 cleared before each as o.flush says (L2Flush::read also drains
// it after each call, outside the events); the median (the mean of the
// middle two for an even count) and the minimum, in milliseconds.
struct Timing {
  double median_ms = 0;
  double min_ms = 0;
};
Timing time_calls(const BenchOptions& o, const std::function<void()>& f);

// 4 * B * heads_q * seqlen_q * seqlen_k * d, halved for the causal masks
// (the FlashAttention benchmarks' convention; they use seqlen_q == seqlen_k).
// Varlen (lens given): the sum over the sequences of 4 heads_q nq nk d,
// halved when causal.
double forward_flops(const Problem& p, const SeqLens& lens = {});

// Allocates Q, K, V (uniform [-1, 1)), O, LSE and the workspace, then times.
// lens: the sequence lengths of a varlen problem (ProblemTensors).
BenchResult bench_forward(const Variant& v, const Problem& p, const BenchOptions& o,
                          const SeqLens& lens = {});

// Backward timing (same method) of a bwd variant: Q, K, V, dO uniform, O and
// LSE from `fwd` run once. tflops uses 2.5 x forward_flops (the convention);
// fwd_bwd_* add the forward's median.
struct BackwardBenchResult {
  BenchResult bwd;
  double fwd_bwd_ms = 0;
  double fwd_bwd_tflops = 0;  // 3.5 x forward_flops / (fwd + bwd median)
};
BackwardBenchResult bench_backward(const Variant& fwd, const Variant& bwd, const Problem& p,
                                   const BenchOptions& o, bool deterministic, const SeqLens& lens = {});

// Extra device memory of one forward beyond Q, K, V and O: the declared
// workspace + LSE, and what the device's free memory actually dropped by
// across allocating them and running once (library workspaces included,
// rounded to the allocator's granularity).
struct MemoryResult {
  std::size_t declared_bytes = 0;
  std::size_t measured_bytes = 0;
};
MemoryResult measure_extra_memory(const Variant& v, const Problem& p);
// The same for one backward beyond Q, K, V, O, dO, LSE, dQ, dK and dV.
MemoryResult measure_extra_memory_backward(const Variant& bwd, const Problem& p);

// "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)".
std::string device_description();

}  // namespace flashcheck::kernels
