// The one harness of the kernel tuners (flash2_tune, hopper_tune): each
// candidate configuration is checked against the registered variant (max
// |O - O_registered|) and timed on the ANCHORS.md benchmark grid (bf16,
// 16k tokens, hidden 2048, N 1k/4k/16k, causal and not; L2 flushed before
// each repetition, median of repeats after 2 warm-ups: bench.hpp's
// time_calls). CSV on stdout.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/bench.hpp"
#include "kernels/device_buffer.hpp"
#include "kernels/problem_tensors.hpp"

namespace flashcheck::kernels::tune {

struct Candidate {
  const char* name;
  int head_dim;
  void (*launch)(const Problem&, const ForwardArgs&);
  int regs;
};

// A candidate from a kernel function (for its register count) and its launcher.
template <class Kernel>
Candidate candidate(const char* name, int head_dim, Kernel* kernel,
                    void (*launch)(const Problem&, const ForwardArgs&)) {
  cudaFuncAttributes attr{};
  cudaFuncGetAttributes(&attr, kernel);
  return {name, head_dim, launch, attr.numRegs};
}

inline std::vector<float> download_bf16(const DeviceBuffer& buf) {
  std::vector<__nv_bfloat16> h(buf.bytes() / 2);
  FC_CUDA(cudaMemcpy(h.data(), buf.get(), buf.bytes(), cudaMemcpyDeviceToHost));
  std::vector<float> f(h.size());
  for (size_t i = 0; i < h.size(); ++i) f[i] = __bfloat162float(h[i]);
  return f;
}

// main() of a tuner: `tool [--repeats N] > tune.csv`.
inline int run(int argc, char** argv, const char* tool, const char* registered,
               const std::vector<Candidate>& candidates) {
  int repeats = 10;
  for (int i = 1; i + 1 < argc; ++i)
    if (!std::strcmp(argv[i], "--repeats")) repeats = std::atoi(argv[i + 1]);
  try {
    const Variant& reg = find_variant(registered);
    std::printf("device,config,regs,head_dim,seqlen,mask,max_abs_diff_vs_%s,median_ms,tflops\n",
                registered);
    const std::string dev = device_description();
    for (const Candidate& c : candidates)
      for (bool causal : {false, true})
        for (int64_t n : {1024, 4096, 16384}) {
          Problem p;
          p.head_dim = c.head_dim;
          p.heads_q = p.heads_kv = 2048 / c.head_dim;
          p.seqlen_q = p.seqlen_k = n;
          p.batch = 16384 / n;
          p.dtype = DType::bf16;
          p.mask = causal ? Mask::causal_top_left() : Mask::none();
          ProblemTensors t(p, false);
          t.fill(1);
          DeviceBuffer O2(t.O.bytes()), none;
          const ForwardArgs a = t.forward_args(none);
          ForwardArgs b = a;
          b.O = O2.get();
          run_forward(reg, p, b);
          c.launch(p, a);
          FC_CUDA(cudaDeviceSynchronize());
          const auto x = download_bf16(t.O), y = download_bf16(O2);
          float diff = 0;
          for (size_t i = 0; i < x.size(); ++i) diff = std::max(diff, std::fabs(x[i] - y[i]));
          const double med = time_calls({2, repeats, L2Flush::write}, [&] { c.launch(p, a); }).median_ms;
          std::printf("\"%s\",%s,%d,%d,%lld,%s,%g,%g,%g\n", dev.c_str(), c.name, c.regs, c.head_dim,
                      static_cast<long long>(n), causal ? "causal" : "none", diff, med,
                      forward_flops(p) / (med * 1e-3) / 1e12);
          std::fflush(stdout);
        }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", tool, e.what());
    return 1;
  }
  return 0;
}

}  // namespace flashcheck::kernels::tune
