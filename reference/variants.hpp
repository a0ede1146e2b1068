// The attention variants production kernels ship, as scalar fields of the
// one Problem (problem.variants). The tensors some of them need (slopes,
// sink logits, keep mask, bias, boolean mask, cu_seqlens, block table) are
// passed beside Q, K, V in an Extras (reference/variant_attention.hpp).
// Every default means plain attention, so a Problem that never mentions
// variants is exactly what it was before they existed.
//
// Scores, in the order they are built (FlexAttention's score_mod order,
// FlashAttention-2's order for softcap then ALiBi):
//   s_ij = scale * q_i . k_j
//   s_ij = cap * tanh(s_ij / cap)                       softcap
//   s_ij += -slope_h * |i + Nk - Nq - j|               alibi (bottom-right)
//   s_ij += bias[b][h][i][j]                            bias
//   s_ij = -inf where the band mask or mask[b][h][i][j] hides (i, j)
//   LSE_i = log(sum_j exp(s_ij) + exp(sink_h))          sinks
//   P_ij = exp(s_ij - LSE_i)
//   O_i = sum_j P_ij * keep_ij / (1 - p) * v_j          dropout
// Nq, Nk are the lengths of the row's own sequence (varlen: from
// cu_seqlens), so masks and ALiBi are aligned per sequence.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace flashcheck {

struct Variants {
  std::optional<double> softcap;    // cap > 0, finite
  bool alibi = false;               // extras.alibi_slopes [heads_q]
  bool sinks = false;               // extras.sinks [heads_q] (-inf: no sink)
  std::optional<double> dropout_p;  // extras.keep [B][Hq][Nq][Nk]; 0 <= p < 1
  bool bias = false;                // extras.bias [B][Hq][Nq][Nk] (-inf allowed: hidden)
  bool bool_mask = false;           // extras.mask [B][Hq][Nq][Nk], nonzero = visible
  // Packed sequences: extras.cu_seqlens_q/k [batch + 1]; Q, O are
  // [1][Hq][cu_seqlens_q[batch]][d], K, V [1][Hkv][cu_seqlens_k[batch]][d];
  // seqlen_q/k are the longest sequences (the extent of the [B][Hq][Nq][Nk]
  // extras). A sequence may have length 0.
  bool varlen = false;
  // Paged K/V: K, V are [num_pages][Hkv][page_size][d]; key j of batch b
  // is row j % page_size of page extras.block_table[b][j / page_size].
  std::optional<int64_t> page_size;
  int64_t num_pages = 0;
  // Accept batch = 0 and seqlen_q/k = 0 (empty batches, nothing to attend to).
  bool allow_empty = false;

  bool plain() const {
    return !softcap && !alibi && !sinks && !dropout_p && !bias && !bool_mask && !varlen &&
           !page_size && num_pages == 0 && !allow_empty;
  }
  // "" when plain, else e.g. "softcap=30,alibi,varlen".
  std::string describe() const;
};

}  // namespace flashcheck
