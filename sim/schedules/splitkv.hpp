// Split-KV decoding (flash-decoding; FlashAttention-2's num_splits path),
// written once for every executor. For decode (few queries, long KV) the
// FlashAttention-2 forward has only B x Hq thread blocks; splitting the KV
// blocks into `splits` chunks of ceil(Tc / splits) blocks gives B x Hq x
// splits. Kernel 1: each (head, chunk) runs the FlashAttention-2 forward over
// its chunk and writes a partial O_s (float32, normalised by its own l_s) and
// LSE_s to HBM (Oacc, LSEacc; a chunk that sees no key writes O_s = 0,
// LSE_s = -inf, as FlashAttention does). Kernel 2 reduces them:
// LSE = log sum_s exp(LSE_s), O = sum_s exp(LSE_s - LSE) O_s.
// All queries of a head form one Q block (Tr = 1: make_plan refuses more).
#pragma once
#include <limits>

#include "sim/plan.hpp"
#include "sim/schedules/flash2.hpp"
#include "sim/schedules/tiling.hpp"
#include "sim/tensors.hpp"

namespace flashcheck::sim::splitkv {

namespace red_buf { enum { LSEs, Os, Oi, mi, li, LSEi }; }

inline std::vector<KernelPlan> forward_kernels(int64_t Br, int64_t Bc, int64_t d, DType t, bool regs) {
  const int64_t a = acc_bytes(t);
  std::vector<KernelPlan> k = flash2::forward_kernels(Br, Bc, d, t, regs);
  k[0].kernel = "splitkv fwd (one KV chunk)";
  k.push_back({"splitkv reduce",
               {{"LSE_s", Br, 1, a}, {"O_s", Br, d, a}, {"O_i", Br, d, a, regs}, {"m_i", Br, 1, a, regs},
                {"l_i", Br, 1, a, regs}, {"LSE_i", Br, 1, a, regs}}});
  return k;
}

// The KV blocks of chunk s: [s per, (s + 1) per) of the Tc blocks, per = ceil(Tc / splits).
struct Chunking {
  int64_t Tc, splits;
  int64_t per() const { return (Tc + splits - 1) / splits; }
  Range blocks(int64_t s) const { return {std::min(s * per(), Tc), std::min((s + 1) * per(), Tc)}; }
  // The blocks of chunk s that `kv` (a Q block's visited range) keeps.
  Range visited(Range kv, int64_t s) const {
    const Range c = blocks(s);
    const Range x{std::max(kv.begin, c.begin), std::min(kv.end, c.end)};
    return x.empty() ? Range{0, 0} : x;
  }
  // The chunks with a visited block: contiguous, ranges monotone in s.
  Range live(Range kv) const {
    return kv.empty() ? Range{0, 0} : Range{kv.begin / per(), (kv.end + per() - 1) / per()};
  }
};

template <class Ex>
void forward(Ex& ex, const Plan& plan) {
  const Problem& p = plan.problem;
  const Tiling t(p, plan.Br(), plan.Bc());
  const Chunking ck{t.Tc, plan.desc.splits};
  const int64_t d = p.head_dim, nq = p.seqlen_q, S = plan.desc.splits;
  const double tau = p.softmax_scale();
  const Range kv = t.kv_blocks(0);  // the one Q block (Tr = 1)
  {
    using namespace flash2::fwd_buf;
    ex.begin_kernel(plan.kernels[0]);
    ex.for_units(p.batch * p.heads_q, [&](int64_t u) {
      const int64_t b = u / p.heads_q, h = u % p.heads_q, hk = p.kv_head_of(h);
      ex.for_steps(S, ck.live(kv), t.Tc, ck.per(), 1, [&](int64_t s) { return ck.visited(kv, s); },
                   [&](int64_t s) {
                     const Range blocks = ck.visited(kv, s);
                     ex.zero(Oi, nq, d);
                     ex.fill(mi, nq, 1, -std::numeric_limits<double>::infinity());
                     ex.zero(li, nq, 1);
                     if (!blocks.empty()) ex.load(Qi, TensorId::Q, b, h, 0, nq, 0, d);
                     ex.for_blocks(blocks, [&](int64_t j) {
                       const int64_t c0 = t.col0(j), nc = t.cols(j);
                       ex.load(Kj, TensorId::K, b, hk, c0, nc, 0, d);
                       ex.load(Vj, TensorId::V, b, hk, c0, nc, 0, d);
                       ex.gemm_nt(Sij, Qi, Kj, nq, nc, d, tau);
                       if (t.partial(0, j)) ex.mask(Sij, 0, nq, c0, nc);
                       ex.online_softmax(Sij, mi, li, Oi, nq, nc, d);
                       ex.gemm_nn(Oi, Sij, Vj, nq, d, nc, 1.0);
                     });
                     ex.finalise(Oi, mi, li, LSEi, nq, d);  // O_s = 0, LSE_s = -inf when nothing seen
                     ex.store(Oi, TensorId::Oacc, b, h, s * nq, nq, 0, d);
                     ex.store(LSEi, TensorId::LSEacc, b, h, s * nq, nq, 0, 1);
                   });
    });
    ex.end_kernel();
  }
  using namespace red_buf;
  ex.begin_kernel(plan.kernels[1]);
  ex.for_units(p.batch * p.heads_q, [&](int64_t u) {
    const int64_t b = u / p.heads_q, h = u % p.heads_q;
    ex.zero(Oi, nq, d);
    ex.fill(mi, nq, 1, -std::numeric_limits<double>::infinity());
    ex.zero(li, nq, 1);
    ex.for_blocks(Range{0, S}, [&](int64_t s) {  // every chunk alike: S - 1 counted once
      ex.load(LSEs, TensorId::LSEacc, b, h, s * nq, nq, 0, 1);
      ex.load(Os, TensorId::Oacc, b, h, s * nq, nq, 0, d);
      ex.combine_partial(Oi, mi, li, Os, LSEs, nq, d);
    });
    ex.finalise(Oi, mi, li, LSEi, nq, d);
    ex.store(Oi, TensorId::O, b, h, 0, nq, 0, d);
    ex.store(LSEi, TensorId::LSE, b, h, 0, nq, 0, 1);
  });
  ex.end_kernel();
}

}  // namespace flashcheck::sim::splitkv
