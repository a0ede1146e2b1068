// Device tensors of one problem (see problem_tensors.hpp).
#include "kernels/problem_tensors.hpp"

#include <cmath>
#include <vector>

#include "kernels/check.hpp"
#include "kernels/fill.hpp"

namespace flashcheck::kernels {

ProblemTensors::ProblemTensors(const Problem& p, bool backward)
    : problem(p),
      Q(p.q_elems() * dtype_bytes(p.dtype)),
      K(p.kv_elems() * dtype_bytes(p.dtype)),
      V(p.kv_elems() * dtype_bytes(p.dtype)),
      O(p.q_elems() * dtype_bytes(p.dtype)),
      LSE(p.lse_elems() * sizeof(float)),
      dO(backward ? p.q_elems() * dtype_bytes(p.dtype) : 0),
      dQ(backward ? p.q_elems() * dtype_bytes(p.dtype) : 0),
      dK(backward ? p.kv_elems() * dtype_bytes(p.dtype) : 0),
      dV(backward ? p.kv_elems() * dtype_bytes(p.dtype) : 0),
      slopes(p.variants.alibi ? p.heads_q * sizeof(float) : 0) {
  if (!p.variants.alibi) return;
  std::vector<float> s(p.heads_q);
  for (int64_t h = 0; h < p.heads_q; ++h)
    s[h] = std::exp2(-8.0f * static_cast<float>(h + 1) / static_cast<float>(p.heads_q));
  FC_CUDA(cudaMemcpy(slopes.get(), s.data(), slopes.bytes(), cudaMemcpyHostToDevice));
}

void ProblemTensors::fill(std::uint64_t seed, float qk) {
  const Problem& p = problem;
  fill_uniform(Q.get(), p.q_elems(), p.dtype, seed, -qk, qk);
  fill_uniform(K.get(), p.kv_elems(), p.dtype, seed + 1, -qk, qk);
  fill_uniform(V.get(), p.kv_elems(), p.dtype, seed + 2, -1.f, 1.f);
  if (dO.bytes() > 0) fill_uniform(dO.get(), p.q_elems(), p.dtype, seed + 3, -1.f, 1.f);
}

ForwardArgs ProblemTensors::forward_args(const DeviceBuffer& work) const {
  ForwardArgs a{Q.get(), K.get(), V.get(), O.get(), LSE.as<float>(), work.get(), work.bytes(), nullptr};
  a.alibi_slopes = slopes.bytes() ? slopes.as<float>() : nullptr;
  return a;
}

BackwardArgs ProblemTensors::backward_args(const DeviceBuffer& work, bool deterministic) const {
  BackwardArgs a;
  a.Q = Q.get();
  a.K = K.get();
  a.V = V.get();
  a.O = O.get();
  a.dO = dO.get();
  a.LSE = LSE.as<float>();
  a.dQ = dQ.get();
  a.dK = dK.get();
  a.dV = dV.get();
  a.workspace = work.get();
  a.workspace_bytes = work.bytes();
  a.deterministic = deterministic;
  a.alibi_slopes = slopes.bytes() ? slopes.as<float>() : nullptr;
  return a;
}

}  // namespace flashcheck::kernels
