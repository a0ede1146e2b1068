// Candidates for the attention variants (issue 13 acceptance): standard
// attention with the variants in the dtype (the variant baseline's rounding
// model, reference/variant_baseline.hpp) or in float32, and the same code
// with one planted bug per variant, each the kind of mistake kernels ship:
//   softcap_dropped_in_backward  the backward recomputes P without cap tanh(s/cap)
//                                and omits its derivative (forward correct)
//   alibi_slope_sign             +slope |i - j| instead of -slope |i - j|
//   varlen_offset_off_by_one     sequence b >= 1 reads (and writes dK, dV of)
//                                its keys at sequence b-1's start offset
//   block_table_misindexed       every sequence reads block-table row 0 (the
//                                batch stride of the table dropped)
//   sink_gradient_missing        dsinks never accumulated (left zero)
// The bugs are planted in what the code reads (slopes, offsets, table rows,
// the problem its backward sees), so the buggy arithmetic is the correct
// code's own.
#pragma once
#include <string>
#include <vector>

#include "reference/oracle.hpp"

namespace flashcheck::mutants {

enum class VariantBug {
  none,
  softcap_dropped_in_backward,
  alibi_slope_sign,
  varlen_offset_off_by_one,
  block_table_misindexed,
  sink_gradient_missing,
};
const std::vector<VariantBug>& all_variant_bugs();  // every bug but none
const char* variant_bug_name(VariantBug b);
const char* variant_bug_description(VariantBug b);
VariantBug parse_variant_bug(const std::string& s);  // throws std::invalid_argument

// Outputs of standard attention with p's variants (O, LSE, and with in.dO the
// gradients, dbias and dsinks), computed in p's dtype (in_float32: in float32,
// outputs rounded to the dtype), with the bug planted.
Outputs variant_candidate(const Problem& p, const OracleInputs& in, VariantBug bug = VariantBug::none,
                          bool in_float32 = false);

}  // namespace flashcheck::mutants
