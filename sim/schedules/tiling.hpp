// The tile grid of a schedule: Tr = ceil(Nq / Br) query blocks, Tc = ceil(Nk / Bc)
// key/value blocks, and which blocks a block must visit, asked of the one
// Mask object (blocks it fully masks are never visited).
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>

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
  // The Q blocks whose key range is non-empty, and the KV blocks some query
  // sees: contiguous (the mask is a band), and over them the block ranges
  // kv_blocks(i) / q_blocks(j) are monotone (both ends non-decreasing).
  Range live_q_blocks() const {
    const Range kv = mask.kv_blocks(0, Nq, 1, Nq, Nk);
    if (kv.empty()) return {0, 0};
    const int64_t qa = std::max<int64_t>(0, -mask.dhi(Nq, Nk));
    const int64_t qb = std::min<int64_t>(Nq, Nk - mask.dlo(Nq, Nk));
    return {qa / Br, (qb + Br - 1) / Br};
  }
  Range live_kv_blocks() const {
    const Range qb = mask.q_blocks(0, Nk, 1, Nq, Nk);
    if (qb.empty()) return {0, 0};
    const int64_t ka = std::max<int64_t>(0, mask.dlo(Nq, Nk));
    const int64_t kb = std::min<int64_t>(Nk, Nq + mask.dhi(Nq, Nk));
    return {ka / Bc, (kb + Bc - 1) / Bc};
  }
  // True when tile (i, j) needs element-wise masking.
  bool partial(int64_t i, int64_t j) const {
    return !mask.tile_fully_visible(row0(i), row0(i) + rows(i), col0(j), col0(j) + cols(j), Nq, Nk);
  }
};

// What an outer step's counts depend on: the inner blocks it visits (only
// their number matters, and whether the last, possibly short, inner block is
// among them) and its own length.
struct StepKey {
  int64_t begin, end;
  bool last;
  int64_t len;
  bool operator==(const StepKey& o) const {
    return begin == o.begin && end == o.end && last == o.last && len == o.len;
  }
};

// Partitions the outer steps [0, n) into classes and calls
// f(i0, i1, m) (or f(i0, i1, m, stride), stride the distance between the
// class's steps) once per class, in O(classes x log n) rather than O(n):
//   i1 < 0: m steps whose counts all equal step i0's;
//   i1 >= 0: m steps i0, i1, i0 + 2 (i1 - i0), ... whose counts are affine
//   in their position (the visited range grows or shrinks by the same number
//   of blocks from one to the next, and every count is affine in the number
//   of inner blocks), so two of them determine the sum.
// range(i): the inner blocks step i visits; len(i): its length; inner: the
// number of inner blocks; live: the steps with a non-empty range (contiguous:
// the mask is a band). outer_rows / inner_rows: Br, Bc (Q-outer) or Bc, Br.
// Exact because over the live steps both ends of range(i) are non-decreasing
// and advance by at most S blocks every G steps (G = inner_rows / g,
// S = outer_rows / g, g = gcd): a key (begin - sb S floor(i/G), end - se S
// floor(i/G), last block visited?, length) is then monotone along steps G
// apart for sb, se in {0, 1}, and equal keys at two steps of a monotone
// sequence mean equal keys between them, so galloping then bisecting finds
// each class. Classes: consecutive steps with the same range (no mask: all of
// them), steps G apart sliding by S (a window), growing (causal: begin fixed)
// or shrinking by S.
template <class RangeOf, class LenOf, class F>
void step_classes(int64_t n, Range live, int64_t inner, int64_t outer_rows, int64_t inner_rows,
                  RangeOf&& range, LenOf&& len, F&& f) {
  int64_t g = outer_rows, r = inner_rows;
  while (r != 0) { const int64_t t = g % r; g = r; r = t; }
  const int64_t G = inner_rows / g, S = outer_rows / g;
  const auto key = [&](int64_t i, int64_t sb, int64_t se) {
    const Range x = range(i);
    if (x.empty()) return StepKey{0, 0, false, len(i)};
    return StepKey{x.begin - sb * S * (i / G), x.end - se * S * (i / G), x.end == inner, len(i)};
  };
  // The largest m in [1, limit] with pred(m) (pred(1) holds, pred is monotone).
  const auto gallop = [](int64_t limit, auto&& pred) {
    int64_t good = 1, bad = limit + 1;
    for (int64_t step = 2; step < bad; step *= 2) {
      if (pred(step)) {
        good = step;
      } else {
        bad = step;
        break;
      }
    }
    while (bad - good > 1) {
      const int64_t mid = good + (bad - good) / 2;
      if (pred(mid)) good = mid;
      else bad = mid;
    }
    return good;
  };
  // f may take a fourth argument: the stride between a class's steps (1: a run, G: steps G apart).
  const auto call = [&](int64_t i0, int64_t i1, int64_t m, int64_t stride) {
    if constexpr (std::is_invocable_v<F&, int64_t, int64_t, int64_t, int64_t>) f(i0, i1, m, stride);
    else f(i0, i1, m);
  };
  const int64_t a = std::clamp<int64_t>(live.begin, 0, n), b = std::clamp<int64_t>(live.end, a, n);
  for (const Range seg : {Range{0, a}, Range{a, b}, Range{b, n}})
    for (int64_t s = seg.begin; s < seg.end;) {
      const StepKey k0 = key(s, 0, 0);
      const int64_t run = gallop(seg.end - s, [&](int64_t m) { return key(s + m - 1, 0, 0) == k0; });
      // Steps G apart, shifted (sb, se) = slide (1, 1), grow (0, 1), shrink (1, 0).
      int64_t best = 1, bsb = 0, bse = 0;
      if (s + 2 * G <= seg.end)
        for (const auto& [sb, se] : {std::pair<int64_t, int64_t>{1, 1}, {0, 1}, {1, 0}}) {
          const int64_t reps = gallop((seg.end - s) / G, [&](int64_t m) {
            for (int64_t t = 0; t < G; ++t)
              if (!(key(s + t + G * (m - 1), sb, se) == key(s + t, sb, se))) return false;
            return true;
          });
          if (reps > best) best = reps, bsb = sb, bse = se;
        }
      if (best < 2 || run >= G * best) {
        call(s, int64_t(-1), run, int64_t(1));
        s += run;
        continue;
      }
      const bool uniform = bsb == bse;  // a slide keeps the number of inner blocks
      for (int64_t t = 0; t < G; ++t) call(s + t, uniform ? int64_t(-1) : s + t + G, best, G);
      s += G * best;
    }
}

template <class F>
void q_step_classes(const Tiling& t, F&& f) {
  step_classes(t.Tr, t.live_q_blocks(), t.Tc, t.Br, t.Bc, [&](int64_t i) { return t.kv_blocks(i); },
               [&](int64_t i) { return t.rows(i); }, f);
}
template <class F>
void kv_step_classes(const Tiling& t, F&& f) {
  step_classes(t.Tc, t.live_kv_blocks(), t.Tr, t.Bc, t.Br, [&](int64_t j) { return t.q_blocks(j); },
               [&](int64_t j) { return t.cols(j); }, f);
}

}  // namespace flashcheck::sim
