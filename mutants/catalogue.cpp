// The bug catalogue (catalogue.hpp).
#include "mutants/catalogue.hpp"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include <rapidcheck.h>

#include "mutants/standard.hpp"

namespace flashcheck::mutants {
namespace {

// Reports nothing: the search's outcome is returned, not printed, and
// RapidCheck's global listener would print a "properties had failures"
// replay line at exit for every mutant it (rightly) caught.
class Quiet : public rc::detail::TestListener {
 public:
  void onTestCaseFinished(const rc::detail::CaseDescription&) override {}
  void onShrinkTried(const rc::detail::CaseDescription&, bool) override {}
  void onTestFinished(const rc::detail::TestMetadata&, const rc::detail::TestResult&) override {}
};

Candidate flash2(const std::string& name, Bug bug, Tiles tiles) {
  std::ostringstream what;
  what << (bug == Bug::none ? "FlashAttention-2 candidate (float32 online softmax)"
                            : bug_description(bug))
       << ", tiles " << tiles.Br << "x" << tiles.Bc;
  return {name, what.str(), [bug, tiles](const Problem& p, const OracleInputs& in, const Oracle&) {
            return flash2_candidate(p, in, bug, tiles);
          }};
}

}  // namespace

const std::vector<Candidate>& correct_candidates() {
  static const std::vector<Candidate> all = {
      {"oracle_rounded", "float64 oracle, outputs rounded to the dtype (LSE to float32)",
       [](const Problem& p, const OracleInputs&, const Oracle& o) { return oracle_rounded(p, o); }},
      {"standard_float32", "standard attention wholly in float32, outputs rounded to the dtype",
       [](const Problem& p, const OracleInputs& in, const Oracle&) { return standard_float32(p, in); }},
      {"standard_pairwise",
       "standard attention in the dtype (S, P, O, dP, dS stored rounded) with pairwise float32 sums",
       [](const Problem& p, const OracleInputs& in, const Oracle&) { return standard_pairwise(p, in); }},
      flash2("flash2_16x16", Bug::none, {16, 16}),
      flash2("flash2_64x128", Bug::none, {64, 128}),
      flash2("flash2_1x7", Bug::none, {1, 7}),
  };
  return all;
}

Candidate mutant(Bug bug) { return flash2(bug_name(bug), bug, Tiles{}); }

gen::ShapeLimits suite_limits() {
  // cases::generate with its default options (case_files.hpp GenOptions).
  gen::ShapeLimits limits;
  limits.max_seqlen = 300;
  limits.max_head_dim = 128;
  limits.tile_edges = {64, 128};
  limits.dtypes = {DType::f16, DType::bf16, DType::f32};
  limits.head_dims = {16, 32, 59, 64, 96, 111, 128};
  limits.max_work = int64_t(1) << 24;
  return limits;
}

gen::Inputs suite_case(uint64_t seed, int c, int count) {
  static const auto inputs_gen = gen::inputs(suite_limits());
  const int size = std::min(100, 10 + 90 * c / std::max(1, count - 1));
  return inputs_gen(rc::Random(seed + 7919 * static_cast<uint64_t>(c)), size).value();
}

OracleInputs oracle_inputs(const gen::Inputs& in) { return {in.Q, in.K, in.V, in.dO}; }

CaseVerdict judge(const Candidate& c, const gen::Inputs& in, const Oracle& oracle) {
  return judge_case(in.problem, oracle, c.run(in.problem, oracle_inputs(in), oracle));
}

SuiteResult judge_suite(const std::vector<uint64_t>& seeds, std::ostream* progress) {
  const auto& correct = correct_candidates();
  const auto& bugs = all_bugs();
  std::vector<Candidate> mutants;
  for (Bug b : bugs) mutants.push_back(mutant(b));
  SuiteResult r;
  r.seeds = seeds;
  r.correct_failures.assign(correct.size(), 0);
  r.mutant_kills.assign(bugs.size(), 0);
  auto count = [](std::vector<InformativeCount>& counts, const TensorVerdict& v) {
    auto it = std::find_if(counts.begin(), counts.end(),
                           [&](const InformativeCount& c) { return c.tensor == v.name; });
    if (it == counts.end()) it = counts.insert(counts.end(), InformativeCount{v.name, 0, 0});
    it->judged++;
    it->informative += v.informative ? 1 : 0;
  };
  for (uint64_t seed : seeds) {
    int killed_here = 0, false_here = 0;
    r.kills_by_seed.emplace_back(bugs.size(), 0);
    for (int c = 0; c < kSuiteCases; ++c) {
      const gen::Inputs in = suite_case(seed, c);
      const Oracle oracle = make_oracle(in.problem, oracle_inputs(in));
      ++r.cases;
      for (size_t i = 0; i < correct.size(); ++i) {
        const CaseVerdict v = judge(correct[i], in, oracle);
        if (i == 0) {  // informativeness is the bound's, the same for every candidate
          const std::string kind = gen::values_name(in.values.kind);
          auto it = std::find_if(r.informative_by_values.begin(), r.informative_by_values.end(),
                                 [&](const auto& e) { return e.first == kind; });
          if (it == r.informative_by_values.end())
            it = r.informative_by_values.insert(r.informative_by_values.end(), {kind, {}});
          for (const TensorVerdict& t : v.tensors) {
            count(r.informative, t);
            count(it->second, t);
          }
        }
        if (v.pass) continue;
        ++r.correct_failures[i];
        ++false_here;
        FalseFailure f{correct[i].name, seed, c, in.problem.describe(), gen::values_name(in.values.kind),
                       v.summary(), {}};
        for (const TensorVerdict& t : v.tensors)
          if (!t.pass) f.failing.push_back(t);
        r.false_failures.push_back(std::move(f));
      }
      for (size_t i = 0; i < mutants.size(); ++i)
        if (!judge(mutants[i], in, oracle).pass) {
          ++r.mutant_kills[i];
          ++r.kills_by_seed.back()[i];
          ++killed_here;
        }
    }
    if (progress)
      *progress << "mutants: seed " << seed << ": " << false_here << " false failures, "
                << killed_here << " mutant kills\n" << std::flush;
  }
  return r;
}

gen::ShapeLimits property_limits() {
  gen::ShapeLimits limits;  // max_seqlen 33, tile edges 8 and 16, GQA, every mask
  limits.dtypes = {DType::f64, DType::f32, DType::f16, DType::bf16};
  return limits;
}

const std::vector<Regime>& search_regimes() {
  static const std::vector<Regime> r = {{"small", property_limits()}, {"long", suite_limits()}};
  return r;
}

void judge_or_fail(const Candidate& c, const Problem& p, const OracleInputs& in, const std::string& values,
                   Search& s) {
  const Oracle oracle = make_oracle(p, in);
  const CaseVerdict v = judge_case(p, oracle, c.run(p, in, oracle));
  if (v.pass) return;
  s.problem = p.describe();
  s.values = values;
  s.verdict = v.summary();
  RC_FAIL(v.summary());
}

// Shrinking accepts each smaller failing case and stops after trying the
// last one's shrinks (which all pass), so the last failing evaluation is
// the shrunk counterexample.
Search run_search(const std::string& id, const std::string& regime, uint64_t seed, int max_tests,
                  const std::function<void(Search&)>& body) {
  rc::detail::TestMetadata metadata;
  metadata.id = id;
  metadata.description = id;
  rc::detail::TestParams params;
  params.seed = seed;
  params.maxSuccess = max_tests;
  Search s;
  s.seed = seed;
  s.regime = regime;
  const auto property = [&] { body(s); };
  Quiet quiet;
  const auto result =
      rc::detail::checkProperty(rc::detail::toProperty(property), metadata, params, quiet);
  rc::detail::FailureResult failure;
  rc::detail::SuccessResult success;
  if (result.match(failure)) {
    s.found = true;
    s.tests = failure.numSuccess + 1;
    std::ostringstream ex;
    for (const auto& [type, value] : failure.counterExample) ex << value;
    s.counterexample = ex.str();
  } else if (result.match(success)) {
    s.tests = success.numSuccess;
  } else {
    std::ostringstream msg;
    rc::detail::printResultMessage(result, msg);
    throw std::runtime_error("search_counterexample(" + id + "): " + msg.str());
  }
  return s;
}

namespace {

Search search_in(const Candidate& c, const Regime& regime, uint64_t seed, int max_tests) {
  const auto inputs_gen = gen::inputs(regime.limits);
  return run_search("mutants/" + c.name + "/" + regime.name, regime.name, seed, max_tests, [&](Search& s) {
    const gen::Inputs in = *inputs_gen;
    std::ostringstream values;
    showValue(in.values, values);
    judge_or_fail(c, in.problem, oracle_inputs(in), values.str(), s);
  });
}

}  // namespace

Search search_counterexample(const Candidate& c, uint64_t seed, int max_tests) {
  Search s;
  int tests = 0;
  for (const Regime& r : search_regimes()) {
    s = search_in(c, r, seed, max_tests);
    tests += s.tests;
    if (s.found) break;
  }
  s.tests = tests;
  return s;
}

}  // namespace flashcheck::mutants
