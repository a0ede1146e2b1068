// The one mask object. Every mask kind here is a diagonal band: key k is
// visible to query q iff 0 <= k < seqlen_k and dlo <= k - q <= dhi. The
// reference, the simulator's schedules and the CUDA kernels all ask this
// object, so they cannot disagree on what a mask means.
//
// Kinds:
//   none                 every key is visible.
//   causal_top_left      k <= q (PyTorch SDPA is_causal; rows past seqlen_k
//                        see all keys).
//   causal_bottom_right  k <= q + seqlen_k - seqlen_q (FlashAttention-2 when
//                        seqlen_q != seqlen_k; the first seqlen_q - seqlen_k
//                        rows see nothing when seqlen_q > seqlen_k).
//   sliding_window       q + off - left <= k <= q + off + right, with
//                        off = seqlen_k - seqlen_q (bottom-right aligned, as
//                        FlashAttention's local attention); left, right >= 0.
//                        A window larger than the sequence is unbounded.
#pragma once
#include <cstdint>
#include <string>

#include "reference/common.hpp"

namespace flashcheck {

enum class MaskKind { none, causal_top_left, causal_bottom_right, sliding_window };

// Half-open index range [begin, end); empty when end <= begin.
struct Range {
  int64_t begin = 0;
  int64_t end = 0;
  FC_HD constexpr int64_t size() const { return end > begin ? end - begin : 0; }
  FC_HD constexpr bool empty() const { return end <= begin; }
};

struct Mask {
  MaskKind kind = MaskKind::none;
  int64_t window_left = 0;   // sliding_window only
  int64_t window_right = 0;  // sliding_window only

  static Mask none() { return {}; }
  static Mask causal_top_left() { return {MaskKind::causal_top_left, 0, 0}; }
  static Mask causal_bottom_right() { return {MaskKind::causal_bottom_right, 0, 0}; }
  static Mask sliding_window(int64_t left, int64_t right) {
    return {MaskKind::sliding_window, left, right};
  }

  // Diagonal band [dlo, dhi] of k - q; "unbounded" is +-(sq + sk), which no
  // index difference reaches.
  FC_HD constexpr int64_t dlo(int64_t sq, int64_t sk) const {
    return kind == MaskKind::sliding_window ? (sk - sq) - window_left : -(sq + sk);
  }
  FC_HD constexpr int64_t dhi(int64_t sq, int64_t sk) const {
    return kind == MaskKind::none              ? (sq + sk)
           : kind == MaskKind::causal_top_left ? 0
           : kind == MaskKind::causal_bottom_right ? (sk - sq)
                                                   : (sk - sq) + window_right;
  }

  FC_HD constexpr bool visible(int64_t q, int64_t k, int64_t sq, int64_t sk) const {
    return k >= 0 && k < sk && q >= 0 && q < sq && k - q >= dlo(sq, sk) && k - q <= dhi(sq, sk);
  }

  // Keys visible to row q: a contiguous range (possibly empty).
  FC_HD constexpr Range key_range(int64_t q, int64_t sq, int64_t sk) const {
    return {clamp(q + dlo(sq, sk), 0, sk), clamp(q + dhi(sq, sk) + 1, 0, sk)};
  }
  // Queries that see key k: a contiguous range (possibly empty).
  FC_HD constexpr Range query_range(int64_t k, int64_t sq, int64_t sk) const {
    return {clamp(k - dhi(sq, sk), 0, sq), clamp(k - dlo(sq, sk) + 1, 0, sq)};
  }

  // KV blocks of width Bc that rows [r0, r1) must visit: block indices
  // [begin, end). Both band edges are monotone in q, so the rows with a
  // non-empty key range are contiguous and the union of their ranges is too.
  FC_HD constexpr Range kv_blocks(int64_t r0, int64_t r1, int64_t Bc, int64_t sq,
                                  int64_t sk) const {
    int64_t qa = r0 > -dhi(sq, sk) ? r0 : -dhi(sq, sk);
    int64_t qb = r1 < sk - dlo(sq, sk) ? r1 : sk - dlo(sq, sk);
    if (qa >= qb) return {0, 0};
    return {key_range(qa, sq, sk).begin / Bc, (key_range(qb - 1, sq, sk).end + Bc - 1) / Bc};
  }
  // Q blocks of height Br that see some key in [c0, c1) (backward, KV-outer).
  FC_HD constexpr Range q_blocks(int64_t c0, int64_t c1, int64_t Br, int64_t sq,
                                 int64_t sk) const {
    int64_t ka = c0 > dlo(sq, sk) ? c0 : dlo(sq, sk);
    int64_t kb = c1 < sq + dhi(sq, sk) ? c1 : sq + dhi(sq, sk);
    if (ka >= kb) return {0, 0};
    return {query_range(ka, sq, sk).begin / Br, (query_range(kb - 1, sq, sk).end + Br - 1) / Br};
  }
  // True when every (q, k) in [r0, r1) x [c0, c1) is visible: such a tile
  // needs no element-wise masking.
  FC_HD constexpr bool tile_fully_visible(int64_t r0, int64_t r1, int64_t c0, int64_t c1,
                                          int64_t sq, int64_t sk) const {
    return r0 >= 0 && r1 <= sq && c0 >= 0 && c1 <= sk &&
           (c0 - (r1 - 1)) >= dlo(sq, sk) && (c1 - 1 - r0) <= dhi(sq, sk);
  }

  std::string describe() const;

 private:
  FC_HD static constexpr int64_t clamp(int64_t x, int64_t lo, int64_t hi) {
    return x < lo ? lo : (x > hi ? hi : x);
  }
};

const char* mask_kind_name(MaskKind k);
// Accepts none, causal (= causal_top_left), causal_top_left, causal_bottom_right,
// window:L:R (= sliding_window). Throws std::invalid_argument otherwise.
Mask parse_mask(const std::string& s);

}  // namespace flashcheck
