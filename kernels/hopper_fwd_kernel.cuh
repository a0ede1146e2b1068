// The Hopper (sm_90a) FlashAttention forward kernel template and its host
// launch (tensor maps, grid) behind variant hopper_fwd (see hopper_fwd.cu for
// what the variant is and which configurations it instantiates;
// kernels/tools/hopper_tune.cu instantiates candidates).
//
// One thread block of 3 warpgroups per (Q block of 128 rows, query head,
// batch):
//   warpgroup 0, the producer: gives its registers away (setmaxnreg.dec) and
//     one thread issues every TMA load: Q once, then K_0, K_1, V_0, K_2, V_1,
//     ... into a ring of kStages K buffers and kStages V buffers, each with a
//     "full" mbarrier (TMA transactions) and an "empty" one (one arrival per
//     consumer warp);
//   warpgroups 1 and 2, the consumers: 64 rows each (wgmma's M), registers
//     raised to kConsumerRegs. Per KV block j: S_j = Q K_j^T (wgmma, both
//     operands in shared memory) is issued together with O += P_{j-1} V_{j-1}
//     (wgmma, P from registers, V transposed by the descriptor); the softmax
//     of S_j runs while the P V product is still on the tensor cores. With
//     kPingPong the two consumer warpgroups take turns issuing (named
//     barriers), so one warpgroup's softmax overlaps the other's products.
// The epilogue writes O / l into the warpgroup's own rows of the Q buffer and
// stores it with TMA (rows past seqlen_q are clipped by the tensor map); LSE
// goes straight from registers.
//
// Shared memory tiles are rows of 64 16-bit values (128 bytes) in the 128-byte
// swizzle; a head dim of 128 is two such tiles side by side ("halves"). TMA
// zero-fills rows past the sequence end, so ragged tails need no special
// load path.
#pragma once
#include <cuda.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>

#include "kernels/api.hpp"
#include "kernels/check.hpp"
#include "kernels/mma.cuh"
#include "kernels/sm90.cuh"
#include "kernels/smem_attr.hpp"
#include "kernels/sm90_wgmma.cuh"
#include "kernels/tensor_map.hpp"

namespace flashcheck::kernels::hopper {

template <int kHeadDim_, int kBc_, int kStages_, bool kPingPong_>
struct HopperFwdTraits {
  static constexpr int kHeadDim = kHeadDim_;
  static constexpr int kBc = kBc_;
  static constexpr int kStages = kStages_;
  static constexpr bool kPingPong = kPingPong_;
  static constexpr int kConsumerWGs = 2;
  static constexpr int kRowsPerWG = 64;  // wgmma M
  static constexpr int kBr = kConsumerWGs * kRowsPerWG;
  static constexpr int kThreads = 128 * (1 + kConsumerWGs);
  static constexpr int kConsumerWarps = 4 * kConsumerWGs;
  static constexpr int kHalves = kHeadDim / 64;  // 128-byte tiles per row
  // Registers per thread after setmaxnreg; the block starts with
  // 65536 / kThreads (168) each.
  static constexpr int kProducerRegs = 24;
  static constexpr int kConsumerRegs = 240;

  static constexpr uint32_t kQBytes = kBr * kHeadDim * 2;
  static constexpr uint32_t kKVBytes = kBc * kHeadDim * 2;  // one K (or V) stage
  static constexpr uint32_t kOffK = kQBytes;
  static constexpr uint32_t kOffV = kOffK + kStages * kKVBytes;
  static constexpr uint32_t kOffBar = kOffV + kStages * kKVBytes;
  static constexpr uint32_t kBarriers = 1 + 4 * kStages;  // Q full; K, V full and empty
  // 1024 bytes of slack: dynamic shared memory is only 16-byte aligned and
  // the swizzle atoms must start on 1024-byte boundaries.
  static constexpr std::size_t kSmemBytes = 1024 + kOffBar + 8 * kBarriers;

  static_assert(kHeadDim == 64 || kHeadDim == 128, "head dim 64 or 128 (one or two 128-byte tiles)");
  static_assert(kBc % 16 == 0 && kBc >= 64 && kBc <= 256,
                "Bc: whole k16 steps of P V, wgmma N <= 256, TMA box rows <= 256");
  static_assert(kBc == 64 || kBc == 128, "sm90_wgmma.cuh instantiates N = 64 and 128");
  static_assert(kStages >= 2, "the ring needs a stage to fill while one is read");
  static_assert((kBc * 128) % 1024 == 0 && (kBr * 128) % 1024 == 0,
                "every tile starts on a swizzle-atom boundary");
  static_assert(kSmemBytes <= 227 * 1024, "over the 227 KiB of shared memory of sm_90");
  static_assert(128 * kProducerRegs + 128 * kConsumerWGs * kConsumerRegs <= 65536,
                "setmaxnreg budget over the register file");
  static_assert(kProducerRegs % 8 == 0 && kConsumerRegs % 8 == 0 && kConsumerRegs <= 256,
                "setmaxnreg takes multiples of 8 up to 256");
};

struct Params {
  float* LSE;
  int seqlen_q, seqlen_k, heads_q, heads_kv, group;
  float scale;       // softmax scale
  float scale_log2;  // scale * log2(e)
  Mask mask;
};

// 2^x; flushes denormal results to 0, which is below what P can resolve.
__device__ __forceinline__ float exp2_ftz(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// Named barrier ids: 0 is __syncthreads; the ping-pong pair; one per consumer
// warpgroup for its epilogue.
constexpr uint32_t kBarTurn0 = 1;  // consumer warpgroup 0 may issue (+1: warpgroup 1)
constexpr uint32_t kBarEpilogue0 = 3;

template <class Tr, class T>
__global__ void __launch_bounds__(Tr::kThreads, 1)
    hopper_fwd_kernel(const __grid_constant__ CUtensorMap tmQ,
                      const __grid_constant__ CUtensorMap tmK,
                      const __grid_constant__ CUtensorMap tmV,
                      const __grid_constant__ CUtensorMap tmO, const Params p) {
#if defined(FC_SM90A)
  using namespace sm90;
  constexpr int D = Tr::kHeadDim, Br = Tr::kBr, Bc = Tr::kBc, kStages = Tr::kStages;
  constexpr int kSN = Bc / 2;  // S accumulator registers per thread (64 x Bc over 128 threads)
  constexpr int kON = D / 2;   // O accumulator registers per thread
  extern __shared__ unsigned char smem_raw[];
  const uint32_t raw = smem_u32(smem_raw);
  const uint32_t base = (raw + 1023u) & ~1023u;  // swizzle atoms on 1024-byte boundaries
  unsigned char* smem = smem_raw + (base - raw);
  const uint32_t sQ = base, sK = base + Tr::kOffK, sV = base + Tr::kOffV;
  const uint32_t bar_q = base + Tr::kOffBar;
  auto bar_k_full = [&](int s) { return bar_q + 8u * (1 + s); };
  auto bar_k_empty = [&](int s) { return bar_q + 8u * (1 + kStages + s); };
  auto bar_v_full = [&](int s) { return bar_q + 8u * (1 + 2 * kStages + s); };
  auto bar_v_empty = [&](int s) { return bar_q + 8u * (1 + 3 * kStages + s); };

  // Heaviest Q blocks (most KV blocks under a causal mask) start first.
  const int qb = gridDim.x - 1 - blockIdx.x;
  const int h = blockIdx.y, b = blockIdx.z;
  const int sq = p.seqlen_q, sk = p.seqlen_k;
  const int r0 = qb * Br;
  const Range blocks = p.mask.kv_blocks(r0, min(r0 + Br, sq), Bc, sq, sk);
  const int nb0 = static_cast<int>(blocks.begin);
  const int n = static_cast<int>(blocks.end - blocks.begin) > 0
                    ? static_cast<int>(blocks.end - blocks.begin) : 0;
  const int zq = b * p.heads_q + h;                   // matrix index of Q, O, LSE
  const int zkv = b * p.heads_kv + h / p.group;       // matrix index of K, V

  const int wg = threadIdx.x / 128;
  if (threadIdx.x == 0) {
    mbar_init(bar_q, 1);
    for (int s = 0; s < kStages; ++s) {
      mbar_init(bar_k_full(s), 1);
      mbar_init(bar_v_full(s), 1);
      mbar_init(bar_k_empty(s), Tr::kConsumerWarps);
      mbar_init(bar_v_empty(s), Tr::kConsumerWarps);
    }
    mbar_init_fence();
  }
  __syncthreads();

  if (wg == 0) {
    // ---------------- producer ----------------
    setmaxnreg_dec<Tr::kProducerRegs>();
    if (threadIdx.x == 0) {
      prefetch_tensor_map(&tmQ);
      prefetch_tensor_map(&tmK);
      prefetch_tensor_map(&tmV);
      mbar_arrive_expect_tx(bar_q, Tr::kQBytes);
#pragma unroll
      for (int hf = 0; hf < Tr::kHalves; ++hf)
        tma_load_3d(sQ + hf * Br * 128, &tmQ, hf * 64, r0, zq, bar_q);
      auto load_kv = [&](const CUtensorMap* map, uint32_t dst, uint32_t full, uint32_t empty,
                         int i) {
        mbar_wait(empty, ((i / kStages) & 1) ^ 1);
        mbar_arrive_expect_tx(full, Tr::kKVBytes);
#pragma unroll
        for (int hf = 0; hf < Tr::kHalves; ++hf)
          tma_load_3d(dst + hf * Bc * 128, map, hf * 64, (nb0 + i) * Bc, zkv, full);
      };
      // K_i before V_{i-1}: the consumers need them in that order.
      for (int i = 0; i < n; ++i) {
        const int s = i % kStages;
        load_kv(&tmK, sK + s * Tr::kKVBytes, bar_k_full(s), bar_k_empty(s), i);
        if (i > 0) {
          const int sv = (i - 1) % kStages;
          load_kv(&tmV, sV + sv * Tr::kKVBytes, bar_v_full(sv), bar_v_empty(sv), i - 1);
        }
      }
      if (n > 0) {
        const int sv = (n - 1) % kStages;
        load_kv(&tmV, sV + sv * Tr::kKVBytes, bar_v_full(sv), bar_v_empty(sv), n - 1);
      }
    }
    return;
  }

  // ---------------- consumers ----------------
  setmaxnreg_inc<Tr::kConsumerRegs>();
  const int cw = wg - 1;                 // consumer warpgroup 0 or 1
  const int wt = threadIdx.x - 128 * wg;  // thread in the warpgroup
  const int warp = wt / 32, lane = wt % 32;
  const bool warp_leader = lane == 0;
  // This thread's two rows (accumulator rows lane/4 and lane/4 + 8 of its warp).
  const int wrow0 = cw * 64;  // first row of the warpgroup inside the block
  int row[2], lo[2], hi[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    row[r] = r0 + wrow0 + warp * 16 + lane / 4 + 8 * r;
    if (row[r] < sq) {
      const Range kr = p.mask.key_range(row[r], sq, sk);
      lo[r] = static_cast<int>(kr.begin);
      hi[r] = static_cast<int>(kr.end);
    } else {
      lo[r] = hi[r] = 0;  // past the end: sees nothing (and is never stored)
    }
  }
  const int lo_all = max(lo[0], lo[1]), hi_all = min(hi[0], hi[1]);

  if constexpr (Tr::kPingPong) {
    if (cw == 1) named_arrive(kBarTurn0, 256);  // warpgroup 0 issues first
  }
  auto turn_wait = [&] {
    if constexpr (Tr::kPingPong) named_sync(kBarTurn0 + cw, 256);
  };
  auto turn_pass = [&] {
    if constexpr (Tr::kPingPong) named_arrive(kBarTurn0 + (1 - cw), 256);
  };

  float o[kON];
#pragma unroll
  for (int i = 0; i < kON; ++i) o[i] = 0.f;
  float m[2] = {-INFINITY, -INFINITY};  // running max of raw scores
  float l[2] = {0.f, 0.f};              // this thread's part of the row sums
  float s[kSN];
  uint32_t pf[Bc / 16][4];  // P as A fragments, one per k16 step of P V

  const uint64_t q_desc = smem_desc(sQ + wrow0 * 128, 16, 1024);
  auto issue_qk = [&](int stage) {
    const uint64_t k_desc = smem_desc(sK + stage * Tr::kKVBytes, 16, 1024);
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      const uint32_t off_q = (kk / 4) * Br * 128 + (kk % 4) * 32;
      const uint32_t off_k = (kk / 4) * Bc * 128 + (kk % 4) * 32;
      wgmma_ss<T, Bc>(s, desc_add(q_desc, off_q), desc_add(k_desc, off_k), kk > 0);
    }
    wgmma_commit();
  };
  auto issue_pv = [&](int stage) {
    // V is [Bc][D] with D contiguous: the MN-major B operand; lbo steps to
    // the second 64-column half.
    const uint64_t v_desc = smem_desc(sV + stage * Tr::kKVBytes, Bc * 128, 1024);
#pragma unroll
    for (int kk = 0; kk < Bc / 16; ++kk) wgmma_rs<T, D>(o, pf[kk], desc_add(v_desc, kk * 2048), 1);
    wgmma_commit();
  };
  auto release = [&](uint32_t bar) {
    if (warp_leader) mbar_arrive(bar);
  };
  // Masks S_j (block kb), updates the running max, turns S into P (float, in
  // place) and returns the rescale factors of O and l in alpha.
  auto softmax = [&](int kb, float (&alpha)[2], float (&rowsum)[2]) {
    const int c0 = kb * Bc;
    if (!(c0 >= lo_all && c0 + Bc <= hi_all)) {
#pragma unroll
      for (int j = 0; j < Bc / 8; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int r = e >> 1;
          const int col = c0 + j * 8 + (lane % 4) * 2 + (e & 1);
          if (col < lo[r] || col >= hi[r]) s[4 * j + e] = -INFINITY;
        }
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float mx = m[r];
#pragma unroll
      for (int j = 0; j < Bc / 8; ++j) mx = fmaxf(mx, fmaxf(s[4 * j + 2 * r], s[4 * j + 2 * r + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      // A row that has seen only masked keys keeps max -inf; subtracting 0
      // instead keeps exp2(-inf - base) = 0 rather than NaN.
      const float base_r = mx == -INFINITY ? 0.f : mx * p.scale_log2;
      alpha[r] = exp2_ftz(m[r] * p.scale_log2 - base_r);
      m[r] = mx;
      float sum = 0.f;
#pragma unroll
      for (int j = 0; j < Bc / 8; ++j) {
        s[4 * j + 2 * r] = exp2_ftz(fmaf(s[4 * j + 2 * r], p.scale_log2, -base_r));
        s[4 * j + 2 * r + 1] = exp2_ftz(fmaf(s[4 * j + 2 * r + 1], p.scale_log2, -base_r));
        sum += s[4 * j + 2 * r] + s[4 * j + 2 * r + 1];
      }
      rowsum[r] = sum;
    }
  };
  auto rescale = [&](const float (&alpha)[2], const float (&rowsum)[2]) {
#pragma unroll
    for (int j = 0; j < D / 8; ++j) {
      o[4 * j + 0] *= alpha[0];
      o[4 * j + 1] *= alpha[0];
      o[4 * j + 2] *= alpha[1];
      o[4 * j + 3] *= alpha[1];
    }
    l[0] = l[0] * alpha[0] + rowsum[0];
    l[1] = l[1] * alpha[1] + rowsum[1];
  };
  auto to_fragments = [&] {
#pragma unroll
    for (int kk = 0; kk < Bc / 16; ++kk) {
      pf[kk][0] = ptx::pack2<T>(s[8 * kk + 0], s[8 * kk + 1]);
      pf[kk][1] = ptx::pack2<T>(s[8 * kk + 2], s[8 * kk + 3]);
      pf[kk][2] = ptx::pack2<T>(s[8 * kk + 4], s[8 * kk + 5]);
      pf[kk][3] = ptx::pack2<T>(s[8 * kk + 6], s[8 * kk + 7]);
    }
  };

  mbar_wait(bar_q, 0);
  if (n > 0) {
    float alpha[2], rowsum[2];
    // Block 0: S_0 alone.
    mbar_wait(bar_k_full(0), 0);
    turn_wait();
    wgmma_fence();
    issue_qk(0);
    turn_pass();
    wgmma_wait<0>();
    fence_regs(s);
    release(bar_k_empty(0));
    softmax(nb0, alpha, rowsum);
    rescale(alpha, rowsum);
    to_fragments();
    // Blocks 1..n-1: S_i with O += P_{i-1} V_{i-1}.
    for (int i = 1; i < n; ++i) {
      const int st = i % kStages, sv = (i - 1) % kStages;
      mbar_wait(bar_k_full(st), (i / kStages) & 1);
      turn_wait();
      wgmma_fence();
      issue_qk(st);
      mbar_wait(bar_v_full(sv), ((i - 1) / kStages) & 1);
      issue_pv(sv);
      turn_pass();
      wgmma_wait<1>();  // S_i is ready; P V may still run
      fence_regs(s);
      release(bar_k_empty(st));
      softmax(nb0 + i, alpha, rowsum);
      wgmma_wait<0>();  // P_{i-1} and O are free again
      fence_regs(o);
      fence_regs(s);  // keeps the new P fragments below the wait
      release(bar_v_empty(sv));
      rescale(alpha, rowsum);
      to_fragments();
    }
    // The last P V.
    const int sv = (n - 1) % kStages;
    mbar_wait(bar_v_full(sv), ((n - 1) / kStages) & 1);
    wgmma_fence();
    issue_pv(sv);
    wgmma_wait<0>();
    fence_regs(o);
    release(bar_v_empty(sv));
  }
  if constexpr (Tr::kPingPong) {
    // Consume warpgroup 1's last hand-over so both barriers end balanced.
    if (cw == 0) named_sync(kBarTurn0, 256);
  }

  // ---------------- epilogue ----------------
  // O / l and LSE = scale * m + log(l); l = 0 means the row saw no key:
  // O = 0, LSE = -inf.
  float inv[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float lr = l[r];
    lr += __shfl_xor_sync(0xffffffffu, lr, 1);
    lr += __shfl_xor_sync(0xffffffffu, lr, 2);
    inv[r] = lr > 0.f ? 1.f / lr : 0.f;
    if (lane % 4 == 0 && row[r] < sq)
      p.LSE[static_cast<int64_t>(zq) * sq + row[r]] =
          lr > 0.f ? m[r] * p.scale + logf(lr) : -INFINITY;
  }
  // The warpgroup's own rows of the Q buffer (its last read of them, S_{n-1},
  // has completed) take O in the same swizzled layout, then one TMA store.
#pragma unroll
  for (int j = 0; j < D / 8; ++j) {
    const int col = j * 8 + (lane % 4) * 2;
    const int hf = col / 64;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int lrow = wrow0 + warp * 16 + lane / 4 + 8 * r;  // row inside the block
      const uint32_t off = hf * Br * 128 + swizzle128(lrow, col % 64);
      *reinterpret_cast<uint32_t*>(smem + off) =
          ptx::pack2<T>(o[4 * j + 2 * r] * inv[r], o[4 * j + 2 * r + 1] * inv[r]);
    }
  }
  fence_proxy_async_smem();
  named_sync(kBarEpilogue0 + cw, 128);
  if (wt == 0 && r0 + wrow0 < sq) {
#pragma unroll
    for (int hf = 0; hf < Tr::kHalves; ++hf)
      tma_store_3d(&tmO, hf * 64, r0 + wrow0, zq, sQ + hf * Br * 128 + wrow0 * 128);
    tma_store_commit();
    tma_store_wait_read();
  }
#else
  // Built without sm_90a code: never silently produce nothing.
  __trap();
#endif
}

inline Params make_params(const Problem& pr, const ForwardArgs& a) {
  return Params{a.LSE,
                static_cast<int>(pr.seqlen_q), static_cast<int>(pr.seqlen_k),
                static_cast<int>(pr.heads_q), static_cast<int>(pr.heads_kv),
                static_cast<int>(pr.group_size()),
                static_cast<float>(pr.softmax_scale()),
                static_cast<float>(pr.softmax_scale() * 1.4426950408889634),
                pr.mask};
}

template <class Tr, class T>
void launch(const Problem& pr, const ForwardArgs& a) {
  set_max_dynamic_smem(hopper_fwd_kernel<Tr, T>, Tr::kSmemBytes);
  const int64_t d = pr.head_dim;
  const int64_t mq = pr.batch * pr.heads_q, mkv = pr.batch * pr.heads_kv;
  const CUtensorMap tmQ = make_tensor_map_sw128(a.Q, pr.dtype, mq, pr.seqlen_q, d, Tr::kBr);
  const CUtensorMap tmK = make_tensor_map_sw128(a.K, pr.dtype, mkv, pr.seqlen_k, d, Tr::kBc);
  const CUtensorMap tmV = make_tensor_map_sw128(a.V, pr.dtype, mkv, pr.seqlen_k, d, Tr::kBc);
  const CUtensorMap tmO = make_tensor_map_sw128(a.O, pr.dtype, mq, pr.seqlen_q, d, Tr::kRowsPerWG);
  const dim3 grid(static_cast<unsigned>((pr.seqlen_q + Tr::kBr - 1) / Tr::kBr),
                  static_cast<unsigned>(pr.heads_q), static_cast<unsigned>(pr.batch));
  hopper_fwd_kernel<Tr, T><<<grid, Tr::kThreads, Tr::kSmemBytes, a.stream>>>(
      tmQ, tmK, tmV, tmO, make_params(pr, a));
  FC_CHECK_LAUNCH("hopper_fwd_kernel");
}

}  // namespace flashcheck::kernels::hopper
