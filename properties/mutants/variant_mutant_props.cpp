// The planted bugs of the attention variants (issue 13 acceptance): each is
// caught by the property search (with its variant forced) and by
// `check verify` on a `check gen --variants` suite, one test per bug; the
// correct variant candidates pass both. Sizes are small (CI); the full
// measurement is reports/mutants (`flashcheck mutants`).
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cases/case_files.hpp"
#include "mutants/variant_catalogue.hpp"
#include "properties/prop.hpp"

using namespace flashcheck;
using namespace flashcheck::mutants;
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kSearchSeed = 20261125;

// A `check gen --variants v` suite, the candidate's outputs written beside it
// as an outside implementation would (read_case -> run -> write_outputs),
// judged by cases::verify.
cases::VerifyReport verify_candidate(const Candidate& c, gen::CaseVariant v, const std::string& tag) {
  const fs::path root = fs::temp_directory_path() / ("flashcheck_variant_mutant_" + tag);
  fs::remove_all(root);
  cases::GenOptions g;
  g.out_dir = (root / "suite").string();
  g.seed = 11;
  g.count = 6;
  g.max_seqlen = 48;
  g.max_head_dim = 32;
  g.variants = {v};
  std::ostringstream log;
  cases::generate(g, log);
  for (const auto& e : fs::directory_iterator(g.out_dir)) {
    if (!e.is_directory()) continue;
    const gen::VariantInputs in = cases::read_case(e.path().string());
    const OracleInputs oin = oracle_inputs(in);
    const Oracle oracle = make_oracle(in.problem, oin);
    cases::write_outputs((root / "cand" / e.path().filename()).string(), in.problem,
                         c.run(in.problem, oin, oracle));
  }
  cases::VerifyOptions o;
  o.dir = g.out_dir;
  o.candidate_dir = (root / "cand").string();
  std::ostringstream text;
  cases::VerifyReport r = cases::verify(o, &text);
  INFO(text.str());
  fs::remove_all(root);
  return r;
}

void require_caught(VariantBug bug) {
  const Candidate m = variant_mutant(bug);
  const Search s = search_variant_counterexample(m, variant_of(bug), kSearchSeed, 200);
  INFO(variant_bug_name(bug) << ": " << (s.found ? "shrunk to " + s.problem + ", values " + s.values + ": " + s.verdict
                                                 : "no counterexample in " + std::to_string(s.tests) + " cases"));
  CHECK(s.found);
  const cases::VerifyReport r = verify_candidate(m, variant_of(bug), variant_bug_name(bug));
  INFO(r.summary());
  CHECK(r.errors == 0);
  CHECK(r.failed > 0);
  CHECK(r.status() == cases::SuiteStatus::fail);
}

}  // namespace

TEST_CASE("variant mutant softcap_dropped_in_backward is caught by the property and by check verify") {
  require_caught(VariantBug::softcap_dropped_in_backward);
}
TEST_CASE("variant mutant alibi_slope_sign is caught by the property and by check verify") {
  require_caught(VariantBug::alibi_slope_sign);
}
TEST_CASE("variant mutant varlen_offset_off_by_one is caught by the property and by check verify") {
  require_caught(VariantBug::varlen_offset_off_by_one);
}
TEST_CASE("variant mutant block_table_misindexed is caught by the property and by check verify") {
  require_caught(VariantBug::block_table_misindexed);
}
TEST_CASE("variant mutant sink_gradient_missing is caught by the property and by check verify") {
  require_caught(VariantBug::sink_gradient_missing);
}

TEST_CASE("variant mutants: every planted bug has its test above") {
  CHECK(all_variant_bugs().size() == 5);
}

TEST_CASE("correct variant candidates pass check verify on every variant (round trip)") {
  for (const Candidate& c : correct_variant_candidates())
    for (gen::CaseVariant v : gen::all_case_variants()) {
      const cases::VerifyReport r = verify_candidate(c, v, c.name + "_" + gen::case_variant_name(v));
      INFO(c.name << " on " << gen::case_variant_name(v) << ": " << r.summary());
      CHECK(r.status() == cases::SuiteStatus::pass);
    }
}

TEST_CASE("variant suite: correct candidates pass every case and every mutant is killed") {
  const VariantSuiteResult r = judge_variant_suite({1}, 24);
  REQUIRE(r.cases == 24);
  for (const FalseFailure& f : r.false_failures) INFO(f.candidate << " case " << f.case_index << ": " << f.summary);
  for (size_t i = 0; i < correct_variant_candidates().size(); ++i) {
    INFO(correct_variant_candidates()[i].name);
    CHECK(r.correct_failures[i] == 0);
  }
  for (size_t i = 0; i < all_variant_bugs().size(); ++i) {
    INFO(variant_bug_name(all_variant_bugs()[i]) << ": " << r.mutant_kills[i] << " of " << r.mutant_cases[i]);
    CHECK(r.mutant_cases[i] > 0);
    CHECK(r.mutant_kills[i] > 0);
  }
}

TEST_CASE("correct variant candidates pass the property with each variant forced") {
  for (const Candidate& c : correct_variant_candidates())
    for (gen::CaseVariant v : gen::all_case_variants()) {
      const Search s = search_variant_counterexample(c, v, kSearchSeed, 60);
      INFO(c.name << " with " << gen::case_variant_name(v) << ": " << s.problem << " " << s.verdict);
      CHECK(!s.found);
    }
}

TEST_CASE("the variant suite is what check gen --variants all writes") {
  const fs::path dir = fs::temp_directory_path() / "flashcheck_variant_suite";
  fs::remove_all(dir);
  std::ostringstream log;
  cases::GenOptions o;
  o.out_dir = dir.string();
  o.seed = 5;
  o.count = 10;
  o.variants = gen::all_case_variants();
  cases::generate(o, log);
  for (int c = 0; c < o.count; ++c) {
    std::ostringstream name;
    name << "case_" << std::setw(3) << std::setfill('0') << c;
    std::ifstream in(dir / name.str() / "problem.json");
    const nlohmann::json j = nlohmann::json::parse(in);
    const gen::VariantInputs mine = variant_suite_case(o.seed, c, o.count);
    CHECK(j.at("problem").get<std::string>() == mine.problem.describe());
    const gen::VariantInputs theirs = cases::read_case((dir / name.str()).string());
    CHECK(theirs.Q.values() == mine.Q.values());
    CHECK(theirs.K.values() == mine.K.values());
    CHECK(theirs.extras.alibi_slopes == mine.extras.alibi_slopes);
    CHECK(theirs.extras.bias.values() == mine.extras.bias.values());
    CHECK(theirs.extras.block_table == mine.extras.block_table);
    CHECK(theirs.extras.cu_seqlens_k == mine.extras.cu_seqlens_k);
  }
  fs::remove_all(dir);
}
