// The counting executor: runs a schedule with no data at all. Every load and
// store adds its element count to the HBM counter of its tensor, every tile
// computation adds its FLOPs, and every kernel allocates its declared buffers
// in the SRAM model (high-water mark). Work per tile step is constant, and two
// symmetries make sequence lengths of a million cheap:
//  - for_units: all heads of a problem have the same shape and mask, so one
//    unit runs and its counts are multiplied by the number of units;
//  - for_blocks (inner tile loops): the blocks of a range differ only in the
//    last one (only the sequence's final block can be shorter) and in their
//    masking, which costs no traffic, so the first block runs with its counts
//    multiplied by n - 1, then the last runs once. A schedule walk is then
//    O(Tr + Tc) per head. CountingExecutor(M, false) walks every tile; a
//    property checks both walks count the same.
#pragma once
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "sim/memory.hpp"
#include "sim/paging.hpp"
#include "sim/schedules/tiling.hpp"

namespace flashcheck::sim {

// Non-matmul FLOPs of each tile operation, per element or per row (one FLOP
// per add, multiply, max, exp, log or divide; masking and fills cost none).
// sim/README.md lists the same numbers.
namespace cost {
constexpr int64_t online_softmax(int64_t nr, int64_t nc, int64_t d) { return 4 * nr * nc + nr * (d + 4); }
constexpr int64_t finalise(int64_t nr, int64_t d) { return nr * (d + 2); }
constexpr int64_t flash1_rescale(int64_t nr, int64_t nc, int64_t d) { return 4 * nr * nc + nr * (d + 8); }
constexpr int64_t flash1_normalise(int64_t nr, int64_t d) { return nr * d; }
constexpr int64_t recompute_p_lse(int64_t nr, int64_t nc) { return 2 * nr * nc; }
constexpr int64_t recompute_p_ml(int64_t nr, int64_t nc) { return 3 * nr * nc; }
constexpr int64_t softmax_grad(int64_t nr, int64_t nc) { return 2 * nr * nc; }
constexpr int64_t rowdot(int64_t nr, int64_t n) { return 2 * nr * n; }
constexpr int64_t row_stats(int64_t nr, int64_t nc) { return nr * (3 * nc + 4); }
constexpr int64_t row_normalise(int64_t nr, int64_t nc) { return 3 * nr * nc; }
constexpr int64_t lse(int64_t nr) { return 2 * nr; }
// Split-KV reduce, per row: max, two subtractions and two exps, l update (3),
// O = a O + w O_s (3 per element).
constexpr int64_t combine_partial(int64_t nr, int64_t d) { return nr * (3 * d + 8); }

// Exponentials (the special-function unit's work) of the same operations: one
// per score a tile op exponentiates, plus the per-row rescale factors.
constexpr int64_t exps_online_softmax(int64_t nr, int64_t nc) { return nr * nc + nr; }  // P, exp(m - m_new)
constexpr int64_t exps_flash1_rescale(int64_t nr, int64_t nc) { return nr * nc + 2 * nr; }
constexpr int64_t exps_per_score(int64_t nr, int64_t nc) { return nr * nc; }  // recompute P, softmax passes
constexpr int64_t exps_combine_partial(int64_t nr) { return 2 * nr; }
}  // namespace cost

class CountingExecutor {
 public:
  explicit CountingExecutor(int64_t sram_bytes, bool compress = true)
      : sram_(sram_bytes), compress_(compress) {}

  HbmCounters hbm;
  int64_t matmul_flops = 0;  // checked int64 (sim/checked.hpp)
  int64_t other_flops = 0;
  // Shared-memory traffic (bytes) and exponentials; sim/README.md, "Beyond bytes".
  int64_t smem_read = 0, smem_write = 0, exps = 0;
  const Sram& sram() const { return sram_; }
  void set_warps(int64_t w) { warps_ = std::max<int64_t>(1, w); }

  void begin_kernel(const KernelPlan& k) {
    for (const BufferSpec& b : k.buffers) {
      const bool shared = !(b.in_registers || b.aliased);
      handles_.push_back(sram_.alloc(b.name, shared ? b.bytes() : 0));
      shapes_.push_back({b.rows, b.cols, shared, b.elem_bytes});
    }
  }
  void end_kernel() {
    for (int h : handles_) sram_.free(h);
    handles_.clear();
    shapes_.clear();
  }
  // Runs body(unit) for one unit and counts it n times (all units are alike).
  template <class F>
  void for_units(int64_t n, F&& body) {
    if (n <= 0) return;
    if (!compress_) {
      for (int64_t u = 0; u < n; ++u) body(u);
      return;
    }
    const int64_t saved = mult_;
    mult_ = checked_mul(saved, n, "unit multiplicity");
    body(int64_t(0));
    mult_ = saved;
  }

  template <class F>
  void for_blocks(Range r, F&& body) {
    const int64_t n = r.size();
    if (!compress_ || n <= 2) {
      for (int64_t k = r.begin; k < r.end; ++k) body(k);
      return;
    }
    const int64_t saved = mult_;
    mult_ = checked_mul(saved, n - 1, "block multiplicity");
    body(r.begin);
    mult_ = saved;
    body(r.end - 1);
  }

  // Outer tile loops (Q-outer over i, KV-outer over j): body(step) for every
  // step, or, compressed, once per class of steps with equal counts times the
  // class's size (step_classes in tiling.hpp: O(classes), not O(Tr) or O(Tc)).
  template <class F>
  void for_q_blocks(const Tiling& t, F&& body) {
    if (!compress_) {
      for (int64_t i = 0; i < t.Tr; ++i) body(i);
      return;
    }
    q_step_classes(t, [&](int64_t i0, int64_t i1, int64_t m) { repeat(i0, i1, m, body); });
  }
  template <class F>
  void for_kv_blocks(const Tiling& t, F&& body) {
    if (!compress_) {
      for (int64_t j = 0; j < t.Tc; ++j) body(j);
      return;
    }
    kv_step_classes(t, [&](int64_t j0, int64_t j1, int64_t m) { repeat(j0, j1, m, body); });
  }
  // Any other outer loop of n steps whose inner ranges range(s) are monotone
  // over the live steps (step_classes' contract; splitkv's KV chunks).
  template <class RangeOf, class F>
  void for_steps(int64_t n, Range live, int64_t inner, int64_t outer_rows, int64_t inner_rows,
                 RangeOf&& range, F&& body) {
    if (!compress_) {
      for (int64_t s = 0; s < n; ++s) body(s);
      return;
    }
    step_classes(n, live, inner, outer_rows, inner_rows, range, [](int64_t) { return int64_t(1); },
                 [&](int64_t s0, int64_t s1, int64_t m) { repeat(s0, s1, m, body); });
  }

  // Paged K/V (sim/paging.hpp): tile reads rounded to sectors or pages, plus
  // one block-table entry per page (counted with K).
  void set_paging(const Paging& pg, int64_t kv_elem_bytes) {
    paging_ = pg;
    kv_elem_bytes_ = kv_elem_bytes;
  }
  void load(int buf, TensorId t, int64_t, int64_t, int64_t r0, int64_t nr, int64_t, int64_t nc) {
    fits(buf, nr, nc);
    staged(buf, nr, nc);  // a tile loaded into shared memory is written there once
    if (paging_.on() && (t == TensorId::K || t == TensorId::V)) {
      const PagedRead pr = paged_read(paging_, r0, nr, nc, kv_elem_bytes_);
      hbm.read(t, checked_mul(pr.elems, mult_, "HBM read count"));
      if (t == TensorId::K) hbm.read(TensorId::PT, checked_mul(pr.pages, mult_, "HBM read count"));
      return;
    }
    hbm.read(t, checked_mul(nr, nc, mult_, "HBM read count"));
  }
  void store(int buf, TensorId t, int64_t, int64_t, int64_t, int64_t nr, int64_t, int64_t nc) {
    fits(buf, nr, nc);
    hbm.write(t, checked_mul(nr, nc, mult_, "HBM write count"));
  }
  void zero(int buf, int64_t nr, int64_t nc) { fits(buf, nr, nc); }
  void fill(int buf, int64_t nr, int64_t nc, double) { fits(buf, nr, nc); }
  void mask(int, int64_t, int64_t, int64_t, int64_t) {}
  // C = alpha A B^T (m x n, inner k); C += alpha A B; C += alpha A^T B.
  void gemm_nt(int c, int a, int b, int64_t m, int64_t n, int64_t k, double) { gemm(c, a, b, m, n, k, false); }
  void gemm_nn(int c, int a, int b, int64_t m, int64_t n, int64_t k, double) { gemm(c, a, b, m, n, k, false); }
  void gemm_tn(int c, int a, int b, int64_t m, int64_t n, int64_t k, double) { gemm(c, a, b, m, n, k, true); }
  void gemm_nt_acc(int c, int a, int b, int64_t m, int64_t n, int64_t k, double) { gemm(c, a, b, m, n, k, false); }
  void combine_partial(int, int, int, int, int, int64_t nr, int64_t d) {
    other(cost::combine_partial(nr, d));
    exp(cost::exps_combine_partial(nr));
  }
  void online_softmax(int, int, int, int, int64_t nr, int64_t nc, int64_t d) {
    other(cost::online_softmax(nr, nc, d));
    exp(cost::exps_online_softmax(nr, nc));
  }
  void finalise(int, int, int, int, int64_t nr, int64_t d) { other(cost::finalise(nr, d)); }
  void flash1_rescale(int, int, int, int, int, int, int64_t nr, int64_t nc, int64_t d) {
    other(cost::flash1_rescale(nr, nc, d));
    exp(cost::exps_flash1_rescale(nr, nc));
  }
  void flash1_normalise(int, int, int64_t nr, int64_t d) { other(cost::flash1_normalise(nr, d)); }
  void recompute_p_lse(int, int, int64_t nr, int64_t nc) {
    other(cost::recompute_p_lse(nr, nc));
    exp(cost::exps_per_score(nr, nc));
  }
  void recompute_p_ml(int, int, int, int64_t nr, int64_t nc) {
    other(cost::recompute_p_ml(nr, nc));
    exp(cost::exps_per_score(nr, nc));
  }
  void softmax_grad(int, int, int, int64_t nr, int64_t nc) { other(cost::softmax_grad(nr, nc)); }
  void rowdot(int, int, int, int64_t nr, int64_t n) { other(cost::rowdot(nr, n)); }
  void rowdot_acc(int, int, int, int64_t nr, int64_t n) { other(cost::rowdot(nr, n)); }
  void row_stats(int, int, int, int64_t nr, int64_t nc) {
    other(cost::row_stats(nr, nc));
    exp(cost::exps_per_score(nr, nc));
  }
  void row_normalise(int, int, int, int64_t nr, int64_t nc) {
    other(cost::row_normalise(nr, nc));
    exp(cost::exps_per_score(nr, nc));
  }
  void lse(int, int, int, int64_t nr) { other(cost::lse(nr)); }

 private:
  struct Shape {
    int64_t rows, cols;
    bool shared;  // in shared memory (not registers)
    int64_t elem_bytes;
  };
  void fits(int buf, int64_t nr, int64_t nc) const {
    const Shape& s = shapes_[static_cast<size_t>(buf)];
    if (nr > s.rows || nc > s.cols)
      throw std::logic_error("tile larger than its SRAM buffer (schedule bug)");
  }
  // One class of outer steps (step_classes): m steps like i0 (i1 < 0), or m
  // steps whose counts are affine in their position, the first two being i0
  // and i1: their sum is m C(i0) + (C(i1) - C(i0)) m (m - 1) / 2, each count
  // taken once at multiplicity 1 and added with checked arithmetic.
  template <class F>
  void repeat(int64_t i0, int64_t i1, int64_t m, F& body) {
    const int64_t saved = mult_;
    if (i1 < 0) {
      mult_ = checked_mul(saved, m, "step multiplicity");
      body(i0);
      mult_ = saved;
      return;
    }
    const Tally before = take();
    mult_ = 1;
    body(i0);
    const Tally c0 = take();
    body(i1);
    const Tally c1 = take();
    mult_ = saved;
    restore(before);
    // In 128 bits: m C(i0) alone can pass int64 when the class shrinks.
    const __int128 tri = static_cast<__int128>(m) * (m - 1) / 2;
    const auto sum = [&](int64_t x0, int64_t x1) {
      const __int128 v = (static_cast<__int128>(m) * x0 + static_cast<__int128>(x1 - x0) * tri) * saved;
      if (v > INT64_MAX || v < INT64_MIN) throw OverflowError("class count");
      return static_cast<int64_t>(v);
    };
    for (int k = 0; k < kTensorCount; ++k) {
      hbm.elems[k].read = checked_add(hbm.elems[k].read, sum(c0.hbm.elems[k].read, c1.hbm.elems[k].read), "HBM read count");
      hbm.elems[k].write = checked_add(hbm.elems[k].write, sum(c0.hbm.elems[k].write, c1.hbm.elems[k].write), "HBM write count");
    }
    matmul_flops = checked_add(matmul_flops, sum(c0.matmul, c1.matmul), "matmul FLOP count");
    other_flops = checked_add(other_flops, sum(c0.other, c1.other), "FLOP count");
    smem_read = checked_add(smem_read, sum(c0.smem_read, c1.smem_read), "shared-memory bytes");
    smem_write = checked_add(smem_write, sum(c0.smem_write, c1.smem_write), "shared-memory bytes");
    exps = checked_add(exps, sum(c0.exps, c1.exps), "exponential count");
  }
  struct Tally {
    HbmCounters hbm;
    int64_t matmul = 0, other = 0, smem_read = 0, smem_write = 0, exps = 0;
  };
  // The counts so far, which are then zeroed.
  Tally take() {
    Tally t{hbm, matmul_flops, other_flops, smem_read, smem_write, exps};
    hbm = HbmCounters{};
    matmul_flops = other_flops = smem_read = smem_write = exps = 0;
    return t;
  }
  void restore(const Tally& t) {
    hbm = t.hbm;
    matmul_flops = t.matmul;
    other_flops = t.other;
    smem_read = t.smem_read;
    smem_write = t.smem_write;
    exps = t.exps;
  }
  void add(int64_t& counter, int64_t n, const char* what) {
    counter = checked_add(counter, checked_mul(n, mult_, what), what);
  }
  void exp(int64_t n) { add(exps, n, "exponential count"); }
  void staged(int buf, int64_t nr, int64_t nc) {
    const Shape& s = shapes_[static_cast<size_t>(buf)];
    if (s.shared) add(smem_write, checked_mul(nr, nc, s.elem_bytes, "shared-memory bytes"), "shared-memory bytes");
  }
  // C (m x n) = A (m x k) B (k x n) on the tensor cores, C's rows split over
  // the warps: A is read once in all (each warp its rows), B once per warp. An
  // operand in registers costs nothing, unless it is used transposed (A^T):
  // a register tile cannot be transposed in place, so it is staged through
  // shared memory in the dtype (written, then read once), as FlashAttention-2
  // does with P and dS in the backward.
  void gemm(int c, int a, int b, int64_t m, int64_t n, int64_t k, bool a_transposed) {
    (void)c;
    const int64_t f = checked_mul(checked_mul(2 * m, n, k, "matmul FLOP count"), mult_, "matmul FLOP count");
    matmul_flops = checked_add(matmul_flops, f, "matmul FLOP count");
    const Shape& sa = shapes_[static_cast<size_t>(a)];
    const Shape& sb = shapes_[static_cast<size_t>(b)];
    const char* what = "shared-memory bytes";
    if (sa.shared || a_transposed) {
      const int64_t eb = sa.shared ? sa.elem_bytes : kv_elem_bytes_;
      if (!sa.shared) add(smem_write, checked_mul(m, k, eb, what), what);
      add(smem_read, checked_mul(m, k, eb, what), what);
    }
    if (sb.shared) add(smem_read, checked_mul(checked_mul(warps_, k, n, what), sb.elem_bytes, what), what);
  }
  void other(int64_t n) {
    other_flops = checked_add(other_flops, checked_mul(n, mult_, "FLOP count"), "FLOP count");
  }

  Sram sram_;
  Paging paging_;
  int64_t kv_elem_bytes_ = 2;  // the dtype's bytes (set_paging)
  int64_t warps_ = 4;
  std::vector<int> handles_;
  std::vector<Shape> shapes_;
  bool compress_ = true;
  int64_t mult_ = 1;
};

}  // namespace flashcheck::sim
