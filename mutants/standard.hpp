// Correct candidates other than the FlashAttention-2 one (candidate.hpp), for
// proving that the accuracy rule passes honest code whose rounding differs
// from the baseline's. Written from the definition of attention, not from
// reference/ (only the Problem vocabulary and round_to_dtype are shared).
#pragma once
#include "reference/oracle.hpp"

namespace flashcheck::mutants {

// The float64 oracle's own answer, O, dQ, dK, dV (and dbias) rounded to the
// dtype and LSE (and dsinks) to float32 (float64 for f64): the most accurate
// answer storable.
Outputs oracle_rounded(const Problem& p, const Oracle& oracle);

// Standard (unfused) attention computed wholly in float32 (float64 for f64):
// S, P, dP, dS and D never rounded to the dtype, only the outputs. More
// accurate than the baseline for f16/bf16; same precision for f32.
Outputs standard_float32(const Problem& p, const OracleInputs& in);

// Standard attention in the case's own dtype like the baseline (S, P, O, dP,
// dS stored in the dtype, D and LSE float32) but with every float32 sum
// (dot products, softmax normaliser, row sums, GQA group sums) done pairwise,
// so its rounding differs from the baseline's sequential sums.
Outputs standard_pairwise(const Problem& p, const OracleInputs& in);

}  // namespace flashcheck::mutants
