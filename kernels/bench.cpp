// Forward benchmark (see bench.hpp).
#include "kernels/bench.hpp"

#include <algorithm>
#include <utility>

#include "kernels/device_buffer.hpp"
#include "kernels/fill.hpp"

namespace flashcheck::kernels {

double forward_flops(const Problem& p) {
  const double f = 4.0 * p.batch * p.heads_q * static_cast<double>(p.seqlen_q) * p.seqlen_k *
                   p.head_dim;
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

BenchResult bench_forward(const Variant& v, const Problem& p, const BenchOptions& o) {
  const std::size_t elem = dtype_bytes(p.dtype);
  DeviceBuffer Q(p.q_elems() * elem), K(p.kv_elems() * elem), V(p.kv_elems() * elem);
  DeviceBuffer O(p.q_elems() * elem), LSE(p.lse_elems() * sizeof(float));
  DeviceBuffer work(v.workspace_bytes(p));
  DeviceBuffer flush(o.flush_l2 ? std::size_t(256) << 20 : 0);
  fill_uniform(Q.get(), p.q_elems(), p.dtype, 1, -1.f, 1.f);
  fill_uniform(K.get(), p.kv_elems(), p.dtype, 2, -1.f, 1.f);
  fill_uniform(V.get(), p.kv_elems(), p.dtype, 3, -1.f, 1.f);
  ForwardArgs a{Q.get(), K.get(), V.get(), O.get(), LSE.as<float>(), work.get(), work.bytes(),
                nullptr};

  for (int i = 0; i < o.warmup; ++i) run_forward(v, p, a);
  EventPair ev;
  std::vector<float> ms;
  for (int i = 0; i < o.repeats; ++i) {
    if (o.flush_l2) FC_CUDA(cudaMemsetAsync(flush.get(), i & 0xFF, flush.bytes()));
    FC_CUDA(cudaEventRecord(ev.start));
    run_forward(v, p, a);
    FC_CUDA(cudaEventRecord(ev.stop));
    FC_CUDA(cudaEventSynchronize(ev.stop));
    float t = 0;
    FC_CUDA(cudaEventElapsedTime(&t, ev.start, ev.stop));
    ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  BenchResult r;
  r.median_ms = ms.size() % 2 ? ms[ms.size() / 2] : 0.5 * (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]);
  r.min_ms = ms.front();
  r.tflops = forward_flops(p) / (r.median_ms * 1e-3) / 1e12;
  r.workspace_bytes = work.bytes();
  r.lse_bytes = LSE.bytes();
  return r;
}

namespace {
// Median of `repeats` event-timed calls of f after `warmup` untimed ones.
template <class F>
std::pair<double, double> time_median(const BenchOptions& o, const DeviceBuffer& flush, F f) {
  for (int i = 0; i < o.warmup; ++i) f();
  EventPair ev;
  std::vector<float> ms;
  for (int i = 0; i < o.repeats; ++i) {
    if (o.flush_l2) FC_CUDA(cudaMemsetAsync(flush.get(), i & 0xFF, flush.bytes()));
    FC_CUDA(cudaEventRecord(ev.start));
    f();
    FC_CUDA(cudaEventRecord(ev.stop));
    FC_CUDA(cudaEventSynchronize(ev.stop));
    float t = 0;
    FC_CUDA(cudaEventElapsedTime(&t, ev.start, ev.stop));
    ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  const double med =
      ms.size() % 2 ? ms[ms.size() / 2] : 0.5 * (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]);
  return {med, ms.front()};
}
}  // namespace

BackwardBenchResult bench_backward(const Variant& fwd, const Variant& bwd, const Problem& p,
                                   const BenchOptions& o, bool deterministic) {
  const std::size_t elem = dtype_bytes(p.dtype);
  DeviceBuffer Q(p.q_elems() * elem), K(p.kv_elems() * elem), V(p.kv_elems() * elem);
  DeviceBuffer O(p.q_elems() * elem), dO(p.q_elems() * elem), LSE(p.lse_elems() * sizeof(float));
  DeviceBuffer dQ(p.q_elems() * elem), dK(p.kv_elems() * elem), dV(p.kv_elems() * elem);
  DeviceBuffer fwork(fwd.workspace_bytes(p)), bwork(bwd.workspace_bytes(p));
  DeviceBuffer flush(o.flush_l2 ? std::size_t(256) << 20 : 0);
  fill_uniform(Q.get(), p.q_elems(), p.dtype, 1, -1.f, 1.f);
  fill_uniform(K.get(), p.kv_elems(), p.dtype, 2, -1.f, 1.f);
  fill_uniform(V.get(), p.kv_elems(), p.dtype, 3, -1.f, 1.f);
  fill_uniform(dO.get(), p.q_elems(), p.dtype, 4, -1.f, 1.f);
  const ForwardArgs fa{Q.get(), K.get(), V.get(), O.get(), LSE.as<float>(), fwork.get(),
                       fwork.bytes(), nullptr};
  BackwardArgs ba;
  ba.Q = Q.get(); ba.K = K.get(); ba.V = V.get(); ba.O = O.get(); ba.dO = dO.get();
  ba.LSE = LSE.as<float>(); ba.dQ = dQ.get(); ba.dK = dK.get(); ba.dV = dV.get();
  ba.workspace = bwork.get(); ba.workspace_bytes = bwork.bytes(); ba.deterministic = deterministic;
  const auto f = time_median(o, flush, [&] { run_forward(fwd, p, fa); });
  const auto b = time_median(o, flush, [&] { run_backward(bwd, p, ba); });
  BackwardBenchResult r;
  r.bwd.median_ms = b.first;
  r.bwd.min_ms = b.second;
  r.bwd.tflops = 2.5 * forward_flops(p) / (b.first * 1e-3) / 1e12;
  r.bwd.workspace_bytes = bwork.bytes();
  r.fwd_bwd_ms = f.first + b.first;
  r.fwd_bwd_tflops = 3.5 * forward_flops(p) / (r.fwd_bwd_ms * 1e-3) / 1e12;
  return r;
}

MemoryResult measure_extra_memory(const Variant& v, const Problem& p) {
  const std::size_t elem = dtype_bytes(p.dtype);
  DeviceBuffer Q(p.q_elems() * elem), K(p.kv_elems() * elem), V(p.kv_elems() * elem);
  DeviceBuffer O(p.q_elems() * elem);
  fill_uniform(Q.get(), p.q_elems(), p.dtype, 1, -1.f, 1.f);
  fill_uniform(K.get(), p.kv_elems(), p.dtype, 2, -1.f, 1.f);
  fill_uniform(V.get(), p.kv_elems(), p.dtype, 3, -1.f, 1.f);
  FC_CUDA(cudaDeviceSynchronize());
  std::size_t free_before = 0, free_after = 0, total = 0;
  FC_CUDA(cudaMemGetInfo(&free_before, &total));
  MemoryResult r;
  {
    DeviceBuffer LSE(p.lse_elems() * sizeof(float)), work(v.workspace_bytes(p));
    run_forward(v, p, {Q.get(), K.get(), V.get(), O.get(), LSE.as<float>(), work.get(),
                       work.bytes(), nullptr});
    FC_CUDA(cudaDeviceSynchronize());
    FC_CUDA(cudaMemGetInfo(&free_after, &total));
    r.declared_bytes = LSE.bytes() + work.bytes();
  }
  r.measured_bytes = free_before > free_after ? free_before - free_after : 0;
  return r;
}

MemoryResult measure_extra_memory_backward(const Variant& v, const Problem& p) {
  const Variant& f = paired_forward(v);
  const std::size_t elem = dtype_bytes(p.dtype);
  DeviceBuffer Q(p.q_elems() * elem), K(p.kv_elems() * elem), V(p.kv_elems() * elem);
  DeviceBuffer O(p.q_elems() * elem), dO(p.q_elems() * elem), LSE(p.lse_elems() * sizeof(float));
  DeviceBuffer dQ(p.q_elems() * elem), dK(p.kv_elems() * elem), dV(p.kv_elems() * elem);
  fill_uniform(Q.get(), p.q_elems(), p.dtype, 1, -1.f, 1.f);
  fill_uniform(K.get(), p.kv_elems(), p.dtype, 2, -1.f, 1.f);
  fill_uniform(V.get(), p.kv_elems(), p.dtype, 3, -1.f, 1.f);
  fill_uniform(dO.get(), p.q_elems(), p.dtype, 4, -1.f, 1.f);
  {
    DeviceBuffer fw(f.workspace_bytes(p));
    run_forward(f, p, {Q.get(), K.get(), V.get(), O.get(), LSE.as<float>(), fw.get(), fw.bytes(),
                       nullptr});
    FC_CUDA(cudaDeviceSynchronize());
  }
  std::size_t free_before = 0, free_after = 0, total = 0;
  FC_CUDA(cudaMemGetInfo(&free_before, &total));
  MemoryResult r;
  {
    DeviceBuffer work(v.workspace_bytes(p));
    BackwardArgs a;
    a.Q = Q.get(); a.K = K.get(); a.V = V.get(); a.O = O.get(); a.dO = dO.get();
    a.LSE = LSE.as<float>(); a.dQ = dQ.get(); a.dK = dK.get(); a.dV = dV.get();
    a.workspace = work.get(); a.workspace_bytes = work.bytes();
    run_backward(v, p, a);
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
