// The FlashAttention-2 forward kernel template behind variant flash2_fwd
// (see flash2_fwd.cu for what the variant is and which configurations it
// instantiates; kernels/tools/flash2_tune.cu instantiates candidates).
//
// One thread block per (Q block of Br rows, query head, batch). Warp w owns
// rows [w * 16 kM, (w + 1) * 16 kM) of the block (kM m16 tiles), so the
// online softmax needs no inter-warp reduction. K and V blocks of Bc rows
// stream through a kStages-deep cp.async ring (zero-filled past seqlen_k).
// With kSplitKV, K and V of a block are separate cp.async groups, so S = Q K^T
// waits only for K (and a second __syncthreads before P V publishes V).
// Q is loaded once into shared memory and, when kQInRegs, into registers;
// otherwise its A fragments are re-read from shared memory every k16 step
// (fewer registers, a little more shared-memory traffic).
//
// Shared-memory tiles are rows of head_dim 16-bit values in 16-byte chunks
// stored at chunk ^ (row % 8), so the 8 row addresses of every ldmatrix hit 8
// different bank groups. A row's slot holds kRowChunks chunks, head_dim / 8
// rounded up to a multiple of 8 (d 32 in a 64-wide slot, d 96 in a 128-wide
// one), so the XOR never leaves the row; the padding is never read.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <mutex>
#include <set>

#include "kernels/api.hpp"
#include "kernels/check.hpp"
#include "kernels/mma.cuh"

namespace flashcheck::kernels::flash2 {

template <int kHeadDim_, int kBc_, int kWarps_, int kM_, int kStages_, bool kQInRegs_,
          int kMinBlocks_ = 1, bool kSplitKV_ = false>
struct Flash2FwdTraits {
  static constexpr int kHeadDim = kHeadDim_;
  static constexpr int kWarps = kWarps_;
  static constexpr int kThreads = 32 * kWarps;
  static constexpr int kM = kM_;                  // m16 row tiles per warp
  static constexpr int kBr = 16 * kM * kWarps;
  static constexpr int kBc = kBc_;
  static constexpr int kStages = kStages_;
  static constexpr bool kQInRegs = kQInRegs_;
  static constexpr int kMinBlocks = kMinBlocks_;  // __launch_bounds__ occupancy hint
  static constexpr bool kSplitKV = kSplitKV_;     // K and V in separate cp.async groups
  // How many cp.async groups may still be in flight when block i's K
  // (kWaitK) or V (kWaitV) must have landed: one group per block, or two.
  static constexpr int kWaitK = kSplitKV ? 2 * kStages - 3 : kStages - 2;
  static constexpr int kWaitV = 2 * kStages - 2;  // kSplitKV only
  static constexpr int kChunks = kHeadDim / 8;    // 16-byte chunks per row
  static constexpr int kRowChunks = (kChunks + 7) / 8 * 8;  // chunks per shared-memory row slot
  static constexpr int kRowElems = kRowChunks * 8;
  static constexpr std::size_t kElem = 2;         // fp16 / bf16
  static constexpr std::size_t kSmemQ = kBr * kRowElems * kElem;
  static constexpr std::size_t kSmemKV = kBc * kRowElems * kElem;  // one K (or V) stage
  static constexpr std::size_t kSmemBytes = kSmemQ + 2 * kStages * kSmemKV;

  static_assert(kHeadDim % 32 == 0, "whole k16 steps, and pairs of n8 tiles of O");
  static_assert(kBc % 16 == 0, "Bc is a whole number of k16 steps of P V");
  static_assert(kStages >= 2, "the ring needs a stage to fill while one is read");
  static_assert(kM == 1 || kM == 2, "a warp owns 16 or 32 rows");
  static_assert((kBr * kChunks) % kThreads == 0 && (kBc * kChunks) % kThreads == 0,
                "every thread copies the same number of chunks");
  static_assert(kSmemBytes <= 227 * 1024, "over the 227 KiB of shared memory of sm_90");
};

// The score variants flash2 computes, in reference/variants.hpp's order:
// s = scale q.k; softcap s = cap tanh(s / cap); ALiBi s -= slope_h |i + Nk
// - Nq - j| (bottom-right aligned). When on, the kernels turn raw scores into
// these final logits before the softmax (their exponent scale is then log2 e).
struct ScoreMod {
  bool on;              // softcap or ALiBi
  float scale;          // softmax scale
  float cap, inv_cap;   // softcap; cap 0: none
  const float* slopes;  // ALiBi, float32 [heads_q]; nullptr: none

  // The final logit of raw score s = q.k at (row, col) of a (sq x sk)
  // problem; dfac = d logit / d(scale s) = 1 - tanh^2 (1 without softcap).
  __device__ __forceinline__ float logit(float s, int row, int col, int sq, int sk, float slope,
                                         float& dfac) const {
    float x = s * scale;
    dfac = 1.f;
    if (cap > 0.f) {
      const float t = tanhf(x * inv_cap);
      x = cap * t;
      dfac = fmaf(-t, t, 1.f);
    }
    return fmaf(-slope, fabsf(static_cast<float>(row + sk - sq - col)), x);
  }
  __device__ __forceinline__ float slope_of(int h) const { return slopes ? slopes[h] : 0.f; }
};

inline ScoreMod make_score_mod(const Problem& pr, const float* alibi_slopes) {
  const float cap = pr.variants.softcap ? static_cast<float>(*pr.variants.softcap) : 0.f;
  return ScoreMod{pr.variants.softcap.has_value() || pr.variants.alibi,
                  static_cast<float>(pr.softmax_scale()), cap, cap > 0.f ? 1.f / cap : 0.f,
                  pr.variants.alibi ? alibi_slopes : nullptr};
}

constexpr float kLog2e = 1.4426950408889634f;

// Where the rows of (batch b, head h) start in a [*][heads][*][d] tensor and
// how many there are: dense [B][heads][n][d], or varlen (cu != nullptr)
// [1][heads][total][d] with sequence b at rows cu[b] .. cu[b + 1].
struct SeqSpan {
  int64_t row0;
  int len;
};
__device__ __forceinline__ SeqSpan seq_span(const int* cu, int total, int n, int heads, int b, int h) {
  if (cu == nullptr) return {(static_cast<int64_t>(b) * heads + h) * n, n};
  return {static_cast<int64_t>(h) * total + cu[b], cu[b + 1] - cu[b]};
}

struct Params {
  const void* Q;
  const void* K;
  const void* V;
  void* O;
  float* LSE;
  int seqlen_q, seqlen_k, heads_q, heads_kv, group;
  float scale;       // softmax scale (1 with mod.on: scores are final logits)
  float scale_log2;  // scale * log2(e): exp(scale * (s - m)) = exp2(scale_log2 * s - ...)
  Mask mask;
  ScoreMod mod;
  const int* cu_q;  // varlen: cu_seqlens (seqlen_q/k are then the longest); nullptr: dense
  const int* cu_k;
  int total_q, total_k;
};

// 2^x; flushes denormal results to 0, which is below what P can resolve.
__device__ __forceinline__ float exp2_ftz(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

template <class Tr>
__device__ __forceinline__ int swz(int row, int chunk) {
  return row * Tr::kRowElems + ((chunk ^ (row & 7)) << 3);
}

// Rows [row0, row0 + kRows) of a [seqlen][d] matrix into a swizzled tile;
// rows at or past `rows` are zero-filled.
template <class Tr, int kRows, class T>
__device__ __forceinline__ void load_tile(T* tile, const T* g, int row0, int rows, int tid) {
#pragma unroll
  for (int i = 0; i < kRows * Tr::kChunks / Tr::kThreads; ++i) {
    const int idx = tid + i * Tr::kThreads;
    const int r = idx / Tr::kChunks, c = idx % Tr::kChunks;
    const bool valid = row0 + r < rows;
    const T* src = valid ? g + static_cast<int64_t>(row0 + r) * Tr::kHeadDim + c * 8 : g;
    ptx::cp_async_16(tile + swz<Tr>(r, c), src, valid);
  }
}

// kMod: the softcap / ALiBi instantiation (p.mod.on); plain attention runs
// the kernel without it, so its registers and code are what they were.
template <class Tr, class T, bool kMod>
__global__ void __launch_bounds__(Tr::kThreads, Tr::kMinBlocks) flash2_fwd_kernel(const Params p) {
  constexpr int D = Tr::kHeadDim, Br = Tr::kBr, Bc = Tr::kBc, kStages = Tr::kStages;
  constexpr int kM = Tr::kM;
  constexpr int kNT = Bc / 8;  // n8 tiles of S per m16 tile
  constexpr int kDT = D / 8;   // n8 tiles of O per m16 tile
  constexpr int kQF = Tr::kQInRegs ? D / 16 : 1;  // Q fragments held at once
  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* sQ = reinterpret_cast<T*>(smem_raw);
  constexpr int R = Tr::kRowElems;  // elements per shared-memory row slot
  T* sK = sQ + Br * R;
  T* sV = sK + kStages * Bc * R;

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  // Heaviest Q blocks (most KV blocks under a causal mask) start first.
  const int qb = gridDim.x - 1 - blockIdx.x;
  const int h = blockIdx.y, b = blockIdx.z;
  const SeqSpan qs = seq_span(p.cu_q, p.total_q, p.seqlen_q, p.heads_q, b, h);
  const SeqSpan ks = seq_span(p.cu_k, p.total_k, p.seqlen_k, p.heads_kv, b, h / p.group);
  const int sq = qs.len, sk = ks.len;
  const int r0 = qb * Br;
  if (r0 >= sq) return;  // varlen: a Q block past this sequence's end (dense: never)
  const T* Q = static_cast<const T*>(p.Q) + qs.row0 * D;
  const T* K = static_cast<const T*>(p.K) + ks.row0 * D;
  const T* V = static_cast<const T*>(p.V) + ks.row0 * D;
  T* O = static_cast<T*>(p.O) + qs.row0 * D;
  float* LSE = p.LSE + qs.row0;

  const Range blocks = p.mask.kv_blocks(r0, min(r0 + Br, sq), Bc, sq, sk);
  const int nb0 = static_cast<int>(blocks.begin), nb1 = static_cast<int>(blocks.end);
  const float slope = p.mod.slope_of(h);

  // Prologue: Q with the first KV block (group 0), then kStages - 2 more
  // blocks (with kSplitKV: Q with K_0, then V_0, K_1, V_1, ... one group each).
  load_tile<Tr, Br>(sQ, Q, r0, sq, tid);
  // Loads block nb's K and V into stage st as one group or two (possibly
  // empty groups past the last block: they keep the group count uniform).
  auto load_block = [&](int st, int nb) {
    if (nb < nb1) load_tile<Tr, Bc>(sK + st * Bc * R, K, nb * Bc, sk, tid);
    if constexpr (Tr::kSplitKV) ptx::cp_async_commit();
    if (nb < nb1) load_tile<Tr, Bc>(sV + st * Bc * R, V, nb * Bc, sk, tid);
    ptx::cp_async_commit();
  };
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) load_block(s, nb0 + s);

  // Per thread and m16 tile mi: rows lane/4 and lane/4 + 8 (C fragment rows).
  float o[kM][kDT][4];
#pragma unroll
  for (int mi = 0; mi < kM; ++mi)
#pragma unroll
    for (int i = 0; i < kDT; ++i) o[mi][i][0] = o[mi][i][1] = o[mi][i][2] = o[mi][i][3] = 0.f;
  float m[kM][2], l[kM][2];  // running max of raw scores; this thread's part of the row sum
#pragma unroll
  for (int mi = 0; mi < kM; ++mi) {
    m[mi][0] = m[mi][1] = -INFINITY;
    l[mi][0] = l[mi][1] = 0.f;
  }
  uint32_t qf[kM][kQF][4];  // Q as A fragments (all k16 steps when kQInRegs)
  const int wrow = warp * 16 * kM;  // first row of this warp inside the block
  auto load_qf = [&](uint32_t(&f)[4], int mi, int kk) {
    ptx::ldmatrix_x4(f, sQ + swz<Tr>(wrow + mi * 16 + (lane & 15), kk * 2 + (lane >> 4)));
  };

  ptx::cp_async_wait<Tr::kWaitK>();
  __syncthreads();
  if constexpr (Tr::kQInRegs) {
#pragma unroll
    for (int mi = 0; mi < kM; ++mi)
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) load_qf(qf[mi][kk], mi, kk);
  }

  for (int nb = nb0, i = 0; nb < nb1; ++nb, ++i) {
    ptx::cp_async_wait<Tr::kWaitK>();
    __syncthreads();  // block nb (its K) landed; every warp is done with the stage refilled next
    load_block((i + kStages - 1) % kStages, nb + kStages - 1);
    const T* tK = sK + (i % kStages) * Bc * R;
    const T* tV = sV + (i % kStages) * Bc * R;

    // S = Q K^T for the warp's 16 kM rows x Bc columns; each K fragment
    // feeds all kM row tiles.
    float s[kM][kNT][4];
#pragma unroll
    for (int mi = 0; mi < kM; ++mi)
#pragma unroll
      for (int j = 0; j < kNT; ++j) s[mi][j][0] = s[mi][j][1] = s[mi][j][2] = s[mi][j][3] = 0.f;
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      const int kq = Tr::kQInRegs ? kk : 0;
      if constexpr (!Tr::kQInRegs) {
#pragma unroll
        for (int mi = 0; mi < kM; ++mi) load_qf(qf[mi][0], mi, kk);
      }
#pragma unroll
      for (int np = 0; np < kNT / 2; ++np) {
        uint32_t kf[4];
        ptx::ldmatrix_x4(kf, tK + swz<Tr>(np * 16 + ((lane >> 4) << 3) + (lane & 7),
                                          kk * 2 + ((lane >> 3) & 1)));
#pragma unroll
        for (int mi = 0; mi < kM; ++mi) {
          ptx::mma_16816<T>(s[mi][2 * np], qf[mi][kq], kf[0], kf[1]);
          ptx::mma_16816<T>(s[mi][2 * np + 1], qf[mi][kq], kf[2], kf[3]);
        }
      }
    }

    // Softcap / ALiBi: raw scores to final logits.
    const int c0 = nb * Bc;
    if constexpr (kMod) {
#pragma unroll
      for (int mi = 0; mi < kM; ++mi)
#pragma unroll
        for (int j = 0; j < kNT; ++j)
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int row = r0 + wrow + mi * 16 + (lane >> 2) + (e >> 1) * 8;
            const int col = c0 + j * 8 + (lane & 3) * 2 + (e & 1);
            float dfac;
            s[mi][j][e] = p.mod.logit(s[mi][j][e], row, col, sq, sk, slope, dfac);
          }
    }
    // Element-wise mask only where a row tile is not fully visible (boundary
    // blocks of the band, the sequence ends).
#pragma unroll
    for (int mi = 0; mi < kM; ++mi) {
      const int tr0 = r0 + wrow + mi * 16;
      if (!p.mask.tile_fully_visible(tr0, tr0 + 16, c0, c0 + Bc, sq, sk)) {
#pragma unroll
        for (int j = 0; j < kNT; ++j)
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int row = tr0 + (lane >> 2) + (e >> 1) * 8;
            const int col = c0 + j * 8 + (lane & 3) * 2 + (e & 1);
            if (!p.mask.visible(row, col, sq, sk)) s[mi][j][e] = -INFINITY;
          }
      }
    }

    // Online softmax, one row (r = 0: lane/4, r = 1: lane/4 + 8) at a time;
    // a row is spread over the 4 threads of a quad.
#pragma unroll
    for (int mi = 0; mi < kM; ++mi)
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float mx = m[mi][r];
#pragma unroll
        for (int j = 0; j < kNT; ++j) mx = fmaxf(mx, fmaxf(s[mi][j][2 * r], s[mi][j][2 * r + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        // A row that has seen only masked keys keeps max -inf; subtracting 0
        // instead keeps exp2(-inf - base) = 0 rather than NaN.
        const float base = mx == -INFINITY ? 0.f : mx * p.scale_log2;
        const float alpha = exp2_ftz(m[mi][r] * p.scale_log2 - base);
        m[mi][r] = mx;
        l[mi][r] *= alpha;
#pragma unroll
        for (int d = 0; d < kDT; ++d) {
          o[mi][d][2 * r] *= alpha;
          o[mi][d][2 * r + 1] *= alpha;
        }
#pragma unroll
        for (int j = 0; j < kNT; ++j) {
          s[mi][j][2 * r] = exp2_ftz(fmaf(s[mi][j][2 * r], p.scale_log2, -base));
          s[mi][j][2 * r + 1] = exp2_ftz(fmaf(s[mi][j][2 * r + 1], p.scale_log2, -base));
          l[mi][r] += s[mi][j][2 * r] + s[mi][j][2 * r + 1];
        }
      }

    if constexpr (Tr::kSplitKV) {
      ptx::cp_async_wait<Tr::kWaitV>();
      __syncthreads();  // V of block nb landed (every thread's part of it)
    }

    // O += P V: the C fragments of two adjacent n8 tiles of P are the A
    // fragment of one k16 step; V comes in through ldmatrix.trans and each V
    // fragment feeds all kM row tiles.
#pragma unroll
    for (int kk = 0; kk < Bc / 16; ++kk) {
      uint32_t pf[kM][4];
#pragma unroll
      for (int mi = 0; mi < kM; ++mi) {
        pf[mi][0] = ptx::pack2<T>(s[mi][2 * kk][0], s[mi][2 * kk][1]);
        pf[mi][1] = ptx::pack2<T>(s[mi][2 * kk][2], s[mi][2 * kk][3]);
        pf[mi][2] = ptx::pack2<T>(s[mi][2 * kk + 1][0], s[mi][2 * kk + 1][1]);
        pf[mi][3] = ptx::pack2<T>(s[mi][2 * kk + 1][2], s[mi][2 * kk + 1][3]);
      }
#pragma unroll
      for (int dp = 0; dp < kDT / 2; ++dp) {
        uint32_t vf[4];
        ptx::ldmatrix_x4_trans(vf, tV + swz<Tr>(kk * 16 + (lane & 15), dp * 2 + (lane >> 4)));
#pragma unroll
        for (int mi = 0; mi < kM; ++mi) {
          ptx::mma_16816<T>(o[mi][2 * dp], pf[mi], vf[0], vf[1]);
          ptx::mma_16816<T>(o[mi][2 * dp + 1], pf[mi], vf[2], vf[3]);
        }
      }
    }
  }
  ptx::cp_async_wait<0>();

  // Finalise: O / l and LSE = scale * m + log(l); l = 0 means the row saw no
  // key: O = 0, LSE = -inf. O is staged through the warp's own rows of the Q
  // tile (only this warp read them) so the global stores are 16-byte and
  // coalesced; __syncwarp orders the warp's last ldmatrix before the writes.
  __syncwarp();
#pragma unroll
  for (int mi = 0; mi < kM; ++mi)
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float lr = l[mi][r];
      lr += __shfl_xor_sync(0xffffffffu, lr, 1);
      lr += __shfl_xor_sync(0xffffffffu, lr, 2);
      const float inv = lr > 0.f ? 1.f / lr : 0.f;
      const int row = wrow + mi * 16 + (lane >> 2) + r * 8;
      if ((lane & 3) == 0 && r0 + row < sq)
        LSE[r0 + row] = lr > 0.f ? m[mi][r] * p.scale + logf(lr) : -INFINITY;
#pragma unroll
      for (int d = 0; d < kDT; ++d) {
        const int col = d * 8 + (lane & 3) * 2;
        *reinterpret_cast<uint32_t*>(sQ + swz<Tr>(row, col / 8) + col % 8) =
            ptx::pack2<T>(o[mi][d][2 * r] * inv, o[mi][d][2 * r + 1] * inv);
      }
    }
  __syncthreads();
#pragma unroll
  for (int it = 0; it < Br * Tr::kChunks / Tr::kThreads; ++it) {
    const int idx = tid + it * Tr::kThreads;
    const int r = idx / Tr::kChunks, c = idx % Tr::kChunks;
    if (r0 + r < sq)
      *reinterpret_cast<uint4*>(O + static_cast<int64_t>(r0 + r) * D + c * 8) =
          *reinterpret_cast<const uint4*>(sQ + swz<Tr>(r, c));
  }
}

inline Params make_params(const Problem& pr, const ForwardArgs& a) {
  const ScoreMod mod = make_score_mod(pr, a.alibi_slopes);
  return Params{a.Q, a.K, a.V, a.O, a.LSE,
                static_cast<int>(pr.seqlen_q), static_cast<int>(pr.seqlen_k),
                static_cast<int>(pr.heads_q), static_cast<int>(pr.heads_kv),
                static_cast<int>(pr.group_size()),
                mod.on ? 1.f : static_cast<float>(pr.softmax_scale()),
                mod.on ? kLog2e : static_cast<float>(pr.softmax_scale() * 1.4426950408889634),
                pr.mask, mod, pr.variants.varlen ? a.varlen.cu_seqlens_q : nullptr,
                pr.variants.varlen ? a.varlen.cu_seqlens_k : nullptr,
                static_cast<int>(a.varlen.total_q), static_cast<int>(a.varlen.total_k)};
}

template <class Tr, class T, bool kMod>
void launch_kernel(const Problem& pr, const Params& params, cudaStream_t stream) {
  // The dynamic shared-memory limit is an attribute of the function on each
  // device: set it once per (kernel, device), from any host thread.
  static std::mutex mu;
  static std::set<int> configured;
  int dev = 0;
  FC_CUDA(cudaGetDevice(&dev));
  {
    std::lock_guard<std::mutex> lock(mu);
    if (!configured.count(dev)) {
      FC_CUDA(cudaFuncSetAttribute(flash2_fwd_kernel<Tr, T, kMod>,
                                   cudaFuncAttributeMaxDynamicSharedMemorySize,
                                   static_cast<int>(Tr::kSmemBytes)));
      configured.insert(dev);
    }
  }
  const dim3 grid(static_cast<unsigned>((pr.seqlen_q + Tr::kBr - 1) / Tr::kBr),
                  static_cast<unsigned>(pr.heads_q), static_cast<unsigned>(pr.batch));
  flash2_fwd_kernel<Tr, T, kMod><<<grid, Tr::kThreads, Tr::kSmemBytes, stream>>>(params);
  FC_CHECK_LAUNCH("flash2_fwd_kernel");
}

// kWithMod: also instantiate the softcap / ALiBi kernel (variants whose
// supports() refuses them leave it out).
template <class Tr, class T, bool kWithMod = true>
void launch(const Problem& pr, const ForwardArgs& a) {
  const Params params = make_params(pr, a);
  if constexpr (kWithMod) {
    if (params.mod.on) return launch_kernel<Tr, T, true>(pr, params, a.stream);
  }
  launch_kernel<Tr, T, false>(pr, params, a.stream);
}

}  // namespace flashcheck::kernels::flash2
