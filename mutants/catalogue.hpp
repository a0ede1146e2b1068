// The bug catalogue that proves the judge (issue 10): the correct candidates
// that must pass every case, the planted-bug mutants that must each be
// caught, the default `check gen` suite they are judged on, and the
// property search that finds (and shrinks) a counterexample for a mutant.
// Used by properties/mutants (CI) and `flashcheck mutants` (reports/mutants).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cases/generators.hpp"
#include "mutants/candidate.hpp"
#include "reference/oracle.hpp"

namespace flashcheck::mutants {

// An implementation under test: outputs for a problem (the oracle is passed
// so the rounded-oracle candidate needs no second copy of the reference).
struct Candidate {
  std::string name;
  std::string description;
  std::function<Outputs(const Problem&, const OracleInputs&, const Oracle&)> run;
};

// Every correct candidate: the rounded float64 oracle, standard attention in
// float32, standard attention in the dtype with pairwise sums, and the
// FlashAttention-2 candidate with tiles 16x16, 64x128 and 1x7.
const std::vector<Candidate>& correct_candidates();
// The FlashAttention-2 candidate (16x16 tiles) with one planted bug.
Candidate mutant(Bug bug);

// ---- the default suite (`flashcheck check gen`, default options) ----------
constexpr int kSuiteCases = 24;
// The limits cases::generate uses for the default options (max_seqlen 300,
// max_head_dim 128). Kept equal to cases/case_files.cpp by the test
// "the suite matches check gen" in properties/mutants.
gen::ShapeLimits suite_limits();
// Case c of the suite `check gen --seed seed` writes (same generator, size
// and random stream as cases::generate).
gen::Inputs suite_case(uint64_t seed, int c, int count = kSuiteCases);
OracleInputs oracle_inputs(const gen::Inputs& in);  // with dO

// Judges a candidate on one case through judge_case (every tensor).
CaseVerdict judge(const Candidate& c, const gen::Inputs& in, const Oracle& oracle);

// ---- the whole suite over several seeds -----------------------------------
struct FalseFailure {  // a correct candidate failing a case: a defect of the rule
  std::string candidate;
  uint64_t seed = 0;
  int case_index = 0;
  std::string problem, values, summary;
  std::vector<TensorVerdict> failing;  // the failing tensors' verdicts
};
struct InformativeCount {
  std::string tensor;  // "o", "lse", "dq", "dk", "dv"
  int informative = 0, judged = 0;
};
struct SuiteResult {
  std::vector<uint64_t> seeds;
  int cases = 0;                             // seeds x kSuiteCases
  std::vector<int> correct_failures;         // per correct_candidates() entry
  std::vector<int> mutant_kills;             // per all_bugs() entry: cases failed
  std::vector<std::vector<int>> kills_by_seed;  // [seed index][bug index]: cases failed
  std::vector<FalseFailure> false_failures;
  std::vector<InformativeCount> informative; // per tensor, from the correct run
  // Per value kind ("normal", ...) and tensor: informative / judged.
  std::vector<std::pair<std::string, std::vector<InformativeCount>>> informative_by_values;
};
// Judges every correct candidate and every mutant on every case of the
// default suite for each seed (progress: one line per seed, may be null).
SuiteResult judge_suite(const std::vector<uint64_t>& seeds, std::ostream* progress = nullptr);

// ---- the property search ---------------------------------------------------
// Limits of the property: small problems of every dtype, mask and GQA shape,
// lengths leaning to the candidate's 16-wide tiles.
gen::ShapeLimits property_limits();

// The search tries each regime in turn: "small" (property_limits) shrinks
// to the tiniest failing case; "long" (suite_limits: lengths up to 300) is
// where bugs that need long sums show (an accumulator in the input dtype).
struct Regime {
  std::string name;
  gen::ShapeLimits limits;
};
const std::vector<Regime>& search_regimes();

struct Search {
  bool found = false;         // a counterexample was found (the mutant is killed)
  std::string regime;         // where it was found (the last regime tried if not)
  int tests = 0;              // cases tried, over every regime tried, up to the first failure
  uint64_t seed = 0;
  std::string counterexample;  // the shrunk case, as RapidCheck prints it
  std::string verdict;         // judge_case's summary on the shrunk case
  std::string problem;         // the shrunk problem's one-line description
  std::string values;          // its value spec (kind, magnitude, seed)
};
// Runs the property "candidate passes judge_case on every gen::inputs case"
// with a fixed seed for up to max_tests cases per regime, stopping at the
// first regime that fails; RapidCheck shrinks the failing case. For a correct
// candidate found must be false; for a mutant true.
Search search_counterexample(const Candidate& c, uint64_t seed, int max_tests = 200);
// Runs `body` as a RapidCheck property (id names it) with a fixed seed for
// up to max_tests cases, shrinking the first failure; body records the
// failing case in the Search before RC_FAIL. found, tests and
// counterexample are filled in from the outcome.
// Inside a run_search body: judges the candidate on the case and, when it
// fails, records problem, values and verdict in s and fails the property.
void judge_or_fail(const Candidate& c, const Problem& p, const OracleInputs& in, const std::string& values,
                   Search& s);
Search run_search(const std::string& id, const std::string& regime, uint64_t seed, int max_tests,
                  const std::function<void(Search&)>& body);

}  // namespace flashcheck::mutants
