// The tile grid of a schedule: Tr = ceil(Nq / Br) query blocks, Tc = ceil(Nk / Bc)
// key/value blocks, and which blocks a block must visit, asked of the one
// Mask object (blocks it fully masks are never visited).
#pragma once
#include <algorithm>
#include <cstdint>

#include "reference/problem.hpp"

namespace flashcheck::sim {

struct Tiling {
  Tiling(const Problem& p, int64_t Br_, int64_t Bc_)
      : mask(p.mask), Nq(p.seqlen_q), Nk(p.seqlen_k), Br(Br_), Bc(Bc_),
        Tr((p.seqlen_q + Br_ - 1) / Br_), Tc((p.seqlen_k + Bc_ - 1) / Bc_) {}

  Mask mask;
  int64_t Nq, Nk, Br, Bc, Tr, Tc;

  int64_t row0(int64_t i) const { return i * Br; }
  int64_t rows(int64_t i) const { return std::min(Br, Nq - i * Br); }
  int64_t col0(int64_t j) const { return j * Bc; }
  int64_t cols(int64_t j) const { return std::min(Bc, Nk - j * Bc); }
  // KV blocks Q block i visits / Q blocks that visit KV block j.
  Range kv_blocks(int64_t i) const { return mask.kv_blocks(row0(i), row0(i) + rows(i), Bc, Nq, Nk); }
  Range q_blocks(int64_t j) const { return mask.q_blocks(col0(j), col0(j) + cols(j), Br, Nq, Nk); }
  // Keys [begin, end) covered by the KV blocks of Q block i.
  Range key_span(int64_t i) const {
    const Range kv = kv_blocks(i);
    return kv.empty() ? Range{0, 0} : Range{kv.begin * Bc, std::min(kv.end * Bc, Nk)};
  }
  // True when tile (i, j) needs element-wise masking.
  bool partial(int64_t i, int64_t j) const {
    return !mask.tile_fully_visible(row0(i), row0(i) + rows(i), col0(j), col0(j) + cols(j), Nq, Nk);
  }
};

}  // namespace flashcheck::sim
