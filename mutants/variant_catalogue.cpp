// The variant bug catalogue (variant_catalogue.hpp).
#include "mutants/variant_catalogue.hpp"

#include <algorithm>
#include <ostream>
#include <sstream>

#include <rapidcheck.h>

#include "mutants/standard.hpp"

namespace flashcheck::mutants {

const std::vector<Candidate>& correct_variant_candidates() {
  static const std::vector<Candidate> all = {
      {"oracle_rounded", "float64 oracle, outputs rounded to the dtype (LSE, dsinks to float32)",
       [](const Problem& p, const OracleInputs&, const Oracle& o) { return oracle_rounded(p, o); }},
      {"variant_standard", "standard attention with the variants in the dtype (S, P, dS stored rounded)",
       [](const Problem& p, const OracleInputs& in, const Oracle&) { return variant_candidate(p, in); }},
      {"variant_float32", "standard attention with the variants in float32, outputs rounded to the dtype",
       [](const Problem& p, const OracleInputs& in, const Oracle&) {
         return variant_candidate(p, in, VariantBug::none, true);
       }},
  };
  return all;
}

Candidate variant_mutant(VariantBug bug) {
  return {variant_bug_name(bug), variant_bug_description(bug),
          [bug](const Problem& p, const OracleInputs& in, const Oracle&) { return variant_candidate(p, in, bug); }};
}

gen::CaseVariant variant_of(VariantBug bug) {
  switch (bug) {
    case VariantBug::softcap_dropped_in_backward: return gen::CaseVariant::softcap;
    case VariantBug::alibi_slope_sign: return gen::CaseVariant::alibi;
    case VariantBug::varlen_offset_off_by_one: return gen::CaseVariant::varlen;
    case VariantBug::block_table_misindexed: return gen::CaseVariant::paged;
    case VariantBug::sink_gradient_missing:
    case VariantBug::none: break;
  }
  return gen::CaseVariant::sinks;
}

OracleInputs oracle_inputs(const gen::VariantInputs& in) { return {in.Q, in.K, in.V, in.dO, in.extras}; }

gen::VariantInputs variant_suite_case(uint64_t seed, int c, int count) {
  const gen::Inputs base = suite_case(seed, c, count);
  return gen::with_variants(base, gen::suite_variants(gen::all_case_variants(), c), gen::variant_seed(base));
}

namespace {

bool has_variant(const Problem& p, gen::CaseVariant v) {
  const Variants& x = p.variants;
  switch (v) {
    case gen::CaseVariant::softcap: return x.softcap.has_value();
    case gen::CaseVariant::alibi: return x.alibi;
    case gen::CaseVariant::varlen: return x.varlen;
    case gen::CaseVariant::paged: return x.page_size.has_value();
    case gen::CaseVariant::sinks: return x.sinks;
    case gen::CaseVariant::dropout: return x.dropout_p.has_value();
    case gen::CaseVariant::mask: return x.bool_mask;
    case gen::CaseVariant::bias: return x.bias;
  }
  return false;
}

}  // namespace

VariantSuiteResult judge_variant_suite(const std::vector<uint64_t>& seeds, int count, std::ostream* progress) {
  const auto& correct = correct_variant_candidates();
  const auto& bugs = all_variant_bugs();
  VariantSuiteResult r;
  r.correct_failures.assign(correct.size(), 0);
  r.mutant_kills.assign(bugs.size(), 0);
  r.mutant_cases.assign(bugs.size(), 0);
  for (uint64_t seed : seeds) {
    int kills_here = 0, false_here = 0;
    for (int c = 0; c < count; ++c) {
      const gen::Inputs base = suite_case(seed, c, count);
      const gen::VariantInputs in =
          gen::with_variants(base, gen::suite_variants(gen::all_case_variants(), c), gen::variant_seed(base));
      const OracleInputs oin = oracle_inputs(in);
      const Oracle oracle = make_oracle(in.problem, oin);
      ++r.cases;
      for (size_t i = 0; i < correct.size(); ++i) {
        const CaseVerdict v = judge_case(in.problem, oracle, correct[i].run(in.problem, oin, oracle));
        if (v.pass) continue;
        ++r.correct_failures[i];
        ++false_here;
        FalseFailure f{correct[i].name, seed, c, in.problem.describe(), gen::values_name(base.values.kind),
                       v.summary(), {}};
        for (const TensorVerdict& t : v.tensors)
          if (!t.pass) f.failing.push_back(t);
        r.false_failures.push_back(std::move(f));
      }
      for (size_t i = 0; i < bugs.size(); ++i) {
        if (!has_variant(in.problem, variant_of(bugs[i]))) continue;  // the bug's code never runs
        ++r.mutant_cases[i];
        const Candidate m = variant_mutant(bugs[i]);
        if (!judge_case(in.problem, oracle, m.run(in.problem, oin, oracle)).pass) {
          ++r.mutant_kills[i];
          ++kills_here;
        }
      }
    }
    if (progress)
      *progress << "mutants: variant suite seed " << seed << ": " << false_here << " false failures, "
                << kills_here << " mutant kills\n" << std::flush;
  }
  return r;
}

Search search_variant_counterexample(const Candidate& c, gen::CaseVariant forced, uint64_t seed, int max_tests) {
  const auto inputs_gen = gen::inputs(property_limits());
  const std::string regime = std::string("small+") + gen::case_variant_name(forced);
  return run_search("mutants/" + c.name + "/" + regime, regime, seed, max_tests, [&](Search& s) {
    const gen::Inputs base = *inputs_gen;
    // Another score variant beside the forced one (or none), so combinations are searched too.
    const std::vector<gen::CaseVariant> score = {gen::CaseVariant::softcap, gen::CaseVariant::alibi,
                                                 gen::CaseVariant::sinks,   gen::CaseVariant::dropout,
                                                 gen::CaseVariant::mask,    gen::CaseVariant::bias};
    const int extra = *rc::gen::inRange<int>(0, static_cast<int>(score.size()) + 1);  // 0: none (shrinks there)
    std::vector<gen::CaseVariant> vs = {forced};
    if (extra > 0 && score[extra - 1] != forced) vs.push_back(score[extra - 1]);
    const uint64_t vseed = *rc::gen::arbitrary<uint64_t>();
    const gen::VariantInputs in = gen::with_variants(base, vs, vseed);
    std::ostringstream values;
    showValue(base.values, values);
    judge_or_fail(c, in.problem, oracle_inputs(in), values.str() + ", variant seed " + std::to_string(vseed), s);
  });
}

}  // namespace flashcheck::mutants
