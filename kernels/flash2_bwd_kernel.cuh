// The FlashAttention-2 backward kernel templates behind variant flash2_bwd
// (see flash2_bwd.cu). Three kernels, named after FlashAttention-2's phases:
//
//   dot_do_o   D = rowsum(dO * O), float32, one warp per row.
//   dkdv       KV-outer: one thread block per (KV block of Bc rows, KV head x
//              sub-group, batch); it loops over the query heads of its
//              sub-group of the GQA group (the whole group when splits = 1)
//              and the Q blocks its mask lets it see (Mask::q_blocks), recomputes
//              P^T = exp(scale K Q^T - LSE) and
//              dS^T = P^T * (V dO^T - D), and accumulates dV += P^T dO and
//              dK += scale dS^T Q in registers; each warp owns 16 rows of the
//              KV block (kDSplit > 1, d 256: kDSplit warps share 16 rows, each
//              computing S^T, dP^T for its share of the queries and owning
//              its share of the head dim of dK, dV; P^T and dS^T go through
//              shared memory between the two). splits = 1: dK, dV are written once, summed over the
//              group, no atomics. splits > 1: each block writes its float32
//              partial sums, and dkdv_reduce adds the sub-groups in a fixed
//              order (bitwise reproducible either way).
//              With kAtomicDQ it also stages dS^T in shared memory and adds
//              dS K into a float32 dQ accumulator with atomics (dq_atomic),
//              converted by dq_convert.
//   dq         deterministic mode, Q-outer: one thread block per (Q block of
//              Br rows, query head, batch), like the forward: recomputes P
//              and dS for its rows over the KV blocks it sees and accumulates
//              dQ += scale dS K in registers; written once, in a fixed order.
//
// Operands use the forward's swizzled shared-memory tiles and ldmatrix
// fragments (flash2_fwd_kernel.cuh): a matrix used as the A operand, or as
// the B operand of a product over head_dim, is read with ldmatrix; one used
// as the B operand of a product over rows is read with ldmatrix.trans.
#pragma once
#include "kernels/flash2_fwd_kernel.cuh"

namespace flashcheck::kernels::flash2 {

// Tile geometry of one backward kernel: kRows rows owned by the block (16 per
// row group of kDSplit warps), streaming blocks of kStream rows through a
// 2-stage ring. kDSplit > 1 (dkdv only): the warps of a row group split the
// head dim of the dK, dV accumulators (kAccDim columns each), which would
// not fit in registers at d 256 otherwise.
// kScoreQ_ (dkdv, kDSplit > 1): queries of S^T, dP^T a warp holds in
// registers at once (0: its whole share, kStream / kDSplit); a smaller value
// forms its share in passes of kScoreQ queries, staging each to shared
// memory, so a longer streamed block (fewer barriers per query) costs no
// registers.
template <int kHeadDim_, int kWarps_, int kStream_, int kDSplit_ = 1, int kScoreQ_ = 0>
struct Flash2BwdTraits {
  static constexpr int kHeadDim = kHeadDim_;
  static constexpr int kWarps = kWarps_;
  static constexpr int kThreads = 32 * kWarps;
  static constexpr int kDSplit = kDSplit_;
  static constexpr int kRowWarps = kWarps / kDSplit;   // row groups of 16 rows
  static constexpr int kRows = 16 * kRowWarps;         // Bc for dkdv, Br for dq
  static constexpr int kAccDim = kHeadDim / kDSplit;   // accumulator columns per warp
  static constexpr int kStream = kStream_;   // Br for dkdv, Bc for dq
  static constexpr int kScoreQ = kScoreQ_ ? kScoreQ_ : kStream / kDSplit;
  static constexpr int kStages = 2;
  static constexpr int kChunks = kHeadDim / 8;
  // Shared-memory row slot (swz): head_dim rounded up to 64 elements (d 32 in
  // a 64-wide slot, d 96 in a 128-wide one) so the XOR stays in the row; the
  // padding is never loaded, read or stored (every loop runs over kHeadDim).
  static constexpr int kRowElems = (kHeadDim + 63) / 64 * 64;
  static constexpr std::size_t kTile = static_cast<std::size_t>(kRowElems) * 2;  // bytes per row slot
  // Two resident tiles of kRows rows, two streamed tensors x 2 stages, and
  // two float rows (LSE, D) per stage for the streamed block.
  // dkdv with atomic dQ (or kDSplit > 1) also keeps dS^T (kRows x kStream,
  // 16-bit) on chip; kDSplit > 1 keeps P^T (the same size) too.
  static constexpr std::size_t kSmemDS = static_cast<std::size_t>(kRows) * kStream * 2;
  static constexpr std::size_t kSmemP = kDSplit > 1 ? kSmemDS : 0;
  static constexpr std::size_t kSmemBytes = 2 * kRows * kTile + 2 * kStages * kStream * kTile +
                                            2 * kStages * kStream * sizeof(float) + kSmemDS + kSmemP;
  static constexpr int kDSChunks = kStream / 8;  // 16-byte chunks per row of dS^T

  static_assert(kHeadDim % 32 == 0, "whole k16 steps, and pairs of n8 tiles of dK, dV, dQ");
  static_assert(kWarps % kDSplit == 0 && kAccDim % 16 == 0 && (kStream / kDSplit) % 16 == 0,
                "each warp of a row group: pairs of n8 tiles of queries and of head-dim columns");
  static_assert(kStream % 16 == 0, "the streamed block is a whole number of k16 steps");
  static_assert(kScoreQ % 16 == 0 && (kStream / kDSplit) % kScoreQ == 0 &&
                    (kDSplit > 1 || kScoreQ == kStream),
                "score passes: whole pairs of n8 tiles, splitting a warp's share (kDSplit > 1 only)");
  static_assert((kRows * kChunks) % kThreads == 0 && (kStream * kChunks) % kThreads == 0,
                "every thread copies the same number of chunks");
  static_assert(kSmemBytes <= 227 * 1024, "over the 227 KiB of shared memory of sm_90");
};

struct BwdParams {
  const void* Q;
  const void* K;
  const void* V;
  const void* O;
  const void* dO;
  const float* LSE;
  float* D;  // [B][heads_q][seqlen_q], written by dot_do_o
  void* dQ;
  void* dK;
  void* dV;
  float* dQaccum;  // atomic mode: float32 [B][heads_q][seqlen_q][d], zeroed before dkdv
  // splits > 1: float32 partial dK, dV of each sub-group, [2][splits][B][heads_kv][seqlen_k][d]
  float* dKVpart;
  int seqlen_q, seqlen_k, heads_q, heads_kv, group;
  int splits;  // sub-groups a GQA group's query heads are spread over (grid y = heads_kv x splits)
  float scale;       // softmax scale (dK, dQ are scaled by it at the end)
  float scale_log2;  // exponent scale of the scores: scale log2(e), or log2(e) with mod.on
  Mask mask;
  ScoreMod mod;      // softcap / ALiBi (flash2_fwd_kernel.cuh)
  const int* cu_q;   // varlen (seq_span, flash2_fwd_kernel.cuh); nullptr: dense
  const int* cu_k;
  int total_q, total_k;
  int64_t kv_elems;  // elements of K (dense or packed): the stride of the partial dK, dV
};

template <class T>
__device__ __forceinline__ float2 to_float2(uint32_t v);
template <>
__device__ __forceinline__ float2 to_float2<__half>(uint32_t v) {
  return __half22float2(*reinterpret_cast<__half2*>(&v));
}
template <>
__device__ __forceinline__ float2 to_float2<__nv_bfloat16>(uint32_t v) {
  return __bfloat1622float2(*reinterpret_cast<__nv_bfloat162*>(&v));
}

// D = rowsum(dO * O) in float32; one warp per row, 16-byte loads.
template <class T, int D>
__global__ void __launch_bounds__(256) dot_do_o_kernel(const BwdParams p, int64_t rows) {
  const int64_t row = blockIdx.x * 8 + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;
  const uint4* o = reinterpret_cast<const uint4*>(static_cast<const T*>(p.O) + row * D);
  const uint4* g = reinterpret_cast<const uint4*>(static_cast<const T*>(p.dO) + row * D);
  float acc = 0.f;
  for (int c = lane; c < D / 8; c += 32) {
    const uint4 a = o[c], b = g[c];
    const uint32_t av[4] = {a.x, a.y, a.z, a.w}, bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float2 x = to_float2<T>(av[i]), y = to_float2<T>(bv[i]);
      acc = fmaf(x.x, y.x, fmaf(x.y, y.y, acc));
    }
  }
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, off);
  if (lane == 0) p.D[row] = acc;
}

// acc[16 x N] += A[16 x d] * B[N x d]^T: A rows at `a` (a warp's 16 rows of a
// swizzled tile), B rows at `b` (N rows of a swizzled tile).
// kUnroll: k16 steps unrolled.
template <class Tr, class T, int N, int kUnroll = Tr::kHeadDim / 16>
__device__ __forceinline__ void mma_rows_by_rows(float (&acc)[N / 8][4], const T* a, const T* b,
                                                 int lane) {
#pragma unroll kUnroll
  for (int kk = 0; kk < Tr::kHeadDim / 16; ++kk) {
    uint32_t af[4];
    ptx::ldmatrix_x4(af, a + swz<Tr>(lane & 15, kk * 2 + (lane >> 4)));
#pragma unroll
    for (int np = 0; np < N / 16; ++np) {
      uint32_t bf[4];
      ptx::ldmatrix_x4(bf, b + swz<Tr>(np * 16 + ((lane >> 4) << 3) + (lane & 7),
                                       kk * 2 + ((lane >> 3) & 1)));
      ptx::mma_16816<T>(acc[2 * np], af, bf[0], bf[1]);
      ptx::mma_16816<T>(acc[2 * np + 1], af, bf[2], bf[3]);
    }
  }
}

// acc[16 x kAccDim] += A[16 x N] * B[N x kAccDim]: load_a(kk, frag) gives
// A's k16 step kk as an A fragment; B is the columns from 16-byte chunk
// `chunk0` on of N rows of a swizzled tile, read with ldmatrix.trans.
// kUnroll: k16 steps unrolled (1 where registers are short: d 256).
template <class Tr, class T, int N, int kUnroll = N / 16, class LoadA>
__device__ __forceinline__ void mma_frags_by_tile(float (&acc)[Tr::kAccDim / 8][4], LoadA load_a,
                                                  const T* b, int chunk0, int lane) {
#pragma unroll kUnroll
  for (int kk = 0; kk < N / 16; ++kk) {
    uint32_t af[4];
    load_a(kk, af);
#pragma unroll
    for (int dp = 0; dp < Tr::kAccDim / 16; ++dp) {
      uint32_t bf[4];
      ptx::ldmatrix_x4_trans(bf, b + swz<Tr>(kk * 16 + (lane & 15), chunk0 + dp * 2 + (lane >> 4)));
      ptx::mma_16816<T>(acc[2 * dp], af, bf[0], bf[1]);
      ptx::mma_16816<T>(acc[2 * dp + 1], af, bf[2], bf[3]);
    }
  }
}

// acc[16 x d] += P[16 x N] (C fragments in registers) * B[N x d] (rows of a
// swizzled tile, read with ldmatrix.trans).
template <class Tr, class T, int N>
__device__ __forceinline__ void mma_regs_by_tile(float (&acc)[Tr::kAccDim / 8][4],
                                                 const float (&p)[N / 8][4], const T* b, int lane) {
  mma_frags_by_tile<Tr, T, N>(
      acc,
      [&](int kk, uint32_t(&pf)[4]) {
        pf[0] = ptx::pack2<T>(p[2 * kk][0], p[2 * kk][1]);
        pf[1] = ptx::pack2<T>(p[2 * kk][2], p[2 * kk][3]);
        pf[2] = ptx::pack2<T>(p[2 * kk + 1][0], p[2 * kk + 1][1]);
        pf[3] = ptx::pack2<T>(p[2 * kk + 1][2], p[2 * kk + 1][3]);
      },
      b, 0, lane);
}

// A warp's slice of a block's accumulators: rows 16 (warp % kRowWarps) + ..,
// head-dim columns from kAccDim (warp / kRowWarps) on.
template <class Tr>
__device__ __forceinline__ int acc_row0(int warp) {
  return Tr::kDSplit == 1 ? warp * 16 : (warp % Tr::kRowWarps) * 16;
}
template <class Tr>
__device__ __forceinline__ int acc_col0(int warp) {
  return Tr::kDSplit == 1 ? 0 : (warp / Tr::kRowWarps) * Tr::kAccDim;  // 0: no split
}

// Writes a block's rows [row0, row0 + kRows) of a [rows][d] tensor from
// per-warp accumulators (times `mul`), staged through `stage` (kRows x d).
template <class Tr, class T>
__device__ __forceinline__ void store_rows(T* g, int row0, int rows, T* stage,
                                           const float (&acc)[Tr::kAccDim / 8][4], float mul,
                                           int warp, int lane, int tid) {
#pragma unroll
  for (int d = 0; d < Tr::kAccDim / 8; ++d)
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int row = acc_row0<Tr>(warp) + (lane >> 2) + r * 8;
      const int col = acc_col0<Tr>(warp) + d * 8 + (lane & 3) * 2;
      *reinterpret_cast<uint32_t*>(stage + swz<Tr>(row, col / 8) + col % 8) =
          ptx::pack2<T>(acc[d][2 * r] * mul, acc[d][2 * r + 1] * mul);
    }
  __syncthreads();
#pragma unroll
  for (int it = 0; it < Tr::kRows * Tr::kChunks / Tr::kThreads; ++it) {
    const int idx = tid + it * Tr::kThreads;
    const int r = idx / Tr::kChunks, c = idx % Tr::kChunks;
    if (row0 + r < rows)
      *reinterpret_cast<uint4*>(g + static_cast<int64_t>(row0 + r) * Tr::kHeadDim + c * 8) =
          *reinterpret_cast<const uint4*>(stage + swz<Tr>(r, c));
  }
}

// LSE * log2(e) for the exponent; a row that sees no key (LSE = -inf) gets
// +inf so that its P = exp2(s - inf) = 0 instead of NaN.
__device__ __forceinline__ float lse_log2(float lse) {
  return lse == -INFINITY ? INFINITY : lse * 1.4426950408889634f;
}

// Element offset of (row, chunk) in the dS^T tile (rows of kStream 16-bit
// values). 8+ chunks per row: chunk ^ (row % 8); 4 chunks (64-byte rows, two
// rows per 128 bytes): chunk ^ ((row / 2) % 4). Either way the 8 rows an
// ldmatrix reads at one chunk land in 8 different bank groups.
template <class Tr>
__device__ __forceinline__ int swz_ds(int row, int chunk) {
  static_assert(Tr::kDSChunks == 4 || Tr::kDSChunks >= 8, "the dS^T swizzle handles 4 or >= 8 chunks");
  const int x = Tr::kDSChunks >= 8 ? (row & 7) : ((row >> 1) & 3);
  return row * Tr::kStream + ((chunk ^ x) << 3);
}

// Atomic-mode dQ: dQaccum[q0 .., :] += dS (kStream x kRows, from the dS^T
// tile) * K (kRows x d). The kStream / 16 row tiles x the column groups
// (kWarps / row tiles of them, kCols = d / groups columns each: 64, or 32 at
// d 32, 48 at d 96) are spread over the warps, one tile per warp, formed
// kSub columns at a time (kDSplit > 1: 32, so that the accumulators fit
// beside the dK, dV ones).
template <class Tr, class T>
__device__ __forceinline__ void dq_atomic(float* dqa, int q0, int sq, const T* sDS, const T* sK,
                                          int warp, int lane) {
  constexpr int kRowTiles = Tr::kStream / 16, kGroups = Tr::kWarps / kRowTiles;
  constexpr int D = Tr::kHeadDim, Bc = Tr::kRows, kCols = D / kGroups;
  constexpr int kSub = Tr::kDSplit > 1 && kCols % 16 == 0 ? 16 : kCols;
  static_assert(kRowTiles * kGroups == Tr::kWarps && kCols * kGroups == D && kCols % 16 == 0,
                "one dQ tile (16 rows x a multiple of 16 columns) per warp");
  const int mt = warp % (Tr::kStream / 16), cg = warp / (Tr::kStream / 16);
#pragma unroll 1
  for (int sb = 0; sb < kCols / kSub; ++sb) {
    const int col0 = cg * kCols + sb * kSub;
    float acc[kSub / 8][4];
#pragma unroll
    for (int j = 0; j < kSub / 8; ++j) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;
#pragma unroll
    for (int kk = 0; kk < Bc / 16; ++kk) {
      uint32_t af[4];  // A[m = query][k = key] = dS^T[key][query]: ldmatrix.trans
      ptx::ldmatrix_x4_trans(af, sDS + swz_ds<Tr>(kk * 16 + (lane & 7) + ((lane >> 4) << 3),
                                                  mt * 2 + ((lane >> 3) & 1)));
#pragma unroll
      for (int dp = 0; dp < kSub / 16; ++dp) {
        uint32_t bf[4];
        ptx::ldmatrix_x4_trans(bf, sK + swz<Tr>(kk * 16 + (lane & 15), col0 / 8 + dp * 2 + (lane >> 4)));
        ptx::mma_16816<T>(acc[2 * dp], af, bf[0], bf[1]);
        ptx::mma_16816<T>(acc[2 * dp + 1], af, bf[2], bf[3]);
      }
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int q = q0 + mt * 16 + (lane >> 2) + r * 8;
      if (q >= sq) continue;
      float* row = dqa + static_cast<int64_t>(q) * D + col0 + (lane & 3) * 2;
#pragma unroll
      for (int j = 0; j < kSub / 8; ++j) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
        atomicAdd(reinterpret_cast<float2*>(row + j * 8), make_float2(acc[j][2 * r], acc[j][2 * r + 1]));
#else
        atomicAdd(row + j * 8, acc[j][2 * r]);
        atomicAdd(row + j * 8 + 1, acc[j][2 * r + 1]);
#endif
      }
    }
  }
}

// A warp's slice of float32 accumulators (times `mul`) straight to a
// [rows][d] float32 tensor, rows [row0 + acc_row0, +16) (the partial sums).
template <class Tr>
__device__ __forceinline__ void store_rows_f32(float* g, int row0, int rows,
                                               const float (&acc)[Tr::kAccDim / 8][4], float mul,
                                               int warp, int lane) {
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int row = row0 + acc_row0<Tr>(warp) + (lane >> 2) + r * 8;
    if (row >= rows) continue;
#pragma unroll
    for (int d = 0; d < Tr::kAccDim / 8; ++d)
      *reinterpret_cast<float2*>(g + static_cast<int64_t>(row) * Tr::kHeadDim + acc_col0<Tr>(warp) +
                                 d * 8 + (lane & 3) * 2) =
          make_float2(acc[d][2 * r] * mul, acc[d][2 * r + 1] * mul);
  }
}

// dK, dV = the sum over the splits sub-groups of their float32 partials
// (part: [2][splits][n], dK's then dV's), added in sub-group order, rounded
// to the dtype. n is a multiple of 4 (head_dim is).
template <class T>
__global__ void __launch_bounds__(256)
    dkdv_reduce_kernel(const float* part, T* dK, T* dV, int64_t n, int splits) {
  const int64_t n4 = n / 4;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < 2 * n4;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int which = i >= n4;  // 0: dK, 1: dV
    const int64_t e = (i - which * n4) * 4;
    const float* src = part + static_cast<int64_t>(which) * splits * n + e;
    float4 acc = *reinterpret_cast<const float4*>(src);
    for (int s = 1; s < splits; ++s) {
      const float4 x = *reinterpret_cast<const float4*>(src + s * n);
      acc.x += x.x;
      acc.y += x.y;
      acc.z += x.z;
      acc.w += x.w;
    }
    T* dst = (which ? dV : dK) + e;
    *reinterpret_cast<uint2*>(dst) = make_uint2(ptx::pack2<T>(acc.x, acc.y), ptx::pack2<T>(acc.z, acc.w));
  }
}

// dQ = scale * dQaccum, rounded to the dtype (atomic mode's last step).
template <class T>
__global__ void __launch_bounds__(256)
    dq_convert_kernel(const float* dqa, T* dq, int64_t n, float scale) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dq[i] = static_cast<T>(dqa[i] * scale);
}

// kMod: the softcap / ALiBi instantiation (p.mod.on), as in the forward.
template <class Tr, class T, bool kAtomicDQ, bool kMod>
__global__ void __launch_bounds__(Tr::kThreads) flash2_bwd_dkdv_kernel(const BwdParams p) {
  constexpr int D = Tr::kHeadDim, Bc = Tr::kRows, Br = Tr::kStream, kSplit = Tr::kDSplit;
  constexpr int kQ = Br / kSplit;  // queries of S^T, dP^T per warp
  constexpr int kQP = Tr::kScoreQ;  // of them in registers at once (one pass)
  constexpr int kNT = kQP / 8, kDT = Tr::kAccDim / 8;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900
  // A tile over sm_80's 163 KiB opt-in is launched on sm_90 only (flash2_bwd.cu).
  if constexpr (Tr::kSmemBytes > 163 * 1024) {
    __trap();
    return;
  }
#endif
  extern __shared__ __align__(128) unsigned char smem_raw[];
  constexpr int R = Tr::kRowElems;  // elements per shared-memory row slot
  T* sK = reinterpret_cast<T*>(smem_raw);
  T* sV = sK + Bc * R;
  T* sQ = sV + Bc * R;              // [2][Br][R]
  T* sdO = sQ + 2 * Br * R;         // [2][Br][R]
  float* sL = reinterpret_cast<float*>(sdO + 2 * Br * R);  // [2][Br] LSE * log2(e)
  float* sD = sL + 2 * Br;                                 // [2][Br] D
  T* sDS = reinterpret_cast<T*>(sD + 2 * Br);              // [Bc][Br] dS^T (atomic mode, split)
  T* sP = sDS + Bc * Br;                                   // [Bc][Br] P^T (kSplit > 1)

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int kb = blockIdx.x, hk = blockIdx.y / p.splits, sub = blockIdx.y % p.splits, b = blockIdx.z;
  const SeqSpan ks = seq_span(p.cu_k, p.total_k, p.seqlen_k, p.heads_kv, b, hk);
  const int sq = p.cu_q ? p.cu_q[b + 1] - p.cu_q[b] : p.seqlen_q, sk = ks.len;
  const int c0 = kb * Bc;
  if (c0 >= sk) return;  // varlen: a KV block past this sequence's end (dense: never)
  const int64_t kv_off = ks.row0 * D;
  const T* K = static_cast<const T*>(p.K) + kv_off;
  const T* V = static_cast<const T*>(p.V) + kv_off;
  const Range qblocks = p.mask.q_blocks(c0, min(c0 + Bc, sk), Br, sq, sk);
  const int nq = static_cast<int>(qblocks.size());
  // This block's query heads: sub-group `sub` of the group (near-equal shares).
  const int h0 = hk * p.group + sub * p.group / p.splits;
  const int steps = nq * ((sub + 1) * p.group / p.splits - sub * p.group / p.splits);
  // steps: (query head, Q block) pairs, head-major

  // Loads step s: Q, dO rows of its block, LSE and D of those rows.
  auto load_step = [&](int s, int stage) {
    const int h = h0 + s / nq;
    const int qb = static_cast<int>(qblocks.begin) + s % nq;
    const int64_t q_off = seq_span(p.cu_q, p.total_q, p.seqlen_q, p.heads_q, b, h).row0;
    load_tile<Tr, Br>(sQ + stage * Br * R, static_cast<const T*>(p.Q) + q_off * D, qb * Br, sq, tid);
    load_tile<Tr, Br>(sdO + stage * Br * R, static_cast<const T*>(p.dO) + q_off * D, qb * Br, sq,
                      tid);
    for (int r = tid; r < Br; r += Tr::kThreads) {
      const int row = qb * Br + r;
      sL[stage * Br + r] = row < sq ? lse_log2(p.LSE[q_off + row]) : INFINITY;
      sD[stage * Br + r] = row < sq ? p.D[q_off + row] : 0.f;
    }
  };

  load_tile<Tr, Bc>(sK, K, c0, sk, tid);
  load_tile<Tr, Bc>(sV, V, c0, sk, tid);
  if (steps > 0) load_step(0, 0);
  ptx::cp_async_commit();

  float dk[kDT][4], dv[kDT][4];
#pragma unroll
  for (int i = 0; i < kDT; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) dk[i][e] = dv[i][e] = 0.f;
  // This warp: 16 KV rows from kr0; queries [qh, qh + kQ) of each Q block
  // for S^T, dP^T; head-dim columns from acc_col0 of dK, dV.
  const int kr0 = c0 + acc_row0<Tr>(warp), qh = kSplit == 1 ? 0 : warp / Tr::kRowWarps * kQ;

  for (int s = 0; s < steps; ++s) {
    ptx::cp_async_wait<0>();
    __syncthreads();  // step s landed; everyone is done with the other stage
    if (s + 1 < steps) load_step(s + 1, (s + 1) & 1);
    ptx::cp_async_commit();
    const int st = s & 1;
    const T* tQ = sQ + st * Br * R;
    const T* tdO = sdO + st * Br * R;
    const float* tL = sL + st * Br;
    const float* tD = sD + st * Br;
    const int q0 = (static_cast<int>(qblocks.begin) + s % nq) * Br;

    // dS^T to shared memory for the dQ product below (and, split, P^T and
    // dS^T for the dV, dK products of the row group's other warps).
    auto stage_tile = [&](T* tile, const float(&x)[kNT][4], int qa) {
#pragma unroll
      for (int j = 0; j < kNT; ++j)
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          const int row = kr0 - c0 + (lane >> 2) + r * 8;
          const int col = qa + j * 8 + (lane & 3) * 2;
          *reinterpret_cast<uint32_t*>(tile + swz_ds<Tr>(row, col / 8) + col % 8) =
              ptx::pack2<T>(x[j][2 * r], x[j][2 * r + 1]);
        }
    };
    // The warp's kQ queries in passes of kQP (one pass unless kScoreQ < kQ).
#pragma unroll 1
    for (int qa = qh; qa < qh + kQ; qa += kQP) {
      // S^T = K Q^T and dP^T = V dO^T for the warp's 16 KV rows x kQP queries.
      float st_[kNT][4], dpt[kNT][4];
#pragma unroll
      for (int j = 0; j < kNT; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) st_[j][e] = dpt[j][e] = 0.f;
      constexpr int kUnrollD = kSplit == 1 ? D / 16 : 8;  // d 256: fewer loads in flight (registers)
      mma_rows_by_rows<Tr, T, kQP, kUnrollD>(st_, sK + (kr0 - c0) * R, tQ + qa * R, lane);
      mma_rows_by_rows<Tr, T, kQP, kUnrollD>(dpt, sV + (kr0 - c0) * R, tdO + qa * R, lane);

      // P^T = exp2(scale_log2 S^T - LSE log2(e)); masked and out-of-range
      // (query, key) pairs get 0. dS^T = P^T (dP^T - D).
      const float slope = p.mod.slope_of(h0 + s / nq);
      const bool full = p.mask.tile_fully_visible(q0, q0 + Br, kr0, kr0 + 16, sq, sk);
#pragma unroll
      for (int j = 0; j < kNT; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int kv = kr0 + (lane >> 2) + (e >> 1) * 8;
          const int qc = qa + j * 8 + (lane & 3) * 2 + (e & 1);
          // Softcap's (1 - tanh^2) is the chain rule from the final logit back
          // to scale S (the scale itself is applied at the end).
          float x = st_[j][e], dfac = 1.f;
          if constexpr (kMod) x = p.mod.logit(x, q0 + qc, kv, sq, sk, slope, dfac);
          float pt = exp2_ftz(fmaf(x, p.scale_log2, -tL[qc]));
          if (!full && !p.mask.visible(q0 + qc, kv, sq, sk)) pt = 0.f;
          st_[j][e] = pt;
          dpt[j][e] = pt * (dpt[j][e] - tD[qc]) * dfac;
        }
      if constexpr (kAtomicDQ || kSplit > 1) stage_tile(sDS, dpt, qa);
      // dV += P^T dO, dK += dS^T Q (scale applied at the end).
      if constexpr (kSplit == 1) {
        mma_regs_by_tile<Tr, T, Br>(dv, st_, tdO, lane);
        mma_regs_by_tile<Tr, T, Br>(dk, dpt, tQ, lane);
      } else {
        stage_tile(sP, st_, qa);
      }
    }
    if constexpr (kSplit > 1) {
      __syncthreads();  // the row group's P^T, dS^T columns are in
      // A = the warp's 16 rows of P^T (dS^T) over all Br queries: ldmatrix.
      auto rows_of = [&](const T* tile) {
        return [tile, kr0, c0, lane](int kk, uint32_t(&af)[4]) {
          ptx::ldmatrix_x4(af, tile + swz_ds<Tr>(kr0 - c0 + (lane & 15), kk * 2 + (lane >> 4)));
        };
      };
      const int chunk0 = acc_col0<Tr>(warp) / 8;
      mma_frags_by_tile<Tr, T, Br, 1>(dv, rows_of(sP), tdO, chunk0, lane);
      mma_frags_by_tile<Tr, T, Br, 1>(dk, rows_of(sDS), tQ, chunk0, lane);
    }
    if constexpr (kAtomicDQ) {
      if constexpr (kSplit == 1) __syncthreads();  // every warp's rows of dS^T are in
      const int h = h0 + s / nq;
      dq_atomic<Tr, T>(p.dQaccum + seq_span(p.cu_q, p.total_q, p.seqlen_q, p.heads_q, b, h).row0 * D,
                       q0, sq, sDS, sK, warp, lane);
    }
  }
  const int64_t out_off = kv_off;
  if (p.splits > 1) {  // partial sums of this sub-group; dkdv_reduce adds them up
    const int64_t n = p.kv_elems;
    store_rows_f32<Tr>(p.dKVpart + sub * n + out_off, c0, sk, dk, p.scale, warp, lane);
    store_rows_f32<Tr>(p.dKVpart + (p.splits + sub) * n + out_off, c0, sk, dv, 1.f, warp, lane);
    ptx::cp_async_wait<0>();
    return;
  }
  ptx::cp_async_wait<0>();
  __syncthreads();  // every warp is done with sK, sV: reuse them as staging
  store_rows<Tr, T>(static_cast<T*>(p.dK) + out_off, c0, sk, sK, dk, p.scale, warp, lane, tid);
  store_rows<Tr, T>(static_cast<T*>(p.dV) + out_off, c0, sk, sV, dv, 1.f, warp, lane, tid);
}

template <class Tr, class T, bool kMod>
__global__ void __launch_bounds__(Tr::kThreads) flash2_bwd_dq_kernel(const BwdParams p) {
  constexpr int D = Tr::kHeadDim, Br = Tr::kRows, Bc = Tr::kStream, kNT = Bc / 8, kDT = D / 8;
  static_assert(Tr::kDSplit == 1, "the dq kernel's warps each own 16 rows over the whole head dim");
  extern __shared__ __align__(128) unsigned char smem_raw[];
  constexpr int R = Tr::kRowElems;  // elements per shared-memory row slot
  T* sQ = reinterpret_cast<T*>(smem_raw);
  T* sdO = sQ + Br * R;
  T* sK = sdO + Br * R;       // [2][Bc][R]
  T* sV = sK + 2 * Bc * R;    // [2][Bc][R]

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int qb = gridDim.x - 1 - blockIdx.x;  // heaviest first, as the forward
  const int h = blockIdx.y, b = blockIdx.z;
  const SeqSpan qs = seq_span(p.cu_q, p.total_q, p.seqlen_q, p.heads_q, b, h);
  const SeqSpan ks = seq_span(p.cu_k, p.total_k, p.seqlen_k, p.heads_kv, b, h / p.group);
  const int sq = qs.len, sk = ks.len;
  const int r0 = qb * Br;
  if (r0 >= sq) return;  // varlen: a Q block past this sequence's end (dense: never)
  const int64_t q_off = qs.row0;
  const int64_t kv_off = ks.row0 * D;
  const T* K = static_cast<const T*>(p.K) + kv_off;
  const T* V = static_cast<const T*>(p.V) + kv_off;
  const Range blocks = p.mask.kv_blocks(r0, min(r0 + Br, sq), Bc, sq, sk);
  const int nb0 = static_cast<int>(blocks.begin), nb1 = static_cast<int>(blocks.end);

  load_tile<Tr, Br>(sQ, static_cast<const T*>(p.Q) + q_off * D, r0, sq, tid);
  load_tile<Tr, Br>(sdO, static_cast<const T*>(p.dO) + q_off * D, r0, sq, tid);
  if (nb0 < nb1) {
    load_tile<Tr, Bc>(sK, K, nb0 * Bc, sk, tid);
    load_tile<Tr, Bc>(sV, V, nb0 * Bc, sk, tid);
  }
  ptx::cp_async_commit();

  const int wr0 = r0 + warp * 16;
  const float slope = p.mod.slope_of(h);
  float lse2[2], drow[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int row = wr0 + (lane >> 2) + r * 8;
    lse2[r] = row < sq ? lse_log2(p.LSE[q_off + row]) : INFINITY;
    drow[r] = row < sq ? p.D[q_off + row] : 0.f;
  }
  float dq[kDT][4];
#pragma unroll
  for (int i = 0; i < kDT; ++i) dq[i][0] = dq[i][1] = dq[i][2] = dq[i][3] = 0.f;

  for (int nb = nb0, i = 0; nb < nb1; ++nb, ++i) {
    ptx::cp_async_wait<0>();
    __syncthreads();
    if (nb + 1 < nb1) {
      load_tile<Tr, Bc>(sK + ((i + 1) & 1) * Bc * R, K, (nb + 1) * Bc, sk, tid);
      load_tile<Tr, Bc>(sV + ((i + 1) & 1) * Bc * R, V, (nb + 1) * Bc, sk, tid);
    }
    ptx::cp_async_commit();
    const T* tK = sK + (i & 1) * Bc * R;
    const T* tV = sV + (i & 1) * Bc * R;

    float s[kNT][4], dp[kNT][4];
#pragma unroll
    for (int j = 0; j < kNT; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) s[j][e] = dp[j][e] = 0.f;
    mma_rows_by_rows<Tr, T, Bc>(s, sQ + warp * 16 * R, tK, lane);
    mma_rows_by_rows<Tr, T, Bc>(dp, sdO + warp * 16 * R, tV, lane);

    const int c0 = nb * Bc;
    const bool full = p.mask.tile_fully_visible(wr0, wr0 + 16, c0, c0 + Bc, sq, sk);
#pragma unroll
    for (int j = 0; j < kNT; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int r = e >> 1;
        const int row = wr0 + (lane >> 2) + r * 8, col = c0 + j * 8 + (lane & 3) * 2 + (e & 1);
        float x = s[j][e], dfac = 1.f;
        if constexpr (kMod) x = p.mod.logit(x, row, col, sq, sk, slope, dfac);
        float pv = exp2_ftz(fmaf(x, p.scale_log2, -lse2[r]));
        if (!full && !p.mask.visible(row, col, sq, sk)) pv = 0.f;
        s[j][e] = pv * (dp[j][e] - drow[r]) * dfac;  // dS (times softcap's 1 - tanh^2)
      }
    mma_regs_by_tile<Tr, T, Bc>(dq, s, tK, lane);  // dQ += dS K
  }
  ptx::cp_async_wait<0>();
  __syncthreads();  // every warp is done with sQ: reuse it as staging
  store_rows<Tr, T>(static_cast<T*>(p.dQ) + q_off * D, r0, sq, sQ, dq, p.scale, warp, lane, tid);
}

}  // namespace flashcheck::kernels::flash2
