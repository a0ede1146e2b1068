// Candidate implementations that prove the judge: a FlashAttention-2 style
// forward and backward (Q-outer forward with online softmax, KV-outer
// backward recomputing P from LSE, D = rowsum(dO * O) from its own O),
// written independently of reference/, computing in float32 (float64 for
// dtype f64) with P, dS and the outputs rounded to the problem's dtype as a
// tensor-core kernel does. A Bug plants one plausible kernel mistake; Bug::none
// is a correct candidate that must pass every case.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "reference/oracle.hpp"

namespace flashcheck::mutants {

enum class Bug {
  none,
  scale_missing,          // S = Q K^T without the softmax scale
  scale_twice,            // scale applied to Q and again to S
  causal_off_by_one,      // causal masks admit k <= q + 1
  causal_swapped,         // top-left and bottom-right causal swapped
  window_off_by_one,      // sliding window one key wider on the left
  lse_base2,              // LSE stored as log2 sum 2^(S log2 e)
  d_from_wrong_o,         // D = rowsum(dO * O) from the unnormalised O
  dk_sign,                // dK with the wrong sign
  dq_dk_zero,             // dQ and dK never written (zero)
  gqa_mod,                // KV head of query head h taken as h mod Hkv
  last_kv_tile_dropped,   // a ragged last KV tile (Nk % Bc != 0) skipped
  last_row_stale,         // the last query row of O never written (stale memory)
  empty_row_mean_v,       // a row that sees no key returns the mean of V
  pv_in_dtype,            // P V accumulated in the input dtype, not float32
};
const std::vector<Bug>& all_bugs();  // every bug but none
const char* bug_name(Bug b);
const char* bug_description(Bug b);
Bug parse_bug(const std::string& s);  // throws std::invalid_argument

struct Tiles {
  int64_t Br = 16, Bc = 16;  // small, so the suite's lengths hit ragged tails
};

// Forward (O, LSE) and, when in.dO is set, backward (dQ, dK, dV). Values of
// O, dQ, dK, dV are rounded to p.dtype; LSE is float32 (float64 for f64).
Outputs flash2_candidate(const Problem& p, const OracleInputs& in, Bug bug = Bug::none,
                         Tiles tiles = {});

}  // namespace flashcheck::mutants
