// flash2_tune: times candidate configurations of the flash2_fwd kernel
// template (warps, rows per warp, Bc, pipeline stages, Q in registers) on the
// benchmark grid shapes, after checking each against the registered
// flash2_fwd. Built only with -DFLASHCHECK_TUNING=ON (CI never compiles it);
// its CSV goes to reports/gpu/, so losing configurations are recorded there
// rather than kept as code.
//
//   flash2_tune [--repeats N] > tune.csv
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/bench.hpp"
#include "kernels/device_buffer.hpp"
#include "kernels/fill.hpp"
#include "kernels/flash2_fwd_kernel.cuh"

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
  cudaFuncGetAttributes(&attr, flash2::flash2_fwd_kernel<Tr, __nv_bfloat16>);
  return {name, Tr::kHeadDim, flash2::launch<Tr, __nv_bfloat16>, attr.numRegs};
}

using flash2::Flash2FwdTraits;
// <head_dim, Bc, warps, m16 tiles per warp, stages, Q in registers, min blocks>
std::vector<Candidate> candidates() {
  return {
      make<Flash2FwdTraits<64, 64, 4, 2, 2, true, 2>>("d64 Bc64 w4 m2 s2 qreg mb2"),
      make<Flash2FwdTraits<64, 128, 8, 1, 2, true>>("d64 Bc128 w8 m1 s2 qreg"),
      make<Flash2FwdTraits<64, 128, 8, 1, 2, false>>("d64 Bc128 w8 m1 s2 qsmem"),
      make<Flash2FwdTraits<64, 64, 4, 2, 3, true>>("d64 Bc64 w4 m2 s3 qreg"),
      make<Flash2FwdTraits<64, 64, 8, 1, 2, true, 2>>("d64 Bc64 w8 m1 s2 qreg mb2"),
      make<Flash2FwdTraits<128, 128, 8, 1, 2, false>>("d128 Bc128 w8 m1 s2 qsmem"),
      make<Flash2FwdTraits<128, 64, 8, 1, 2, true>>("d128 Bc64 w8 m1 s2 qreg"),
      make<Flash2FwdTraits<128, 128, 8, 1, 3, false>>("d128 Bc128 w8 m1 s3 qsmem"),
      make<Flash2FwdTraits<128, 96, 8, 1, 2, false>>("d128 Bc96 w8 m1 s2 qsmem"),
      make<Flash2FwdTraits<128, 64, 8, 1, 3, true>>("d128 Bc64 w8 m1 s3 qreg"),
      make<Flash2FwdTraits<128, 64, 4, 2, 2, false>>("d128 Bc64 w4 m2 s2 qsmem"),
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
    const Variant& reg = find_variant("flash2_fwd");
    std::printf("device,config,regs,head_dim,seqlen,mask,max_abs_diff_vs_flash2_fwd,median_ms,tflops\n");
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
    std::fprintf(stderr, "flash2_tune: %s\n", e.what());
    return 1;
  }
  return 0;
}
