// The analysis of one simulated run: HBM reads and writes per tensor (elements
// and bytes), FLOPs (matmul and the rest apart), the SRAM high-water mark, the
// extra HBM footprint beyond inputs and outputs, and the bound check against
// the theory (sim/README.md states C and C').
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "reference/problem.hpp"
#include "sim/memory.hpp"
#include "sim/schedule_desc.hpp"

namespace flashcheck::sim {

struct RunResult {
  Problem problem;
  ScheduleDesc desc;  // Br, Bc as run
  int64_t sram_bytes = 0;
  bool row_resident = true;  // standard softmax read a row once
  HbmCounters hbm;           // elements
  int64_t matmul_flops = 0;  // checked: an overflow is an OverflowError, never a wrap
  int64_t other_flops = 0;
  int64_t smem_read_bytes = 0;   // shared memory read by the MMAs (sim/README.md, "Beyond bytes")
  int64_t smem_write_bytes = 0;  // tiles staged into shared memory
  int64_t exps = 0;              // exponentials (special-function unit)
  int64_t sram_peak_bytes = 0;
  int64_t work_units = 0;
  int64_t page_rows = 0;  // paged KV: rows per page (0: contiguous)

  int64_t elem_bytes(TensorId t) const { return hbm_elem_bytes(t, problem.dtype); }
  int64_t read_bytes(TensorId t) const {
    return checked_mul(hbm.elems[idx(t)].read, elem_bytes(t), "HBM read bytes");
  }
  int64_t write_bytes(TensorId t) const {
    return checked_mul(hbm.elems[idx(t)].write, elem_bytes(t), "HBM write bytes");
  }
  int64_t read_bytes() const;
  int64_t write_bytes() const;
  int64_t total_bytes() const { return checked_add(read_bytes(), write_bytes(), "HBM bytes"); }
  int64_t total_elems() const {
    return checked_add(hbm.read_elems(), hbm.write_elems(), "HBM elements");
  }
  int64_t flops() const { return checked_add(matmul_flops, other_flops, "FLOP count"); }
  // Bytes of the whole tensors this run touches that are neither inputs nor
  // outputs of attention: S, P, dP, dS (standard), LSE, l, m, D.
  int64_t extra_hbm_bytes() const;
};

// A forward and a backward run added up (direction "both").
struct PairResult {
  RunResult fwd, bwd;
};

// FlashAttention traffic bound in elements: C * Nq*Nk*d^2 / M_el + C' * (Nq + Nk) * d
// per head, M_el = sram_elems(M). Standard: the floor 4 * (visible scores).
struct BoundCheck {
  bool holds = false;
  double bound_elems = 0;  // the right-hand side
  std::string text;        // e.g. "<= 36 N^2d^2/M + 5 Nd: ok (0.41 of bound)"
};
struct BoundConstants {
  double C = 0, Cprime = 0;
};
BoundConstants bound_constants(ScheduleKind k, Direction d);
BoundCheck check_bound(const RunResult& r);
// The extra tensors (is_extra) each schedule keeps in HBM; a property checks
// that a run touches exactly these.
std::vector<TensorId> extra_tensors(ScheduleKind k, Direction d);

// Number of (q, k) pairs the mask leaves visible, per head.
int64_t visible_pairs(const Problem& p);

}  // namespace flashcheck::sim
