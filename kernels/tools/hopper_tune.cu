// hopper_tune: times candidate configurations of the hopper_fwd kernel
// template (Bc, pipeline stages, ping-pong of the two consumer warpgroups on
// or off) on the benchmark grid shapes, after checking each against the
// registered hopper_fwd. Built only with -DFLASHCHECK_TUNING=ON (CI never
// compiles it); its CSV goes to reports/gpu/, so losing configurations are
// recorded there rather than kept as code. The same harness as flash2_tune.
//
//   hopper_tune [--repeats N] > hopper_tune.csv
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/bench.hpp"
#include "kernels/device_buffer.hpp"
#include "kernels/fill.hpp"
#include "kernels/hopper_fwd_kernel.cuh"

using namespace flashcheck;
using namespace flashcheck::kernels;

namespace {

struct Candidate {
  const char* name;
  int head_dim;
  void (*launch)(const Problem&, const ForwardArgs&);
  int regs;
};

template <class Tr>
Candidate make(const char* name) {
  cudaFuncAttributes attr{};
  cudaFuncGetAttributes(&attr, hopper::hopper_fwd_kernel<Tr, __nv_bfloat16>);
  return {name, Tr::kHeadDim, hopper::launch<Tr, __nv_bfloat16>, attr.numRegs};
}

using hopper::HopperFwdTraits;
// <head_dim, Bc, stages, ping-pong>; the first of each head dim is hopper_fwd's.
std::vector<Candidate> candidates() {
  return {
      make<HopperFwdTraits<64, 128, 2, true>>("d64 Bc128 s2 pingpong"),
      make<HopperFwdTraits<64, 128, 2, false>>("d64 Bc128 s2 no-pingpong"),
      make<HopperFwdTraits<64, 128, 3, true>>("d64 Bc128 s3 pingpong"),
      make<HopperFwdTraits<64, 64, 2, true>>("d64 Bc64 s2 pingpong"),
      make<HopperFwdTraits<128, 128, 2, true>>("d128 Bc128 s2 pingpong"),
      make<HopperFwdTraits<128, 128, 2, false>>("d128 Bc128 s2 no-pingpong"),
      make<HopperFwdTraits<128, 128, 3, true>>("d128 Bc128 s3 pingpong"),
      make<HopperFwdTraits<128, 64, 2, true>>("d128 Bc64 s2 pingpong"),
  };
}

std::vector<float> download_o(const DeviceBuffer& O) {
  std::vector<__nv_bfloat16> h(O.bytes() / 2);
  FC_CUDA(cudaMemcpy(h.data(), O.get(), O.bytes(), cudaMemcpyDeviceToHost));
  std::vector<float> f(h.size());
  for (size_t i = 0; i < h.size(); ++i) f[i] = __bfloat162float(h[i]);
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 10;
  for (int i = 1; i + 1 < argc; ++i)
    if (!std::strcmp(argv[i], "--repeats")) repeats = std::atoi(argv[i + 1]);
  try {
    const Variant& reg = find_variant("hopper_fwd");
    std::printf("device,config,regs,head_dim,seqlen,mask,max_abs_diff_vs_hopper_fwd,median_ms,tflops\n");
    const std::string dev = device_description();
    for (const Candidate& c : candidates())
      for (bool causal : {false, true})
        for (int64_t n : {1024, 4096, 16384}) {
          Problem p;
          p.head_dim = c.head_dim;
          p.heads_q = p.heads_kv = 2048 / c.head_dim;
          p.seqlen_q = p.seqlen_k = n;
          p.batch = 16384 / n;
          p.dtype = DType::bf16;
          p.mask = causal ? Mask::causal_top_left() : Mask::none();
          const std::size_t qb = p.q_elems() * 2, kb = p.kv_elems() * 2;
          DeviceBuffer Q(qb), K(kb), V(kb), O(qb), O2(qb), L(p.lse_elems() * 4), flush(256 << 20);
          fill_uniform(Q.get(), p.q_elems(), p.dtype, 1, -1.f, 1.f);
          fill_uniform(K.get(), p.kv_elems(), p.dtype, 2, -1.f, 1.f);
          fill_uniform(V.get(), p.kv_elems(), p.dtype, 3, -1.f, 1.f);
          ForwardArgs a{Q.get(), K.get(), V.get(), O.get(), L.as<float>(), nullptr, 0, nullptr};
          ForwardArgs b = a;
          b.O = O2.get();
          run_forward(reg, p, b);
          c.launch(p, a);
          FC_CUDA(cudaDeviceSynchronize());
          const auto x = download_o(O), y = download_o(O2);
          float diff = 0;
          for (size_t i = 0; i < x.size(); ++i) diff = std::max(diff, std::fabs(x[i] - y[i]));
          cudaEvent_t e0, e1;
          FC_CUDA(cudaEventCreate(&e0));
          FC_CUDA(cudaEventCreate(&e1));
          std::vector<float> ms;
          for (int r = 0; r < repeats + 2; ++r) {
            FC_CUDA(cudaMemsetAsync(flush.get(), r, flush.bytes()));
            FC_CUDA(cudaEventRecord(e0));
            c.launch(p, a);
            FC_CUDA(cudaEventRecord(e1));
            FC_CUDA(cudaEventSynchronize(e1));
            float t;
            FC_CUDA(cudaEventElapsedTime(&t, e0, e1));
            if (r >= 2) ms.push_back(t);
          }
          cudaEventDestroy(e0);
          cudaEventDestroy(e1);
          std::sort(ms.begin(), ms.end());
          const double med = ms[ms.size() / 2];
          std::printf("\"%s\",%s,%d,%d,%lld,%s,%g,%g,%g\n", dev.c_str(), c.name, c.regs, c.head_dim,
                      static_cast<long long>(n), causal ? "causal" : "none", diff, med,
                      forward_flops(p) / (med * 1e-3) / 1e12);
          std::fflush(stdout);
        }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hopper_tune: %s\n", e.what());
    return 1;
  }
  return 0;
}
