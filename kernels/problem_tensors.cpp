// Device tensors of one problem (see problem_tensors.hpp).
#include "kernels/problem_tensors.hpp"

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/check.hpp"
#include "kernels/fill.hpp"

namespace flashcheck::kernels {

namespace {

// cu_seqlens of lens (validated against the problem), int32 on the host.
std::vector<int> cu_of(const std::vector<int64_t>& lens, int64_t batch, int64_t max, const char* what) {
  if (static_cast<int64_t>(lens.size()) != batch)
    throw std::invalid_argument(std::string("varlen: ") + what + " needs " + std::to_string(batch) +
                                " sequence lengths, got " + std::to_string(lens.size()));
  std::vector<int> cu{0};
  for (int64_t n : lens) {
    if (n < 0 || n > max)
      throw std::invalid_argument(std::string("varlen: ") + what + " length " + std::to_string(n) +
                                  " outside [0, " + std::to_string(max) + "]");
    cu.push_back(cu.back() + static_cast<int>(n));
  }
  return cu;
}

Varlen totals(const Problem& p, const std::vector<int>& cq, const std::vector<int>& ck) {
  Varlen v;
  if (p.variants.varlen) {
    v.total_q = cq.back();
    v.total_k = ck.back();
  }
  return v;
}

}  // namespace

ProblemTensors::ProblemTensors(const Problem& p, bool backward, const SeqLens& lens)
    : ProblemTensors(p, backward,
                     p.variants.varlen ? cu_of(lens.q, p.batch, p.seqlen_q, "q") : std::vector<int>{},
                     p.variants.varlen ? cu_of(lens.k, p.batch, p.seqlen_k, "k") : std::vector<int>{}) {}

ProblemTensors::ProblemTensors(const Problem& p, bool backward, const std::vector<int>& cq,
                               const std::vector<int>& ck)
    : problem(p),
      ext(extent(p, totals(p, cq, ck))),
      Q(ext.q_elems * dtype_bytes(p.dtype)),
      K(ext.kv_elems * dtype_bytes(p.dtype)),
      V(ext.kv_elems * dtype_bytes(p.dtype)),
      O(ext.q_elems * dtype_bytes(p.dtype)),
      LSE(ext.lse_elems * sizeof(float)),
      dO(backward ? ext.q_elems * dtype_bytes(p.dtype) : 0),
      dQ(backward ? ext.q_elems * dtype_bytes(p.dtype) : 0),
      dK(backward ? ext.kv_elems * dtype_bytes(p.dtype) : 0),
      dV(backward ? ext.kv_elems * dtype_bytes(p.dtype) : 0),
      slopes(p.variants.alibi ? p.heads_q * sizeof(float) : 0),
      cu_q(cq.size() * sizeof(int)),
      cu_k(ck.size() * sizeof(int)) {
  if (p.variants.varlen) {
    FC_CUDA(cudaMemcpy(cu_q.get(), cq.data(), cu_q.bytes(), cudaMemcpyHostToDevice));
    FC_CUDA(cudaMemcpy(cu_k.get(), ck.data(), cu_k.bytes(), cudaMemcpyHostToDevice));
    varlen = totals(p, cq, ck);
    varlen.cu_seqlens_q = cu_q.as<int>();
    varlen.cu_seqlens_k = cu_k.as<int>();
  }
  if (!p.variants.alibi) return;
  std::vector<float> s(p.heads_q);
  for (int64_t h = 0; h < p.heads_q; ++h)
    s[h] = std::exp2(-8.0f * static_cast<float>(h + 1) / static_cast<float>(p.heads_q));
  FC_CUDA(cudaMemcpy(slopes.get(), s.data(), slopes.bytes(), cudaMemcpyHostToDevice));
}

void ProblemTensors::fill(std::uint64_t seed, float qk) {
  const Problem& p = problem;
  fill_uniform(Q.get(), ext.q_elems, p.dtype, seed, -qk, qk);
  fill_uniform(K.get(), ext.kv_elems, p.dtype, seed + 1, -qk, qk);
  fill_uniform(V.get(), ext.kv_elems, p.dtype, seed + 2, -1.f, 1.f);
  if (dO.bytes() > 0) fill_uniform(dO.get(), ext.q_elems, p.dtype, seed + 3, -1.f, 1.f);
}

ForwardArgs ProblemTensors::forward_args(const DeviceBuffer& work) const {
  ForwardArgs a{Q.get(), K.get(), V.get(), O.get(), LSE.as<float>(), work.get(), work.bytes(), nullptr};
  a.alibi_slopes = slopes.bytes() ? slopes.as<float>() : nullptr;
  a.varlen = varlen;
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
  a.varlen = varlen;
  return a;
}

}  // namespace flashcheck::kernels
