// The float64 oracle for the attention variants (reference/variants.hpp):
// forward and backward of softcap, ALiBi, sinks, dropout, bias, boolean
// mask, varlen and paged K/V, in any sensible combination, the tensors they
// need carried in an Extras beside Q, K, V. With problem.variants plain and
// Extras empty it computes what reference_forward/backward compute (a
// property checks it); it is written as plain scalar loops, separately from
// that code, so the two check each other.
//
// Conventions beyond attention.hpp's:
//   A row that sees no key and has no sink: O = 0, LSE = -inf, zero gradients.
//   With a sink and no visible key: O = 0, LSE = sink_h.
//   Dropout acts on P after normalisation (LSE does not see it), as in
//   FlashAttention; dO flows back through keep / (1 - p).
//   dbias = dS (the gradient of the loss w.r.t. the final score s_ij, 0 where
//   hidden); dsinks_h = -sum_{b,i} P_sink * D_i, D_i = dO_i . O_i.
#pragma once
#include <cstdint>
#include <vector>

#include "reference/attention.hpp"
#include "reference/problem.hpp"
#include "reference/tensor.hpp"

namespace flashcheck {

// Tensors of the variants; each is given exactly when its variant is on.
struct Extras {
  std::vector<double> alibi_slopes;   // [heads_q]            variants.alibi
  std::vector<double> sinks;          // [heads_q]            variants.sinks
  Tensor4<uint8_t> keep;              // score_shape          variants.dropout_p (nonzero = kept)
  Tensor4<double> bias;               // score_shape          variants.bias
  Tensor4<uint8_t> mask;              // score_shape          variants.bool_mask (nonzero = visible)
  std::vector<int64_t> cu_seqlens_q;  // [batch + 1]          variants.varlen
  std::vector<int64_t> cu_seqlens_k;  // [batch + 1]          variants.varlen
  // [batch][pages_per_seq(p)] row-major, entries in [0, num_pages)  variants.page_size
  std::vector<int64_t> block_table;
};

// Shapes under the variants (plain: q_shape, kv_shape, lse_shape).
Shape4 variant_q_shape(const Problem& p, const Extras& ex);    // Q, O, dO, dQ
Shape4 variant_kv_shape(const Problem& p, const Extras& ex);   // K, V, dK, dV
Shape4 variant_lse_shape(const Problem& p, const Extras& ex);  // LSE
inline Shape4 score_shape(const Problem& p) { return {p.batch, p.heads_q, p.seqlen_q, p.seqlen_k}; }
// ceil(seqlen_k / page_size): the block table's row length.
int64_t pages_per_seq(const Problem& p);
// Lengths of sequence b (varlen: from cu_seqlens; else seqlen_q / seqlen_k).
int64_t seq_len_q(const Problem& p, const Extras& ex, int64_t b);
int64_t seq_len_k(const Problem& p, const Extras& ex, int64_t b);

// Validates the problem, then every extra against its variant: present
// exactly when the variant is on, right shape, values in range. Throws
// ProblemError naming the field (e.g. "extras.bias").
void validate_extras(const Problem& p, const Extras& ex);
// validate_extras, then the shapes of Q, K, V.
void require_variant_inputs(const Problem& p, const Extras& ex, const Tensor4<double>& Q,
                            const Tensor4<double>& K, const Tensor4<double>& V);

ForwardResult variant_forward(const Problem& p, const Extras& ex, const Tensor4<double>& Q,
                              const Tensor4<double>& K, const Tensor4<double>& V);

struct VariantGradients {
  Tensor4<double> dQ;           // variant_q_shape
  Tensor4<double> dK;           // variant_kv_shape (paged: per page, summed over sharers)
  Tensor4<double> dV;
  Tensor4<double> dbias;        // score_shape when variants.bias, else empty
  std::vector<double> dsinks;   // [heads_q] when variants.sinks, else empty
};

VariantGradients variant_backward(const Problem& p, const Extras& ex, const Tensor4<double>& Q,
                                  const Tensor4<double>& K, const Tensor4<double>& V,
                                  const Tensor4<double>& O, const Tensor4<double>& LSE,
                                  const Tensor4<double>& dO);

}  // namespace flashcheck
