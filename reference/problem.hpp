// The one Problem type: the shape, scale, mask and dtype of an attention call.
// Tensors are contiguous [B][H][N][d] (PyTorch SDPA's layout): Q and O have
// heads_q heads and seqlen_q rows; K and V have heads_kv heads and seqlen_k
// rows; LSE is [B][heads_q][seqlen_q] (float32 on GPUs, float64 here).
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "reference/dtype.hpp"
#include "reference/mask.hpp"
#include "reference/variants.hpp"

namespace flashcheck {

// Thrown by Problem::validate; field() names the offending field.
class ProblemError : public std::invalid_argument {
 public:
  ProblemError(std::string field, const std::string& why)
      : std::invalid_argument("invalid problem: " + field + ": " + why), field_(std::move(field)) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

struct Problem {
  int64_t batch = 1;
  int64_t heads_q = 1;
  int64_t heads_kv = 1;  // fewer than heads_q: GQA (MQA when 1)
  int64_t seqlen_q = 1;
  int64_t seqlen_k = 1;
  int64_t head_dim = 64;
  std::optional<double> scale;  // softmax scale; default 1/sqrt(head_dim)
  Mask mask;
  DType dtype = DType::f16;
  Variants variants;  // default: plain attention (reference/variants.hpp)

  // Throws ProblemError naming the first bad field: sizes < 1, heads_q not a
  // multiple of heads_kv, a negative window, a non-finite or non-positive
  // scale, or an element count (of any tensor, S included) past 2^62; and
  // bad variant fields (variants.*), sizes of 0 passing only with
  // variants.allow_empty.
  void validate() const;

  double softmax_scale() const;
  int64_t group_size() const { return heads_q / heads_kv; }  // query heads per KV head
  int64_t q_elems() const { return batch * heads_q * seqlen_q * head_dim; }   // Q, O, dO, dQ
  int64_t kv_elems() const { return batch * heads_kv * seqlen_k * head_dim; } // K, V, dK, dV
  int64_t lse_elems() const { return batch * heads_q * seqlen_q; }            // LSE, D
  int64_t score_elems() const { return batch * heads_q * seqlen_q * seqlen_k; } // S, P
  int64_t kv_head_of(int64_t h) const { return h / group_size(); }

  bool visible(int64_t q, int64_t k) const { return mask.visible(q, k, seqlen_q, seqlen_k); }
  Range key_range(int64_t q) const { return mask.key_range(q, seqlen_q, seqlen_k); }

  // One line (" variants=..." appended when not plain), e.g. "B=2 Hq=4 Hkv=2 Nq=97 Nk=113 d=64 scale=0.125 mask=causal_top_left dtype=bf16".
  std::string describe() const;
};

}  // namespace flashcheck
