// The closed-form HBM traffic of every schedule, exactly as sim/README.md
// states it, computed independently of the simulator: the visited tile set
// comes from an element-by-element scan of Problem::visible (not from the
// mask's block-range functions the schedules use).
#pragma once
#include <cstdint>

#include "reference/problem.hpp"
#include "sim/memory.hpp"
#include "sim/schedule_desc.hpp"

namespace flashcheck::simtest {

// Sums over the visited tiles (i, j) of one head (sim/README.md, "Notation").
struct TileSums {
  int64_t Tr = 0, Tc = 0;
  int64_t RQ = 0;   // sum over visited tiles of r_i (rows of Q block i)
  int64_t CK = 0;   // sum over visited tiles of c_j
  int64_t A = 0;    // sum over visited tiles of r_i * c_j
  int64_t Rne = 0;  // rows of the Q blocks that visit at least one tile
  int64_t Cne = 0;  // rows of the KV blocks that at least one Q block visits
};
TileSums tile_sums(const Problem& p, int64_t Br, int64_t Bc);

// resident: the standard schedule's softmax read a row once (Plan::row_resident).
sim::HbmCounters closed_form(const Problem& p, sim::ScheduleKind k, sim::Direction d, int64_t Br,
                             int64_t Bc, bool resident);
// The same for any schedule description (the square tiling's head-dim chunk
// Bd, split-KV's number of splits).
sim::HbmCounters closed_form(const Problem& p, const sim::ScheduleDesc& desc, bool resident);

// Split-KV: the number of chunks that hold a visible key of the one Q block
// (keys [s per Bc, (s + 1) per Bc), per = ceil(Tc / splits)), by element scan.
int64_t live_chunks(const Problem& p, int64_t Bc, int64_t splits);

}  // namespace flashcheck::simtest
