// Variable-length batches (FlashAttention's cu_seqlens): sequences of mixed
// lengths packed back to back, each tiled on its own with the kernel's one
// tile size, against the same batch padded to its longest sequence. Counting
// mode only; a run per distinct length pair, multiplied by its count, so the
// cost grows with the number of distinct lengths, not with the batch.
#pragma once
#include <cstdint>
#include <vector>

#include "sim/analysis.hpp"
#include "sim/plan.hpp"

namespace flashcheck::sim {

struct VarlenRun {
  RunResult packed;   // the sequences one by one (problem: the padded shape, batch = sequences)
  RunResult padded;   // every sequence padded to the longest query and key lengths
  int64_t sequences = 0;
  int64_t tokens_q = 0, tokens_k = 0;  // sum of the lengths
};

// base: heads, head dim, dtype, mask (applied per sequence); its batch and
// lengths are replaced. lengths_k empty: the same as lengths_q. The tiles are
// those of the padded problem's plan (a kernel's tile size does not change per
// sequence); blocks may override them; paging applies to every plan. Throws std::invalid_argument for an
// empty list, a length < 1, or lists of different sizes.
VarlenRun simulate_varlen(const Problem& base, const std::vector<int64_t>& lengths_q,
                          const std::vector<int64_t>& lengths_k, ScheduleKind k, Direction d,
                          int64_t sram_bytes, BlockOverride blocks = {}, BlockRule rule = BlockRule::own,
                          Paging paging = {});

}  // namespace flashcheck::sim
