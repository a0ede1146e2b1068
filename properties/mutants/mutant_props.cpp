// The bug catalogue proves the judge (issue 10): every correct candidate
// passes and every planted bug is caught, both by the property search
// (shrunk counterexample) and on the default `check gen` suite. The full
// measurement over 20 seeds is reports/mutants (`flashcheck mutants`); CI
// runs fewer seeds, fixed.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cases/case_files.hpp"
#include "mutants/catalogue.hpp"
#include "properties/prop.hpp"

using namespace flashcheck;
using namespace flashcheck::mutants;

namespace {

// Default-suite seeds CI judges (the report uses 1..20): two whose 24 cases
// alone kill every mutant (reports/mutants/kills_by_seed.csv).
const std::vector<uint64_t> kCiSeeds = {7, 13};
constexpr uint64_t kSearchSeed = 20261125;

std::string describe(const FalseFailure& f) {
  std::ostringstream s;
  s << f.candidate << " seed " << f.seed << " case " << f.case_index << ": " << f.problem
    << " values " << f.values << ": " << f.summary;
  for (const TensorVerdict& t : f.failing)
    s << "\n  " << t.name << " worst at " << t.worst << ": candidate "
      << format_number(t.worst_candidate) << " reference " << format_number(t.worst_reference)
      << " bound " << format_number(t.worst_bound) << " (" << t.reason << ")";
  return s.str();
}

}  // namespace

TEST_CASE("mutants: the default suite passes every correct candidate and kills every mutant") {
  const SuiteResult r = judge_suite(kCiSeeds);
  REQUIRE(r.cases == kSuiteCases * static_cast<int>(kCiSeeds.size()));
  for (const FalseFailure& f : r.false_failures) INFO(describe(f));
  for (size_t i = 0; i < correct_candidates().size(); ++i) {
    INFO(correct_candidates()[i].name);
    CHECK(r.correct_failures[i] == 0);
  }
  for (size_t i = 0; i < all_bugs().size(); ++i) {
    INFO(bug_name(all_bugs()[i]) << " survived every case of seeds 7, 13");
    CHECK(r.mutant_kills[i] > 0);
  }
  // Informative checks exist for every tensor (a suite that could tell
  // nothing would pass every mutant of that tensor vacuously).
  for (const InformativeCount& c : r.informative) {
    INFO(c.tensor << ": " << c.informative << " of " << c.judged << " checks informative");
    CHECK(c.informative > 0);
  }
}

TEST_CASE("mutants: the property search finds and shrinks a counterexample for every mutant") {
  for (Bug b : all_bugs()) {
    const Search s = search_counterexample(mutant(b), kSearchSeed, 200);
    INFO(bug_name(b) << ": " << (s.found ? "shrunk to " + s.problem + ", values " + s.values +
                                                ": " + s.verdict
                                          : "no counterexample in " + std::to_string(s.tests) +
                                                " cases, seed " + std::to_string(s.seed)));
    CHECK(s.found);
  }
}

TEST_CASE("mutants: correct candidates pass the property") {
  const auto inputs = gen::inputs(property_limits());
  for (const Candidate& c : correct_candidates())
    prop(c.name + " passes judge_case on every generated case", [&] {
      const gen::Inputs in = *inputs;
      const OracleInputs oin = oracle_inputs(in);
      const Oracle oracle = make_oracle(in.problem, oin);
      const CaseVerdict v = judge_case(in.problem, oracle, c.run(in.problem, oin, oracle));
      if (!v.pass) RC_FAIL(v.summary());
    });
}

TEST_CASE("mutants: the suite is what check gen writes") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "flashcheck_mutants_suite";
  fs::remove_all(dir);
  std::ostringstream log;
  cases::GenOptions o;
  o.out_dir = dir.string();
  o.seed = 5;
  o.count = 2;  // case 0 at size 10, case 1 at size 100
  cases::generate(o, log);
  for (int c = 0; c < o.count; ++c) {
    std::ostringstream name;
    name << "case_00" << c;
    std::ifstream in(dir / name.str() / "problem.json");
    const nlohmann::json j = nlohmann::json::parse(in);
    const gen::Inputs mine = suite_case(o.seed, c, o.count);
    CHECK(j.at("problem").get<std::string>() == mine.problem.describe());
    CHECK(j.at("seed").get<uint64_t>() == mine.values.seed);
    CHECK(j.at("values").get<std::string>() == gen::values_name(mine.values.kind));
  }
  fs::remove_all(dir);
}
