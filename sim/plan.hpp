// The mapping of a schedule onto a problem and an SRAM size: block sizes from
// the block rules (sim/README.md derives them), the buffers each kernel keeps
// on chip, and the capacity check. make_plan() throws before anything is
// counted: std::invalid_argument for bad input, CapacityError when the
// buffers exceed M.
#pragma once
#include <cstdint>
#include <vector>

#include "reference/problem.hpp"
#include "sim/memory.hpp"
#include "sim/paging.hpp"
#include "sim/schedule_desc.hpp"

namespace flashcheck::sim {

struct BlockOverride {
  int64_t Br = 0;  // 0: from the rule
  int64_t Bc = 0;
  int64_t splits = 0;  // splitkv: KV chunks; 0: kDecodeWaveCtas rule (sim/README.md)
  int64_t warps = 0;   // warps per thread block; 0: ScheduleDesc's default (4)
};

// Which block rule to apply. own: the schedule's rule; for flash2 that is the
// GPU rule (shared memory holds what the kernel stages, accumulators and
// score tiles count against kAccRegisterBytes, blocks are multiples of 16).
// paper: everything on chip counted against M (the paper's two-level model,
// Theta(M / d) blocks for every M). flash1: the flash1 rule for any schedule
// (the property "flash2 with the flash1 rule" asks for it).
enum class BlockRule { own, paper, flash1 };

struct Plan {
  Problem problem;
  ScheduleDesc desc;       // Br, Bc filled in
  int64_t sram_bytes = 0;  // M
  std::vector<KernelPlan> kernels;
  // standard only: a whole row of S (fwd) / of P and dP (bwd) fits on chip,
  // so the softmax kernel reads it once instead of twice.
  bool row_resident = true;
  // standard only, streamed softmax: rows per chunk (<= Br, as many as fit).
  int64_t softmax_rows = 1;
  int64_t work_units = 0;  // independent thread blocks of the main kernel
  bool registers = false;  // accumulators in registers (the GPU rule), not in M
  Paging paging;           // paged K/V (with_paging); off by default

  int64_t Br() const { return desc.Br; }
  int64_t Bc() const { return desc.Bc; }
};

// M in elements of the widest on-chip type: floor(M / acc_bytes(dtype)).
int64_t sram_elems(int64_t sram_bytes, DType dtype);

// The rule's (Br, Bc) before clamping to the sequence lengths; throws
// std::invalid_argument when M is too small for a single row.
BlockOverride rule_blocks(ScheduleKind k, Direction d, const Problem& p, int64_t sram_bytes,
                          BlockRule rule = BlockRule::own);

Plan make_plan(const Problem& p, ScheduleKind k, Direction d, int64_t sram_bytes,
               BlockOverride blocks = {}, BlockRule rule = BlockRule::own);
// The plan with paged K/V (sim/paging.hpp). Throws std::invalid_argument
// unless the schedule streams K/V tiles in its inner loop (flash2 fwd,
// splitkv) and the page size and Bc divide one another (or Tc = 1), and, for
// sector reads of pages holding several tiles, a tile is whole sectors.
Plan with_paging(Plan plan, Paging pg);
constexpr int64_t kMaxPageRows = int64_t(1) << 20;

// The largest standard tile edge (Br = Bc = B).
constexpr int64_t kStandardMaxBlock = 128;
// The GPU rule's fixed blocks: the flash2 forward streams K/V blocks of 64
// rows, the flash2 backward Q blocks of 64 rows (sim/README.md, "Block rules").
constexpr int64_t kGpuStreamBlock = 64;
// splitkv's default split count (FlashAttention-2's num_splits_heuristic,
// one CTA per SM): the smallest S <= min(Tc, kMaxSplits) whose wave
// efficiency units S / (ceil(units S / W) W) is >= 0.85 of the best, with
// W = kDecodeWaveCtas (the H100 / H200 SM count) and units = B x Hq.
constexpr int64_t kDecodeWaveCtas = 132;
constexpr int64_t kMaxSplits = 128;
int64_t default_splits(int64_t units, int64_t Tc);
// The square tiling's block rule: B = floor(sqrt(M_el / 4)) (Saha & Ye).
int64_t square_block(int64_t sram_bytes, DType dtype);

}  // namespace flashcheck::sim
