// Forward benchmark (see bench.hpp).
#include "kernels/bench.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "kernels/device_buffer.hpp"
#include "kernels/l2_drain.hpp"
#include "kernels/problem_tensors.hpp"

namespace flashcheck::kernels {

double forward_flops(const Problem& p, const SeqLens& lens) {
  double pairs = static_cast<double>(p.batch) * p.seqlen_q * p.seqlen_k;
  if (p.variants.varlen && lens.q.size() == lens.k.size()) {
    pairs = 0;
    for (size_t b = 0; b < lens.q.size(); ++b) pairs += static_cast<double>(lens.q[b]) * lens.k[b];
  }
  const double f = 4.0 * p.heads_q * pairs * p.head_dim;
  const bool causal =
      p.mask.kind == MaskKind::causal_top_left || p.mask.kind == MaskKind::causal_bottom_right;
  return causal ? f / 2 : f;
}

namespace {
// Destroys the events even when a launch throws.
struct EventPair {
  cudaEvent_t start = nullptr, stop = nullptr;
  EventPair() {
    FC_CUDA(cudaEventCreate(&start));
    FC_CUDA(cudaEventCreate(&stop));
  }
  ~EventPair() {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
  }
};
}  // namespace

Timing time_calls(const BenchOptions& o, const std::function<void()>& f) {
  if (o.repeats < 1) throw std::invalid_argument("time_calls: repeats must be >= 1");
  DeviceBuffer flush(o.flush == L2Flush::write ? std::size_t(256) << 20 : 0);
  std::optional<L2Drain> drain;
  if (o.flush == L2Flush::read) drain.emplace();
  for (int i = 0; i < o.warmup; ++i) f();
  EventPair ev;
  std::vector<float> ms;
  for (int i = 0; i < o.repeats; ++i) {
    if (o.flush == L2Flush::write) FC_CUDA(cudaMemsetAsync(flush.get(), i & 0xFF, flush.bytes()));
    if (drain) drain->run();
    FC_CUDA(cudaEventRecord(ev.start));
    f();
    FC_CUDA(cudaEventRecord(ev.stop));
    if (drain) drain->run();  // writes back what f left dirty, outside its timing
    FC_CUDA(cudaEventSynchronize(ev.stop));
    float t = 0;
    FC_CUDA(cudaEventElapsedTime(&t, ev.start, ev.stop));
    ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  const std::size_t n = ms.size();
  return {n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]), ms.front()};
}

BenchResult bench_forward(const Variant& v, const Problem& p, const BenchOptions& o,
                          const SeqLens& lens) {
  ProblemTensors t(p, false, lens);
  t.fill(1);
  DeviceBuffer work(v.workspace_bytes(p));
  const ForwardArgs a = t.forward_args(work);
  const Timing tm = time_calls(o, [&] { run_forward(v, p, a); });
  BenchResult r;
  r.median_ms = tm.median_ms;
  r.min_ms = tm.min_ms;
  r.tflops = forward_flops(p, lens) / (r.median_ms * 1e-3) / 1e12;
  r.workspace_bytes = work.bytes();
  r.lse_bytes = t.LSE.bytes();
  return r;
}

BackwardBenchResult bench_backward(const Variant& fwd, const Variant& bwd, const Problem& p,
                                   const BenchOptions& o, bool deterministic, const SeqLens& lens) {
  ProblemTensors t(p, true, lens);
  t.fill(1);
  DeviceBuffer fwork(fwd.workspace_bytes(p)), bwork(bwd.workspace_bytes(p));
  const ForwardArgs fa = t.forward_args(fwork);
  const BackwardArgs ba = t.backward_args(bwork, deterministic);
  const Timing f = time_calls(o, [&] { run_forward(fwd, p, fa); });
  const Timing b = time_calls(o, [&] { run_backward(bwd, p, ba); });
  BackwardBenchResult r;
  r.bwd.median_ms = b.median_ms;
  r.bwd.min_ms = b.min_ms;
  r.bwd.tflops = 2.5 * forward_flops(p, lens) / (b.median_ms * 1e-3) / 1e12;
  r.bwd.workspace_bytes = bwork.bytes();
  r.fwd_bwd_ms = f.median_ms + b.median_ms;
  r.fwd_bwd_tflops = 3.5 * forward_flops(p, lens) / (r.fwd_bwd_ms * 1e-3) / 1e12;
  return r;
}

MemoryResult measure_extra_memory(const Variant& v, const Problem& p) {
  ProblemTensors t(p, false);
  t.fill(1);
  t.LSE = DeviceBuffer();  // counted as extra below, with the workspace
  FC_CUDA(cudaDeviceSynchronize());
  std::size_t free_before = 0, free_after = 0, total = 0;
  FC_CUDA(cudaMemGetInfo(&free_before, &total));
  MemoryResult r;
  {
    DeviceBuffer LSE(p.lse_elems() * sizeof(float)), work(v.workspace_bytes(p));
    ForwardArgs a = t.forward_args(work);
    a.LSE = LSE.as<float>();
    run_forward(v, p, a);
    FC_CUDA(cudaDeviceSynchronize());
    FC_CUDA(cudaMemGetInfo(&free_after, &total));
    r.declared_bytes = LSE.bytes() + work.bytes();
  }
  r.measured_bytes = free_before > free_after ? free_before - free_after : 0;
  return r;
}

MemoryResult measure_extra_memory_backward(const Variant& v, const Problem& p) {
  const Variant& f = paired_forward(v);
  ProblemTensors t(p, true);
  t.fill(1);
  {
    DeviceBuffer fw(f.workspace_bytes(p));
    run_forward(f, p, t.forward_args(fw));
    FC_CUDA(cudaDeviceSynchronize());
  }
  std::size_t free_before = 0, free_after = 0, total = 0;
  FC_CUDA(cudaMemGetInfo(&free_before, &total));
  MemoryResult r;
  {
    DeviceBuffer work(v.workspace_bytes(p));
    run_backward(v, p, t.backward_args(work, false));
    FC_CUDA(cudaDeviceSynchronize());
    FC_CUDA(cudaMemGetInfo(&free_after, &total));
    r.declared_bytes = work.bytes();
  }
  r.measured_bytes = free_before > free_after ? free_before - free_after : 0;
  return r;
}

std::string device_description() {
  int dev = 0;
  FC_CUDA(cudaGetDevice(&dev));
  cudaDeviceProp prop{};
  FC_CUDA(cudaGetDeviceProperties(&prop, dev));
  return std::string(prop.name) + " (sm_" + std::to_string(prop.major) +
         std::to_string(prop.minor) + ", " + std::to_string(prop.multiProcessorCount) + " SMs)";
}

}  // namespace flashcheck::kernels
