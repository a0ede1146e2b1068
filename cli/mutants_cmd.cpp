// `flashcheck mutants`: proves the judge. Every correct candidate must pass
// every case of the default `check gen` suite over many seeds (0 false
// failures) and every planted-bug mutant must be caught, by a shrinking
// property search and on the default suite. Writes reports/mutants (README.md
// with the kill matrix, CSVs); exits 1 when a mutant survives or a correct
// candidate fails.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <memory>
#include <numeric>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/report/writer.hpp"
#include "mutants/catalogue.hpp"
#include "mutants/variant_catalogue.hpp"

namespace flashcheck::cli {
namespace {

struct MutantsOptions {
  std::string out_dir = "reports/mutants";
  int seeds = 20;
  uint64_t first_seed = 1;
  uint64_t property_seed = 20261125;
  int property_tests = 200;
  int variant_seeds = 10;        // seeds of the `check gen --variants all` suite
  int variant_count = 24;        // its cases per seed (3 rounds of the 8 variants)
  int variant_property_tests = 100;  // per variant, for each correct candidate and mutant
};

std::string md_cell(std::string s) {  // one Markdown table cell: no newlines or pipes
  for (char& ch : s)
    if (ch == '\n') ch = ' ';
  std::string out;
  for (char ch : s) out += ch == '|' ? std::string("\\|") : std::string(1, ch);
  return out;
}

std::string share(int a, int b) {
  return b == 0 ? "-" : report::num(100.0 * a / b) + "%";
}

void run(const MutantsOptions& o) {
  using namespace mutants;
  if (o.seeds < 1) throw std::invalid_argument("--seeds must be >= 1");
  std::vector<uint64_t> seeds(static_cast<size_t>(o.seeds));
  std::iota(seeds.begin(), seeds.end(), o.first_seed);
  const SuiteResult suite = judge_suite(seeds, &std::cerr);
  const auto& bugs = all_bugs();
  const auto& correct = correct_candidates();

  std::vector<Search> searches;
  for (Bug b : bugs) {
    std::cerr << "mutants: property search for " << bug_name(b) << "\n";
    searches.push_back(search_counterexample(mutant(b), o.property_seed, o.property_tests));
  }
  std::vector<Search> correct_searches;
  for (const Candidate& c : correct) {
    std::cerr << "mutants: property search for " << c.name << "\n";
    correct_searches.push_back(search_counterexample(c, o.property_seed, o.property_tests));
  }

  // The variants (issue 13): their suite, one property search per mutant with
  // its variant forced, and one per correct candidate and variant.
  std::vector<uint64_t> vseeds(static_cast<size_t>(std::max(0, o.variant_seeds)));
  std::iota(vseeds.begin(), vseeds.end(), o.first_seed);
  const VariantSuiteResult vsuite = judge_variant_suite(vseeds, o.variant_count, &std::cerr);
  const auto& vbugs = all_variant_bugs();
  const auto& vcorrect = correct_variant_candidates();
  std::vector<Search> vsearches;
  for (VariantBug b : vbugs) {
    std::cerr << "mutants: property search for " << variant_bug_name(b) << "\n";
    vsearches.push_back(search_variant_counterexample(variant_mutant(b), variant_of(b), o.property_seed,
                                                      o.variant_property_tests));
  }
  std::vector<int> vcorrect_found(vcorrect.size(), 0), vcorrect_tests(vcorrect.size(), 0);
  std::vector<std::string> vcorrect_examples;
  for (size_t i = 0; i < vcorrect.size(); ++i)
    for (gen::CaseVariant v : gen::all_case_variants()) {
      std::cerr << "mutants: property search for " << vcorrect[i].name << " with " << gen::case_variant_name(v) << "\n";
      const Search s = search_variant_counterexample(vcorrect[i], v, o.property_seed, o.variant_property_tests);
      vcorrect_tests[i] += s.tests;
      if (!s.found) continue;
      ++vcorrect_found[i];
      vcorrect_examples.push_back(vcorrect[i].name + ": " + s.problem + "; values " + s.values + ": " + s.verdict);
    }

  const std::string command = "build/cli/flashcheck mutants --seeds " + std::to_string(o.seeds) +
                              " --first-seed " + std::to_string(o.first_seed) + " --property-seed " +
                              std::to_string(o.property_seed) + " --property-tests " +
                              std::to_string(o.property_tests) + " --variant-seeds " +
                              std::to_string(o.variant_seeds) + " --variant-count " + std::to_string(o.variant_count) +
                              " --variant-property-tests " + std::to_string(o.variant_property_tests) + " --out " + o.out_dir;
  const std::string seed_range = std::to_string(seeds.front()) + "-" + std::to_string(seeds.back());
  int survivors = 0;
  report::Table kills;
  kills.columns = {"mutant", "bug", "property_killed", "property_regime", "property_tests", "shrunk_problem",
                   "shrunk_values", "shrunk_verdict", "suite_cases_killed", "suite_cases"};
  for (size_t i = 0; i < bugs.size(); ++i) {
    const Search& s = searches[i];
    if (!s.found || suite.mutant_kills[i] == 0) ++survivors;
    kills.add({bug_name(bugs[i]), bug_description(bugs[i]), s.found ? "yes" : "NO", s.regime,
               std::to_string(s.tests), s.problem, s.values, s.verdict,
               std::to_string(suite.mutant_kills[i]), std::to_string(suite.cases)});
  }
  int false_failures = 0;
  report::Table cands;
  cands.columns = {"candidate", "description", "suite_cases", "suite_failures", "property_tests",
                   "property_failures"};
  for (size_t i = 0; i < correct.size(); ++i) {
    false_failures += suite.correct_failures[i] + (correct_searches[i].found ? 1 : 0);
    cands.add({correct[i].name, correct[i].description, std::to_string(suite.cases),
               std::to_string(suite.correct_failures[i]), std::to_string(correct_searches[i].tests),
               correct_searches[i].found ? "1" : "0"});
  }
  report::Table vkills;
  vkills.columns = {"mutant", "bug", "variant", "property_killed", "property_tests", "shrunk_problem",
                    "shrunk_values", "shrunk_verdict", "suite_cases_killed", "suite_cases_with_variant"};
  for (size_t i = 0; i < vbugs.size(); ++i) {
    const Search& s = vsearches[i];
    if (!s.found || vsuite.mutant_kills[i] == 0) ++survivors;
    vkills.add({variant_bug_name(vbugs[i]), variant_bug_description(vbugs[i]),
                gen::case_variant_name(variant_of(vbugs[i])), s.found ? "yes" : "NO", std::to_string(s.tests),
                s.problem, s.values, s.verdict, std::to_string(vsuite.mutant_kills[i]),
                std::to_string(vsuite.mutant_cases[i])});
  }
  report::Table vcands;
  vcands.columns = {"candidate", "description", "suite_cases", "suite_failures", "property_tests",
                    "property_failures"};
  for (size_t i = 0; i < vcorrect.size(); ++i) {
    false_failures += vsuite.correct_failures[i] + vcorrect_found[i];
    vcands.add({vcorrect[i].name, vcorrect[i].description, std::to_string(vsuite.cases),
                std::to_string(vsuite.correct_failures[i]), std::to_string(vcorrect_tests[i]),
                std::to_string(vcorrect_found[i])});
  }
  report::Table info;
  info.columns = {"values", "tensor", "informative", "judged", "share_percent"};
  for (const auto& t : suite.informative)
    info.add({"all", t.tensor, std::to_string(t.informative), std::to_string(t.judged),
              report::num(100.0 * t.informative / t.judged)});
  for (const auto& [kind, counts] : suite.informative_by_values)
    for (const auto& t : counts)
      info.add({kind, t.tensor, std::to_string(t.informative), std::to_string(t.judged),
                report::num(100.0 * t.informative / t.judged)});
  report::Table fails;
  fails.columns = {"candidate", "seed", "case", "problem", "values", "tensor", "worst_index",
                   "candidate_value", "reference", "error", "bound", "ratio", "reason"};
  for (const FalseFailure& f : suite.false_failures)
    for (const TensorVerdict& t : f.failing)
      fails.add({f.candidate, std::to_string(f.seed), std::to_string(f.case_index), f.problem,
                 f.values, t.name, std::to_string(t.worst), format_number(t.worst_candidate),
                 format_number(t.worst_reference),
                 format_number(std::abs(t.worst_candidate - t.worst_reference)),
                 format_number(t.worst_bound), format_number(t.worst_ratio), t.reason});

  for (const FalseFailure& f : vsuite.false_failures)
    for (const TensorVerdict& t : f.failing)
      fails.add({f.candidate + " (variants)", std::to_string(f.seed), std::to_string(f.case_index), f.problem,
                 f.values, t.name, std::to_string(t.worst), format_number(t.worst_candidate),
                 format_number(t.worst_reference), format_number(std::abs(t.worst_candidate - t.worst_reference)),
                 format_number(t.worst_bound), format_number(t.worst_ratio), t.reason});

  report::Table by_seed;
  by_seed.columns = {"seed"};
  for (Bug b : bugs) by_seed.columns.push_back(bug_name(b));
  for (size_t k = 0; k < seeds.size(); ++k) {
    std::vector<std::string> cells = {std::to_string(seeds[k])};
    for (int n : suite.kills_by_seed[k]) cells.push_back(std::to_string(n));
    by_seed.add(cells);
  }
  const report::Writer w(report::WriterOptions{o.out_dir, false, false});
  w.csv("kill_matrix.csv", kills);
  w.csv("candidates.csv", cands);
  w.csv("informative.csv", info);
  w.csv("false_failures.csv", fails);
  w.csv("kills_by_seed.csv", by_seed);
  w.csv("variant_kill_matrix.csv", vkills);
  w.csv("variant_candidates.csv", vcands);
  const size_t total = bugs.size() + vbugs.size();

  std::ostringstream md;
  md << "# The bug catalogue: does the judge catch wrong kernels and pass right ones?\n\n"
     << "<!-- Generated by `flashcheck mutants`; do not edit. -->\n"
     << "Regenerate with `" << command << "`.\n\n"
     << "Every tensor is judged by the one accuracy rule (`judge_case`, reference/oracle.hpp). "
     << "The default suite is what `flashcheck check gen --seed S` writes (" << kSuiteCases
     << " cases, f32/f16/bf16, lengths up to 300, head dims up to 128) for seeds " << seed_range
     << ": " << suite.cases << " cases. The property search runs RapidCheck (seed "
     << o.property_seed << ") over up to " << o.property_tests << " *small* problems "
     << "(`mutants::property_limits()`: every dtype, mask and GQA shape, lengths up to 33) and, "
     << "if none fails, up to " << o.property_tests << " *long* ones (the default suite's limits: "
     << "lengths up to 300), and shrinks the first failure.\n\n"
     << "**Summary: " << total - survivors << " of " << total << " mutants (" << bugs.size()
     << " plain, " << vbugs.size() << " in the attention variants) killed by both; " << false_failures
     << " false failures of the correct candidates.**\n\n";
  md << "## Kill matrix\n\nEach mutant is the FlashAttention-2 candidate (mutants/candidate.cpp, 16x16 "
        "tiles) with one planted bug. *Property*: tests run until the first counterexample, and the "
        "shrunk counterexample (problem, values; `gen::make_inputs(problem, values)` rebuilds its "
        "tensors) with the verdict on it. *Default suite*: cases whose verdict is FAIL.\n\n"
     << "| mutant | bug | property | regime | tests | shrunk counterexample | verdict on it | default suite |\n"
     << "|---|---|---|---|---:|---|---|---:|\n";
  for (size_t i = 0; i < bugs.size(); ++i) {
    const Search& s = searches[i];
    md << "| " << bug_name(bugs[i]) << " | " << bug_description(bugs[i]) << " | "
       << (s.found ? "killed" : "**survived**") << " | " << s.regime << " | " << s.tests << " | "
       << md_cell(s.found ? s.problem + "; values " + s.values : "-") << " | "
       << md_cell(s.found ? s.verdict : "-") << " | " << suite.mutant_kills[i] << " / "
       << suite.cases << " |\n";
  }
  int weakest = 0;
  for (size_t i = 1; i < bugs.size(); ++i)
    if (suite.mutant_kills[i] < suite.mutant_kills[weakest]) weakest = static_cast<int>(i);
  int seeds_killing_all = 0;
  for (const auto& row : suite.kills_by_seed)
    seeds_killing_all += std::all_of(row.begin(), row.end(), [](int n) { return n > 0; }) ? 1 : 0;
  md << "\nThe weakest kill is " << bug_name(bugs[weakest]) << " (" << suite.mutant_kills[weakest]
     << " of " << suite.cases << " cases); " << seeds_killing_all << " of " << seeds.size()
     << " seeds' 24-case suites alone kill every mutant (per seed: kills_by_seed.csv).\n";
  md << "\n## Correct candidates: false failures\n\nA correct candidate failing any case is a defect "
        "of the rule (it must be 0).\n\n"
     << "| candidate | what | default suite failures | property failures |\n|---|---|---:|---:|\n";
  for (size_t i = 0; i < correct.size(); ++i)
    md << "| " << correct[i].name << " | " << correct[i].description << " | "
       << suite.correct_failures[i] << " / " << suite.cases << " | "
       << (correct_searches[i].found ? 1 : 0) << " / " << correct_searches[i].tests << " |\n";
  if (!suite.false_failures.empty()) {
    md << "\nFailing cases (also in false_failures.csv):\n\n";
    for (const FalseFailure& f : suite.false_failures)
      md << "- " << f.candidate << ", seed " << f.seed << " case " << f.case_index << ": "
         << f.problem << ", values " << f.values << ": " << md_cell(f.summary) << "\n";
  }
  for (size_t i = 0; i < correct.size(); ++i)
    if (correct_searches[i].found)
      md << "- property, " << correct[i].name << ": " << correct_searches[i].problem << ", values "
         << correct_searches[i].values << ": " << md_cell(correct_searches[i].verdict) << "\n";
  md << "\n## Attention variants (issue 13)\n\nThe variant suite is what `flashcheck check gen --variants all "
        "--seed S --count "
     << o.variant_count << "` writes for seeds " << (vseeds.empty() ? "-" : std::to_string(vseeds.front()) + "-" + std::to_string(vseeds.back()))
     << ": " << vsuite.cases << " cases, each the default suite's case with variant c mod 8 (softcap, alibi, varlen, "
        "paged, sinks, dropout, mask, bias), every second round with one more score variant. Each mutant is "
        "standard attention with the variants (mutants/variant_candidate.hpp) with one planted bug; it is "
        "judged on the cases holding its variant (the bug's code runs nowhere else). The property search "
        "forces the bug's variant on small problems (`property_limits()`), draws one more score variant, "
        "and shrinks the first failure.\n\n"
     << "| mutant | bug | variant | property | tests | shrunk counterexample | verdict on it | variant suite |\n"
     << "|---|---|---|---|---:|---|---|---:|\n";
  for (size_t i = 0; i < vbugs.size(); ++i) {
    const Search& s = vsearches[i];
    md << "| " << variant_bug_name(vbugs[i]) << " | " << md_cell(variant_bug_description(vbugs[i])) << " | "
       << gen::case_variant_name(variant_of(vbugs[i])) << " | " << (s.found ? "killed" : "**survived**") << " | "
       << s.tests << " | " << md_cell(s.found ? s.problem + "; values " + s.values : "-") << " | "
       << md_cell(s.found ? s.verdict : "-") << " | " << vsuite.mutant_kills[i] << " / " << vsuite.mutant_cases[i]
       << " |\n";
  }
  md << "\nCorrect variant candidates (property: " << o.variant_property_tests
     << " small problems per variant, each variant forced in turn):\n\n"
     << "| candidate | what | variant suite failures | property failures |\n|---|---|---:|---:|\n";
  for (size_t i = 0; i < vcorrect.size(); ++i)
    md << "| " << vcorrect[i].name << " | " << vcorrect[i].description << " | " << vsuite.correct_failures[i]
       << " / " << vsuite.cases << " | " << vcorrect_found[i] << " / " << vcorrect_tests[i] << " tests |\n";
  for (const FalseFailure& f : vsuite.false_failures)
    md << "- " << f.candidate << ", seed " << f.seed << " case " << f.case_index << ": " << f.problem << ": "
       << md_cell(f.summary) << "\n";
  for (const std::string& e : vcorrect_examples) md << "- property, " << md_cell(e) << "\n";
  md << "\n## Informative checks\n\nA tensor's check is informative when its bound is below half "
        "the reference's magnitude on most significant elements, i.e. it could have caught a wrong "
        "answer (reference/accuracy.hpp). Counted over the default suite's cases (the bound does "
        "not depend on the candidate).\n\n| values | o | lse | dq | dk | dv |\n|---|---:|---:|---:|---:|---:|\n";
  auto row = [&](const std::string& name, const std::vector<InformativeCount>& counts) {
    md << "| " << name;
    for (const char* t : {"o", "lse", "dq", "dk", "dv"}) {
      auto it = std::find_if(counts.begin(), counts.end(),
                             [&](const InformativeCount& c) { return c.tensor == t; });
      md << " | "
         << (it == counts.end() ? "-"
                                : std::to_string(it->informative) + " / " + std::to_string(it->judged) +
                                      " (" + share(it->informative, it->judged) + ")");
    }
    md << " |\n";
  };
  row("all", suite.informative);
  for (const auto& [kind, counts] : suite.informative_by_values) row(kind, counts);
  md << "\nCSV: [kill_matrix.csv](kill_matrix.csv), [candidates.csv](candidates.csv), "
        "[informative.csv](informative.csv), [false_failures.csv](false_failures.csv), [kills_by_seed.csv](kills_by_seed.csv), "
        "[variant_kill_matrix.csv](variant_kill_matrix.csv), [variant_candidates.csv](variant_candidates.csv).\n";
  w.text("README.md", md.str());
  std::cout << "mutants: " << total - survivors << " of " << total << " killed, "
            << false_failures << " false failures; report written to " << o.out_dir << "\n";
  if (survivors > 0 || false_failures > 0)
    throw CheckFailed(std::to_string(survivors) + " mutant(s) survived, " +
                      std::to_string(false_failures) + " false failure(s) (see " + o.out_dir +
                      "/README.md)");
}

}  // namespace

void add_mutants_command(CLI::App& app) {
  auto o = std::make_shared<MutantsOptions>();
  auto* cmd = app.add_subcommand(
      "mutants", "prove the judge: correct candidates pass, planted bugs are caught (reports/mutants)");
  cmd->add_option("--out", o->out_dir, "report folder")->capture_default_str();
  cmd->add_option("--seeds", o->seeds, "default-suite seeds to judge")->capture_default_str();
  cmd->add_option("--first-seed", o->first_seed, "first of the seeds")->capture_default_str();
  cmd->add_option("--property-seed", o->property_seed, "RapidCheck seed of the property search")
      ->capture_default_str();
  cmd->add_option("--property-tests", o->property_tests, "cases the property search may try")
      ->capture_default_str();
  cmd->add_option("--variant-seeds", o->variant_seeds, "seeds of the `check gen --variants all` suite")
      ->capture_default_str();
  cmd->add_option("--variant-count", o->variant_count, "cases per seed of the variant suite")->capture_default_str();
  cmd->add_option("--variant-property-tests", o->variant_property_tests,
                  "cases each variant property search may try")->capture_default_str();
  cmd->callback([o] { run(*o); });
}

}  // namespace flashcheck::cli
