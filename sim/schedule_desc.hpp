// The schedule description: which tiled attention algorithm, its loop order,
// its block sizes Br x Bc and what it keeps on chip. The simulator walks it to
// count traffic; a kernel variant declares the ScheduleDesc it implements so
// the simulator can say what traffic that kernel should cause on a given GPU.
// Standalone on purpose (no heavy includes): kernels and the registry use it.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace flashcheck::sim {

enum class ScheduleKind {
  standard,  // FlashAttention paper, Algorithms 0 and 3: S, P (dP, dS) materialised in HBM
  flash1,    // Algorithms 1 and 4: KV-outer, O / l / m re-read and re-written per outer step
  flash2,    // FlashAttention-2: Q-outer forward, KV-outer backward after D = rowsum(dO * O)
  square,    // Saha & Ye (arXiv 2402.07443), M < d^2: B x B tiles over the head dim too, S in HBM
  splitkv,   // flash-decoding: KV split into chunks run in parallel, partial O / LSE reduced after
};
enum class Direction { fwd, bwd };
enum class LoopOrder {
  unfused,   // one kernel per matmul / softmax, each tiled on its own
  kv_outer,  // outer loop over K_j, V_j blocks, inner loop over Q_i blocks
  q_outer,   // outer loop over Q_i blocks, inner loop over K_j, V_j blocks
};

struct ScheduleDesc {
  ScheduleKind kind = ScheduleKind::flash2;
  Direction direction = Direction::fwd;
  LoopOrder order = LoopOrder::q_outer;
  int64_t Br = 0;  // rows of a Q block; 0 = chosen by the schedule's block rule
  int64_t Bc = 0;  // rows of a K/V block; 0 = chosen by the rule
  const char* on_chip = "";  // what stays in SRAM across the inner loop
  int64_t splits = 1;        // splitkv: KV chunks per Q block (partial results reduced after)
  int64_t Bd = 0;            // square: width of a head-dim chunk (0 elsewhere: the whole head)
  // Warps per thread block: an MMA's output rows are split over them, so each
  // reads its own rows of A and all of B from shared memory (the shared-memory count).
  int64_t warps = 4;
};

// Schedules written for the forward pass only (the square tiling and
// split-KV decoding are inference schedules); a backward plan is an error.
constexpr bool forward_only(ScheduleKind k) { return k == ScheduleKind::square || k == ScheduleKind::splitkv; }

constexpr LoopOrder loop_order(ScheduleKind k, Direction d) {
  return k == ScheduleKind::standard || k == ScheduleKind::square ? LoopOrder::unfused
         : k == ScheduleKind::flash1 ? LoopOrder::kv_outer
         : d == Direction::fwd       ? LoopOrder::q_outer
                                     : LoopOrder::kv_outer;
}

constexpr const char* on_chip_of(ScheduleKind k, Direction d) {
  if (k == ScheduleKind::standard) return "one tile per operand of each kernel";
  if (k == ScheduleKind::square) return "B x B tiles of Q, K (by head-dim chunk), S, V and O";
  if (k == ScheduleKind::splitkv) return "Q_i, O_i accumulator, m_i, l_i of one KV chunk (partials to HBM)";
  if (k == ScheduleKind::flash1)
    return d == Direction::fwd ? "K_j, V_j (O_i, l_i, m_i go back to HBM each step)"
                               : "K_j, V_j, dK_j, dV_j (dQ_i read-modify-written in HBM)";
  return d == Direction::fwd ? "Q_i, O_i accumulator, m_i, l_i"
                             : "K_j, V_j, dK_j, dV_j (dQ_i read-modify-written in HBM)";
}

// The description of a schedule; Br = Bc = 0 leaves the block rule to choose.
constexpr ScheduleDesc describe(ScheduleKind k, Direction d, int64_t Br = 0, int64_t Bc = 0,
                                int64_t splits = 1) {
  return ScheduleDesc{k, d, loop_order(k, d), Br, Bc, on_chip_of(k, d), splits};
}

constexpr const char* schedule_name(ScheduleKind k) {
  return k == ScheduleKind::standard ? "standard"
         : k == ScheduleKind::flash1 ? "flash1"
         : k == ScheduleKind::flash2 ? "flash2"
         : k == ScheduleKind::square ? "square"
                                     : "splitkv";
}
constexpr const char* direction_name(Direction d) { return d == Direction::fwd ? "fwd" : "bwd"; }
constexpr const char* loop_order_name(LoopOrder o) {
  return o == LoopOrder::unfused ? "unfused" : o == LoopOrder::kv_outer ? "kv-outer" : "q-outer";
}

inline ScheduleKind parse_schedule(const std::string& s) {
  if (s == "standard") return ScheduleKind::standard;
  if (s == "flash1") return ScheduleKind::flash1;
  if (s == "flash2") return ScheduleKind::flash2;
  if (s == "square") return ScheduleKind::square;
  if (s == "splitkv") return ScheduleKind::splitkv;
  throw std::invalid_argument("unknown schedule '" + s +
                              "' (expected standard, flash1, flash2, square or splitkv)");
}
inline Direction parse_direction(const std::string& s) {
  if (s == "fwd") return Direction::fwd;
  if (s == "bwd") return Direction::bwd;
  throw std::invalid_argument("unknown direction '" + s + "' (expected fwd or bwd)");
}

}  // namespace flashcheck::sim
