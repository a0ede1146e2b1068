// Variant flash2_fwd: FlashAttention-2 forward on tensor cores (mma.sync).
//
// Grew from: `standard` (standard_fwd.cu). Instead of materialising S and P
// in HBM, each thread block keeps one Q block of Br rows on chip and streams
// the K, V blocks of Bc rows that its mask lets it see (Q-outer loop order,
// FlashAttention-2 Algorithm 1), with the online softmax: running row max m
// and row sum l in registers, the output accumulator rescaled by
// exp(m_old - m_new) and divided by l once at the end.
//
// Intermediates: none in HBM besides LSE (float32, natural log, scale
// applied; -inf for a row that sees no key, whose O row is 0).
//
// Schedule: q_outer, Br = 16 x warps, Bc per head dim (see the traits
// below). One thread block per (Q block, query head, batch); warp w owns rows
// [16w, 16w + 16) of the block, so the softmax needs no inter-warp
// reduction. K and V blocks go through a `kStages`-deep cp.async ring in
// shared memory (zero-filled past seqlen_k). Q is read once into registers.
// KV blocks outside mask.kv_blocks() are skipped; element-wise masking runs
// only on a warp's tiles that mask.tile_fully_visible() rejects.
//
// Shared-memory tiles are rows of head_dim 16-bit values, stored in 16-byte
// chunks with chunk' = chunk ^ (row % 8), so the 8 row addresses of every
// ldmatrix hit 8 different bank groups.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "kernels/check.hpp"
#include "kernels/mma.cuh"
#include "kernels/variants.hpp"

namespace flashcheck::kernels {
namespace {

template <int kHeadDim_, int kBc_, int kWarps_, int kStages_>
struct Flash2FwdTraits {
  static constexpr int kHeadDim = kHeadDim_;
  static constexpr int kWarps = kWarps_;
  static constexpr int kThreads = 32 * kWarps;
  static constexpr int kBr = 16 * kWarps;  // one m16 tile of rows per warp
  static constexpr int kBc = kBc_;
  static constexpr int kStages = kStages_;
  static constexpr int kChunks = kHeadDim / 8;  // 16-byte chunks per row
  static constexpr std::size_t kElem = 2;       // fp16 / bf16
  static constexpr std::size_t kSmemQ = kBr * kHeadDim * kElem;
  static constexpr std::size_t kSmemKV = kBc * kHeadDim * kElem;  // one K (or V) stage
  static constexpr std::size_t kSmemBytes = kSmemQ + 2 * kStages * kSmemKV;

  static_assert(kHeadDim % 64 == 0, "the XOR swizzle needs >= 8 chunks of 16 B per row");
  static_assert(kBc % 16 == 0, "Bc is a whole number of k16 steps of P V");
  static_assert(kStages >= 2, "the ring needs a stage to fill while one is read");
  static_assert((kBr * kChunks) % kThreads == 0 && (kBc * kChunks) % kThreads == 0,
                "every thread copies the same number of chunks");
  static_assert(kSmemBytes <= 227 * 1024, "over the 227 KiB of shared memory of sm_90");
};

struct Params {
  const void* Q;
  const void* K;
  const void* V;
  void* O;
  float* LSE;
  int seqlen_q, seqlen_k, heads_q, heads_kv, group;
  float scale;       // softmax scale
  float scale_log2;  // scale * log2(e): exp(scale * (s - m)) = exp2(scale_log2 * s - ...)
  Mask mask;
};

template <class Tr>
__device__ __forceinline__ int swz(int row, int chunk) {
  return row * Tr::kHeadDim + ((chunk ^ (row & 7)) << 3);
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

template <class Tr, class T>
__global__ void __launch_bounds__(Tr::kThreads) flash2_fwd_kernel(const Params p) {
  constexpr int D = Tr::kHeadDim, Br = Tr::kBr, Bc = Tr::kBc, kStages = Tr::kStages;
  constexpr int kNT = Bc / 8;  // n8 tiles of S per warp
  constexpr int kDT = D / 8;   // n8 tiles of O per warp
  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* sQ = reinterpret_cast<T*>(smem_raw);
  T* sK = sQ + Br * D;
  T* sV = sK + kStages * Bc * D;

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  // Heaviest Q blocks (most KV blocks under a causal mask) start first.
  const int qb = gridDim.x - 1 - blockIdx.x;
  const int h = blockIdx.y, b = blockIdx.z;
  const int sq = p.seqlen_q, sk = p.seqlen_k;
  const T* Q = static_cast<const T*>(p.Q) + (static_cast<int64_t>(b) * p.heads_q + h) * sq * D;
  const int64_t kv_head = static_cast<int64_t>(b) * p.heads_kv + h / p.group;
  const T* K = static_cast<const T*>(p.K) + kv_head * sk * D;
  const T* V = static_cast<const T*>(p.V) + kv_head * sk * D;
  T* O = static_cast<T*>(p.O) + (static_cast<int64_t>(b) * p.heads_q + h) * sq * D;
  float* LSE = p.LSE + (static_cast<int64_t>(b) * p.heads_q + h) * sq;

  const int r0 = qb * Br;
  const int r1 = min(r0 + Br, sq);
  const Range blocks = p.mask.kv_blocks(r0, r1, Bc, sq, sk);
  const int nb0 = static_cast<int>(blocks.begin), nb1 = static_cast<int>(blocks.end);

  // Prologue: Q with the first KV block (group 0), then up to kStages - 2 more.
  load_tile<Tr, Br>(sQ, Q, r0, sq, tid);
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (nb0 + s < nb1) {
      load_tile<Tr, Bc>(sK + s * Bc * D, K, (nb0 + s) * Bc, sk, tid);
      load_tile<Tr, Bc>(sV + s * Bc * D, V, (nb0 + s) * Bc, sk, tid);
    }
    ptx::cp_async_commit();
  }

  // Per thread: rows lane/4 and lane/4 + 8 of the warp's 16 (C fragment rows).
  float o[kDT][4];
#pragma unroll
  for (int i = 0; i < kDT; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
  float m[2] = {-INFINITY, -INFINITY};  // running max of raw scores (scale not applied)
  float l[2] = {0.f, 0.f};              // this thread's part of the running row sum
  uint32_t qf[D / 16][4];               // Q as A fragments, one per k16 step

  ptx::cp_async_wait<kStages - 2>();
  __syncthreads();
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk)
    ptx::ldmatrix_x4(qf[kk], sQ + swz<Tr>(warp * 16 + (lane & 15), kk * 2 + (lane >> 4)));

  const int wr0 = r0 + warp * 16;  // first row of this warp
  for (int nb = nb0, i = 0; nb < nb1; ++nb, ++i) {
    ptx::cp_async_wait<kStages - 2>();
    __syncthreads();  // block nb landed; every warp is done with the stage refilled next
    if (nb + kStages - 1 < nb1) {
      const int st = (i + kStages - 1) % kStages;
      load_tile<Tr, Bc>(sK + st * Bc * D, K, (nb + kStages - 1) * Bc, sk, tid);
      load_tile<Tr, Bc>(sV + st * Bc * D, V, (nb + kStages - 1) * Bc, sk, tid);
    }
    ptx::cp_async_commit();  // possibly empty: keeps the group count uniform
    const T* tK = sK + (i % kStages) * Bc * D;
    const T* tV = sV + (i % kStages) * Bc * D;

    // S = Q K^T for the warp's 16 rows x Bc columns.
    float s[kNT][4];
#pragma unroll
    for (int j = 0; j < kNT; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
#pragma unroll
      for (int np = 0; np < kNT / 2; ++np) {
        uint32_t kf[4];
        ptx::ldmatrix_x4(kf, tK + swz<Tr>(np * 16 + ((lane >> 4) << 3) + (lane & 7),
                                          kk * 2 + ((lane >> 3) & 1)));
        ptx::mma_16816<T>(s[2 * np], qf[kk], kf[0], kf[1]);
        ptx::mma_16816<T>(s[2 * np + 1], qf[kk], kf[2], kf[3]);
      }
    }

    // Element-wise mask only where the warp's tile is not fully visible
    // (boundary blocks of the band, the sequence ends).
    const int c0 = nb * Bc;
    if (!p.mask.tile_fully_visible(wr0, wr0 + 16, c0, c0 + Bc, sq, sk)) {
#pragma unroll
      for (int j = 0; j < kNT; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int row = wr0 + (lane >> 2) + (e >> 1) * 8;
          const int col = c0 + j * 8 + (lane & 3) * 2 + (e & 1);
          if (!p.mask.visible(row, col, sq, sk)) s[j][e] = -INFINITY;
        }
    }

    // Online softmax, one row half (r = 0: row lane/4, r = 1: row lane/4 + 8)
    // at a time; a row is spread over the 4 threads of a quad.
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float mx = m[r];
#pragma unroll
      for (int j = 0; j < kNT; ++j) mx = fmaxf(mx, fmaxf(s[j][2 * r], s[j][2 * r + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      // A row that has seen only masked keys keeps max -inf; subtracting 0
      // instead keeps exp2(-inf - base) = 0 rather than NaN.
      const float base = mx == -INFINITY ? 0.f : mx * p.scale_log2;
      const float alpha = exp2f(m[r] * p.scale_log2 - base);
      m[r] = mx;
      l[r] *= alpha;
#pragma unroll
      for (int d = 0; d < kDT; ++d) {
        o[d][2 * r] *= alpha;
        o[d][2 * r + 1] *= alpha;
      }
#pragma unroll
      for (int j = 0; j < kNT; ++j) {
        s[j][2 * r] = exp2f(fmaf(s[j][2 * r], p.scale_log2, -base));
        s[j][2 * r + 1] = exp2f(fmaf(s[j][2 * r + 1], p.scale_log2, -base));
        l[r] += s[j][2 * r] + s[j][2 * r + 1];
      }
    }

    // O += P V: the C fragments of two adjacent n8 tiles of P are the A
    // fragment of one k16 step; V comes in through ldmatrix.trans.
#pragma unroll
    for (int kk = 0; kk < Bc / 16; ++kk) {
      uint32_t pf[4];
      pf[0] = ptx::pack2<T>(s[2 * kk][0], s[2 * kk][1]);
      pf[1] = ptx::pack2<T>(s[2 * kk][2], s[2 * kk][3]);
      pf[2] = ptx::pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]);
      pf[3] = ptx::pack2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
      for (int dp = 0; dp < kDT / 2; ++dp) {
        uint32_t vf[4];
        ptx::ldmatrix_x4_trans(vf, tV + swz<Tr>(kk * 16 + (lane & 15), dp * 2 + (lane >> 4)));
        ptx::mma_16816<T>(o[2 * dp], pf, vf[0], vf[1]);
        ptx::mma_16816<T>(o[2 * dp + 1], pf, vf[2], vf[3]);
      }
    }
  }
  ptx::cp_async_wait<0>();

  // Finalise: O / l and LSE = scale * m + log(l); l = 0 means the row saw no
  // key: O = 0, LSE = -inf.
  float inv[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
    inv[r] = l[r] > 0.f ? 1.f / l[r] : 0.f;
    const int row = wr0 + (lane >> 2) + r * 8;
    if ((lane & 3) == 0 && row < sq)
      LSE[row] = l[r] > 0.f ? m[r] * p.scale + logf(l[r]) : -INFINITY;
  }
  // Stage O through the (no longer needed) Q tile so the global stores are
  // 16-byte and coalesced. Each warp writes only its own 16 rows of sQ, which
  // only it read (into qf), so no barrier is needed before the writes.
#pragma unroll
  for (int d = 0; d < kDT; ++d)
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int row = warp * 16 + (lane >> 2) + r * 8;
      const int col = d * 8 + (lane & 3) * 2;
      *reinterpret_cast<uint32_t*>(sQ + swz<Tr>(row, col / 8) + col % 8) =
          ptx::pack2<T>(o[d][2 * r] * inv[r], o[d][2 * r + 1] * inv[r]);
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

template <class Tr, class T>
void launch(const Problem& pr, const ForwardArgs& a) {
  static bool configured = false;  // the attribute is per function: set it once
  if (!configured) {
    FC_CUDA(cudaFuncSetAttribute(flash2_fwd_kernel<Tr, T>,
                                 cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 static_cast<int>(Tr::kSmemBytes)));
    configured = true;
  }
  Params p{a.Q, a.K, a.V, a.O, a.LSE,
           static_cast<int>(pr.seqlen_q), static_cast<int>(pr.seqlen_k),
           static_cast<int>(pr.heads_q), static_cast<int>(pr.heads_kv),
           static_cast<int>(pr.group_size()),
           static_cast<float>(pr.softmax_scale()),
           static_cast<float>(pr.softmax_scale() * 1.4426950408889634),
           pr.mask};
  const dim3 grid(static_cast<unsigned>((pr.seqlen_q + Tr::kBr - 1) / Tr::kBr),
                  static_cast<unsigned>(pr.heads_q), static_cast<unsigned>(pr.batch));
  flash2_fwd_kernel<Tr, T><<<grid, Tr::kThreads, Tr::kSmemBytes, a.stream>>>(p);
  FC_CHECK_LAUNCH("flash2_fwd_kernel");
}

// The instantiated configurations: one per head dim (and dtype).
using TraitsD64 = Flash2FwdTraits<64, 128, 8, 2>;
using TraitsD128 = Flash2FwdTraits<128, 64, 8, 2>;

}  // namespace

Schedule flash2_fwd_schedule(const Problem& p) {
  if (p.head_dim == 64) return {LoopOrder::q_outer, TraitsD64::kBr, TraitsD64::kBc};
  return {LoopOrder::q_outer, TraitsD128::kBr, TraitsD128::kBc};
}

Support flash2_fwd_supports(const Problem& p) {
  if (p.dtype != DType::f16 && p.dtype != DType::bf16)
    return Support::no("flash2_fwd runs fp16 and bf16 only, not " + std::string(dtype_name(p.dtype)));
  if (p.head_dim != 64 && p.head_dim != 128)
    return Support::no("flash2_fwd instantiates head dims 64 and 128, not " +
                       std::to_string(p.head_dim));
  // Row indices are int inside the kernel; the grid's y and z are at most 65535.
  if (p.seqlen_q >= (int64_t(1) << 30) || p.seqlen_k >= (int64_t(1) << 30))
    return Support::no("flash2_fwd needs seqlen_q, seqlen_k < 2^30");
  if (p.heads_q > 65535 || p.batch > 65535)
    return Support::no("flash2_fwd needs heads_q, batch <= 65535 (grid y, z)");
  return Support::yes();
}

std::size_t flash2_fwd_workspace_bytes(const Problem&) { return 0; }

void flash2_fwd_forward(const Problem& p, const ForwardArgs& a) {
  const bool bf = p.dtype == DType::bf16;
  if (p.head_dim == 64) {
    bf ? launch<TraitsD64, __nv_bfloat16>(p, a) : launch<TraitsD64, __half>(p, a);
  } else {
    bf ? launch<TraitsD128, __nv_bfloat16>(p, a) : launch<TraitsD128, __half>(p, a);
  }
}

}  // namespace flashcheck::kernels
