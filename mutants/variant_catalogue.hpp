// The variant bug catalogue (issue 13 acceptance): correct variant
// candidates that must pass every case of `check gen --variants all`, the
// planted-bug mutants (variant_candidate.hpp) that must each be caught on the
// cases of their variant, and the property search that finds and shrinks a
// counterexample with the bug's variant forced on. Used by properties/mutants
// and `flashcheck mutants`.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <vector>

#include "cases/variant_inputs.hpp"
#include "mutants/catalogue.hpp"
#include "mutants/variant_candidate.hpp"

namespace flashcheck::mutants {

// The rounded float64 oracle, standard attention with the variants in the
// dtype, and the same in float32 with the outputs rounded.
const std::vector<Candidate>& correct_variant_candidates();
Candidate variant_mutant(VariantBug bug);
gen::CaseVariant variant_of(VariantBug bug);  // the variant whose code holds the bug

OracleInputs oracle_inputs(const gen::VariantInputs& in);  // with dO and the extras
// Case c of the suite `check gen --variants all --seed seed --count count`
// writes (default shape limits; same draws as cases::generate).
gen::VariantInputs variant_suite_case(uint64_t seed, int c, int count);

struct VariantSuiteResult {
  int cases = 0;
  std::vector<int> correct_failures;  // per correct_variant_candidates() entry
  std::vector<int> mutant_kills;      // per all_variant_bugs() entry: cases failed
  std::vector<int> mutant_cases;      // per bug: cases holding its variant
  std::vector<FalseFailure> false_failures;
};
// Judges the correct candidates and the mutants on every case of the
// variant suite (count cases) for each seed.
VariantSuiteResult judge_variant_suite(const std::vector<uint64_t>& seeds, int count,
                                       std::ostream* progress = nullptr);

// The property "candidate passes judge_case" over small generated problems
// (property_limits) with `forced` on and another score variant drawn, for
// up to max_tests cases; the first failure is shrunk.
Search search_variant_counterexample(const Candidate& c, gen::CaseVariant forced, uint64_t seed,
                                     int max_tests = 200);

}  // namespace flashcheck::mutants
