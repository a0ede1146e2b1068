// Block rules and capacity planning. The derivations are in sim/README.md.
#include "sim/plan.hpp"

#include <algorithm>
#include <cmath>

#include "sim/schedules/flash1.hpp"
#include "sim/schedules/flash2.hpp"
#include "sim/schedules/splitkv.hpp"
#include "sim/schedules/square.hpp"
#include "sim/schedules/standard.hpp"
#include "sim/schedules/tiling.hpp"

namespace flashcheck::sim {
namespace {

// Elements of the widest on-chip type per row of the rule's "big" block, for
// an upper bound of the declared buffers (see the header of each rule below).
int64_t rule_divisor(ScheduleKind k, Direction dir, int64_t d) {
  if (dir == Direction::fwd) return 5 * d + 4;  // flash1 and flash2 forward
  return k == ScheduleKind::flash1 ? 10 * d + 3 : 9 * d + 2;
}

std::string label(ScheduleKind k, Direction d) {
  return std::string(schedule_name(k)) + " " + direction_name(d);
}

// The widest key span of one row of the standard schedule's tiles.
int64_t max_span(const Problem& p, int64_t Br, int64_t Bc) {
  const Tiling t(p, Br, Bc);
  int64_t w = 0;
  // One Q block per run of alike steps (the span depends only on the visited blocks).
  // The span is monotone within a class: its first and last steps bound it.
  q_step_classes(t, [&](int64_t i0, int64_t i1, int64_t m) {
    const int64_t last = i1 < 0 ? i0 : i0 + (i1 - i0) * (m - 1);
    w = std::max({w, t.key_span(i0).size(), t.key_span(last).size()});
  });
  return std::max<int64_t>(w, 1);
}

std::vector<KernelPlan> standard_kernels(const Problem& p, Direction dir, int64_t Br, int64_t Bc,
                                         int64_t M, bool* resident, int64_t* chunk_rows) {
  const int64_t d = p.head_dim, a = acc_bytes(p.dtype);
  const int64_t span = max_span(p, Br, Bc);
  // A row (two rows backward: P and dP) plus its scalars on chip: read once.
  const int64_t rows = dir == Direction::fwd ? 1 : 2;
  const int64_t scalars = dir == Direction::fwd ? 3 : 1;
  *resident = rows * span * a + scalars * a <= M;
  // Streamed: chunks of as many rows of Bc-wide tiles as fit (at least one).
  *chunk_rows = *resident ? 1 : std::clamp<int64_t>(M / ((rows * Bc + scalars) * a), 1, Br);
  return dir == Direction::fwd
             ? standard::forward_kernels(Br, Bc, d, p.dtype, span, *resident, *chunk_rows)
             : standard::backward_kernels(Br, Bc, d, p.dtype, span, *resident, *chunk_rows);
}

int64_t max_kernel_bytes(const std::vector<KernelPlan>& ks) {
  int64_t m = 0;
  for (const KernelPlan& k : ks) m = std::max(m, k.bytes());
  return m;
}

// A block edge as kernels use them: a multiple of 16 (an mma tile) when >= 16.
int64_t round16(int64_t x) { return x >= 16 ? x / 16 * 16 : x; }

// The GPU rule for flash2 (sim/README.md, "Block rules"): the big block is
// the largest that both its shared-memory tiles and its register
// accumulators allow, the streamed block is kGpuStreamBlock rows.
BlockOverride gpu_rule_blocks(Direction dir, const Problem& p, int64_t M) {
  const int64_t d = p.head_dim, e = dtype_bytes(p.dtype), a = acc_bytes(p.dtype);
  const int64_t R = kAccRegisterBytes;
  // The streamed block is kGpuStreamBlock rows, or fewer when M cannot stage that many.
  for (int64_t stream = kGpuStreamBlock; stream >= 1; stream = stream > 16 ? stream - 16 : stream / 2) {
    int64_t big = 0, small = 0;
    if (dir == Direction::fwd) {
      small = std::min(stream, p.seqlen_k);  // Bc
      // shared: Q_i (Br d e) + K_j, V_j (2 Bc d e); registers: O_i, S_ij, m, l, LSE (Br (d + Bc + 3) a)
      const int64_t smem_rows = (M - 2 * small * d * e) / (d * e);
      const int64_t reg_rows = R / ((d + small + 3) * a);
      big = round16(std::min(smem_rows, reg_rows));
    } else {
      small = std::min(stream, p.seqlen_q);  // Br
      // shared: Q_i, dO_i (2 Br d e), LSE_i, D_i (2 Br a), per KV row K_j, V_j (2 d e) + staged
      // dS (Br e); registers per KV row: dK_j, dV_j (2 d a) + S/P, dP/dS (2 Br a)
      const int64_t smem_rows = (M - 2 * small * d * e - 2 * small * a) / (2 * d * e + small * e);
      const int64_t reg_rows = R / (2 * d * a + 2 * small * a);
      big = round16(std::min(smem_rows, reg_rows));
    }
    if (big >= 1) return dir == Direction::fwd ? BlockOverride{big, small} : BlockOverride{small, big};
  }
  throw std::invalid_argument("SRAM of " + std::to_string(M) + " B is too small for any tile of " +
                              label(ScheduleKind::flash2, dir) + " at head_dim " + std::to_string(d) +
                              " under the GPU block rule");
}

}  // namespace

int64_t sram_elems(int64_t sram_bytes, DType dtype) { return sram_bytes / acc_bytes(dtype); }

int64_t default_splits(int64_t units, int64_t Tc) {
  const auto efficiency = [&](int64_t s) {
    const double ctas = static_cast<double>(units) * static_cast<double>(s);
    return ctas / (std::ceil(ctas / kDecodeWaveCtas) * kDecodeWaveCtas);
  };
  const int64_t most = std::min<int64_t>(Tc, kMaxSplits);
  double best = 0;
  for (int64_t s = 1; s <= most; ++s) best = std::max(best, efficiency(s));
  for (int64_t s = 1; s <= most; ++s)
    if (efficiency(s) >= 0.85 * best) return s;
  return 1;
}

int64_t square_block(int64_t M, DType dtype) {
  const int64_t q = sram_elems(M, dtype) / 4;
  int64_t b = static_cast<int64_t>(std::sqrt(static_cast<double>(q)));
  while (b > 0 && b * b > q) --b;  // exact integer square root
  while ((b + 1) * (b + 1) <= q) ++b;
  return b;
}

BlockOverride rule_blocks(ScheduleKind k, Direction dir, const Problem& p, int64_t M,
                          BlockRule rule) {
  const int64_t d = p.head_dim;
  if (k == ScheduleKind::standard) {
    // Square tiles B = Br = Bc: the largest B <= 128 whose kernels fit.
    for (int64_t B = kStandardMaxBlock; B >= 1; --B) {
      bool resident = false;
      int64_t chunk = 1;
      const int64_t Br = std::min(B, p.seqlen_q), Bc = std::min(B, p.seqlen_k);
      if (max_kernel_bytes(standard_kernels(p, dir, Br, Bc, M, &resident, &chunk)) <= M) return {B, B};
    }
    throw std::invalid_argument("SRAM of " + std::to_string(M) + " B is too small for any tile of " +
                                label(k, dir) + " at head_dim " + std::to_string(d));
  }
  if (k == ScheduleKind::square) {
    const int64_t B = square_block(M, p.dtype);
    if (B < 1)
      throw std::invalid_argument("SRAM of " + std::to_string(M) + " B is too small for any tile of " +
                                  label(k, dir) + ": the block rule needs at least " +
                                  std::to_string(4 * acc_bytes(p.dtype)) + " B");
    return {B, B};
  }
  // Split-KV runs the FlashAttention-2 forward over each chunk: its rule.
  if (k == ScheduleKind::splitkv) return rule_blocks(ScheduleKind::flash2, dir, p, M, rule);
  if (k == ScheduleKind::flash2 && rule == BlockRule::own) return gpu_rule_blocks(dir, p, M);
  const ScheduleKind rule_kind = rule == BlockRule::flash1 ? ScheduleKind::flash1 : k;
  const int64_t div = rule_divisor(rule_kind, dir, d);
  const int64_t big = sram_elems(M, p.dtype) / div;
  if (big < 1)
    throw std::invalid_argument(
        "SRAM of " + std::to_string(M) + " B is too small for any tile of " + label(k, dir) +
        " at head_dim " + std::to_string(d) + ": the block rule needs at least " +
        std::to_string(div * acc_bytes(p.dtype)) + " B");
  const int64_t small = std::min(big, d);
  // flash1 (both directions) and the flash2 backward keep the KV block on chip:
  // Bc is the big block. The flash2 forward keeps the Q block: Br is big.
  if (rule_kind == ScheduleKind::flash2 && dir == Direction::fwd) return {big, small};
  return {small, big};
}

Plan make_plan(const Problem& p, ScheduleKind k, Direction dir, int64_t M, BlockOverride blocks,
               BlockRule rule) {
  p.validate();
  if (M < 1) throw std::invalid_argument("SRAM size must be >= 1 byte, got " + std::to_string(M));
  if (blocks.Br < 0 || blocks.Bc < 0)
    throw std::invalid_argument("block sizes must be >= 1 (0 = from the rule)");
  if (forward_only(k) && dir == Direction::bwd)
    throw std::invalid_argument(std::string("the ") + schedule_name(k) +
                                " schedule is forward only (no backward pass)");
  if (blocks.splits < 0) throw std::invalid_argument("--splits must be >= 1 (0 = from the rule)");
  if (blocks.splits > 0 && k != ScheduleKind::splitkv)
    throw std::invalid_argument("splits apply to the splitkv schedule only");
  BlockOverride b = blocks;
  if (b.Br == 0 || b.Bc == 0) {
    const BlockOverride r = rule_blocks(k, dir, p, M, rule);
    if (b.Br == 0) b.Br = r.Br;
    if (b.Bc == 0) b.Bc = r.Bc;
  }
  // A block longer than the sequence only wastes SRAM: clamp it (the square
  // tiling's head-dim chunks keep the block's width, up to d).
  const int64_t Bd = k == ScheduleKind::square ? std::min(std::max(b.Br, b.Bc), p.head_dim) : 0;
  b.Br = std::min(b.Br, p.seqlen_q);
  b.Bc = std::min(b.Bc, p.seqlen_k);
  Plan plan;
  plan.problem = p;
  plan.desc = describe(k, dir, b.Br, b.Bc);
  plan.desc.Bd = Bd;
  if (b.warps < 0) throw std::invalid_argument("--warps must be >= 1 (0 = the default), got " + std::to_string(b.warps));
  if (b.warps > 0) plan.desc.warps = b.warps;
  plan.sram_bytes = M;
  const int64_t d = p.head_dim;
  const Tiling t(p, b.Br, b.Bc);
  switch (k) {
    case ScheduleKind::standard:
      plan.kernels = standard_kernels(p, dir, b.Br, b.Bc, M, &plan.row_resident, &plan.softmax_rows);
      plan.work_units = p.batch * p.heads_q * t.Tr;
      break;
    case ScheduleKind::flash1:
      plan.kernels = dir == Direction::fwd ? flash1::forward_kernels(b.Br, b.Bc, d, p.dtype)
                                           : flash1::backward_kernels(b.Br, b.Bc, d, p.dtype);
      // Algorithm 1 / 4 parallelise over batch x heads only.
      plan.work_units = p.batch * p.heads_kv;
      break;
    case ScheduleKind::flash2:
      plan.registers = rule == BlockRule::own;
      plan.kernels = dir == Direction::fwd
                         ? flash2::forward_kernels(b.Br, b.Bc, d, p.dtype, plan.registers)
                         : flash2::backward_kernels(b.Br, b.Bc, d, p.dtype, plan.registers);
      plan.work_units = dir == Direction::fwd ? p.batch * p.heads_q * t.Tr
                                              : p.batch * p.heads_kv * t.Tc;
      break;
    case ScheduleKind::square:
      plan.kernels = square::forward_kernels(b.Br, b.Bc, Bd, p.dtype);
      plan.work_units = p.batch * p.heads_q * t.Tr;
      break;
    case ScheduleKind::splitkv: {
      if (t.Tr != 1)
        throw std::invalid_argument(
            "splitkv is a decode schedule: all " + std::to_string(p.seqlen_q) +
            " queries of a head must fit one Q block (Br = " + std::to_string(b.Br) +
            "; flash-decoding runs Nq <= 16)");
      // Splits: given, or the wave rule (default_splits); at most one KV block each.
      const int64_t want = blocks.splits > 0 ? blocks.splits : default_splits(p.batch * p.heads_q, t.Tc);
      plan.desc.splits = std::clamp<int64_t>(want, 1, t.Tc);
      plan.registers = rule == BlockRule::own;
      plan.kernels = splitkv::forward_kernels(b.Br, b.Bc, d, p.dtype, plan.registers);
      plan.work_units = checked_mul(p.batch * p.heads_q, plan.desc.splits, "thread blocks");
      break;
    }
  }
  check_capacity(label(k, dir) + " with Br=" + std::to_string(b.Br) + " Bc=" + std::to_string(b.Bc),
                 plan.kernels, M);
  return plan;
}

Plan with_paging(Plan plan, Paging pg) {
  if (!pg.on()) return plan;
  const ScheduleKind k = plan.desc.kind;
  if (!(k == ScheduleKind::splitkv || (k == ScheduleKind::flash2 && plan.desc.direction == Direction::fwd)))
    throw std::invalid_argument(std::string("paged KV is modelled for the flash2 forward and splitkv, not ") +
                                label(k, plan.desc.direction));
  if (pg.page_rows < 1 || pg.page_rows > kMaxPageRows)
    throw std::invalid_argument("--page-size must be in [1, " + std::to_string(kMaxPageRows) + "] rows, got " +
                                std::to_string(pg.page_rows));
  const int64_t bc = plan.Bc(), P = pg.page_rows;
  if (bc < plan.problem.seqlen_k && P % bc != 0 && bc % P != 0)
    throw std::invalid_argument("page size " + std::to_string(P) + " and Bc " + std::to_string(bc) +
                                " must divide one another (every KV tile then reads alike)");
  // Several tiles per page, rounded to sectors: tiles start mid-page, so they
  // read alike only if a tile is whole sectors.
  const int64_t tile_bytes = checked_mul(bc, plan.problem.head_dim * dtype_bytes(plan.problem.dtype), "tile bytes");
  if (bc < plan.problem.seqlen_k && pg.read == Paging::Read::sector && bc % P != 0 && tile_bytes % kSectorBytes != 0)
    throw std::invalid_argument("pages of " + std::to_string(P) + " rows hold several tiles of " + std::to_string(bc) +
                                " rows, " + std::to_string(tile_bytes) + " B each: sector-rounded reads need tiles of "
                                "whole 32-byte sectors (or --page-read page)");
  plan.paging = pg;
  return plan;
}

}  // namespace flashcheck::sim
