// `flashcheck check gen|verify`: case files for implementations outside this
// repository (see cases/case_files.hpp). Exit codes: 0 every required output
// of every case passed; 1 some case failed (or lacks a required output);
// 2 bad input: an unreadable case, or nothing was tested (every case
// skipped, every gradient check uninformative).
#include <iostream>
#include <sstream>

#include "cases/case_files.hpp"
#include "cli/commands.hpp"

namespace flashcheck::cli {
namespace {

template <class T, class F>
std::vector<T> parse_list(const std::vector<std::string>& names, F parse) {
  std::vector<T> out;
  for (const std::string& n : names) out.push_back(parse(n));
  return out;
}

// "128x64" -> (128, 64)
std::pair<int64_t, int64_t> parse_tile(const std::string& s) {
  std::istringstream in(s);
  long long br = 0, bc = 0;
  char x = 0;
  if (!(in >> br >> x >> bc) || (x != 'x' && x != 'X') || in.peek() != EOF || br < 1 || bc < 1)
    throw std::invalid_argument("--tile '" + s + "': expected BRxBC, e.g. 128x64");
  return {br, bc};
}

struct GenArgs {
  cases::GenOptions o;
  std::vector<std::string> dtypes, masks, values, variants;
};

struct VerifyArgs {
  cases::VerifyOptions o;
  std::string format = "text", junit, tile;
};

}  // namespace

void add_check_command(CLI::App& app) {
  auto* check = app.add_subcommand(
      "check", "validate any attention implementation through .npy case files");
  check->require_subcommand(1);

  auto g = std::make_shared<GenArgs>();
  auto* gen = check->add_subcommand("gen", "write a suite of cases with the float64 reference");
  gen->add_option("--out", g->o.out_dir, "output folder (must be empty, see --force)")->required();
  gen->add_option("--seed", g->o.seed, "suite seed")->capture_default_str();
  gen->add_option("--count", g->o.count, "number of cases")->capture_default_str()->check(CLI::PositiveNumber);
  gen->add_option("--max-seqlen", g->o.max_seqlen, "longest sequence")->capture_default_str()->check(CLI::PositiveNumber);
  gen->add_option("--max-head-dim", g->o.max_head_dim, "largest head dim")->capture_default_str()->check(CLI::PositiveNumber);
  gen->add_flag("--force", g->o.force, "replace the suite already in --out (only what check gen wrote is removed)");
  gen->add_option("--dtypes", g->dtypes, "only these dtypes: f16,bf16,f32,f64 (default f16,bf16,f32)")->delimiter(',');
  gen->add_option("--masks", g->masks,
                  "only these mask kinds: none,causal_top_left,causal_bottom_right,sliding_window")->delimiter(',');
  gen->add_option("--head-dims", g->o.head_dims, "only these head dims, e.g. 64,128")->delimiter(',');
  gen->add_option("--seqlens", g->o.seqlens, "seqlen_q and seqlen_k drawn from these, e.g. 1,127,128,129")->delimiter(',');
  gen->add_option("--values", g->values,
                  "only these value regimes: normal,uniform,large_logits,dominant_key,positive")->delimiter(',');
  gen->add_option("--spec", g->o.spec_file,
                  "JSON file listing exact problems ({\"cases\": [{\"seqlen_q\": 128, \"seqlen_k\": 128, "
                  "\"head_dim\": 64, \"dtype\": \"bf16\", \"mask\": \"causal\", \"values\": \"normal\"}]}); "
                  "replaces --count and the lists");
  gen->add_option("--variants", g->variants,
                  "attention variants, one per case in turn (their tensors as .npy files named in "
                  "problem.json): softcap,alibi,varlen,paged,sinks,dropout,mask,bias or all")
      ->delimiter(',');
  gen->callback([g] {
    g->o.variants = gen::parse_case_variants(g->variants);
    g->o.dtypes = parse_list<DType>(g->dtypes, parse_dtype);
    g->o.mask_kinds = parse_list<MaskKind>(g->masks, cases::parse_mask_kind);
    g->o.values = parse_list<gen::Values>(g->values, cases::parse_values);
    const int n = cases::generate(g->o, std::cerr);
    std::cout << "wrote " << n << " cases to " << g->o.out_dir << "\n";
  });

  auto v = std::make_shared<VerifyArgs>();
  auto* verify = check->add_subcommand(
      "verify", "judge a candidate's o, lse, dq, dk, dv (and dbias, dsinks where the case has them) .npy by the "
      "accuracy rule (all required unless --outputs)");
  verify->add_option("dir", v->o.dir, "suite folder written by check gen")->required();
  verify->add_option("--candidate", v->o.candidate_dir,
                     "folder with the candidate's case_NNN/*.npy (default: the case folders)");
  verify->add_option("--outputs", v->o.outputs,
                     "judge only these outputs, e.g. o,lse (default: o,lse,dq,dk,dv and dbias, dsinks where a "
                     "case has them; the summary says so)")
      ->delimiter(',');
  verify->add_option("--tile", v->tile, "attribute errors to BRxBC tiles, e.g. 128x64");
  verify->add_option("--format", v->format, "text or json (on stdout)")
      ->check(CLI::IsMember({"text", "json"}))->capture_default_str();
  verify->add_option("--junit", v->junit, "also write a JUnit XML report to this file");
  verify->callback([v] {
    if (!v->tile.empty()) std::tie(v->o.tile_q, v->o.tile_kv) = parse_tile(v->tile);
    const bool text = v->format == "text";
    const cases::VerifyReport r = cases::verify(v->o, text ? &std::cout : nullptr);
    if (!text) std::cout << cases::report_json(r).dump(2) << "\n";
    if (!v->junit.empty()) cases::write_junit(r, v->junit);
    switch (r.status()) {
      case cases::SuiteStatus::pass: return;
      case cases::SuiteStatus::fail: throw CheckFailed(std::to_string(r.failed) + " case(s) failed");
      case cases::SuiteStatus::bad_input:
        throw std::invalid_argument(std::to_string(r.errors) + " case(s) could not be judged (see ERROR lines)");
      case cases::SuiteStatus::nothing_tested:
        throw std::invalid_argument(r.passed + r.failed == 0
                                        ? "nothing tested: no case was judged"
                                        : "nothing tested: every gradient check was uninformative");
    }
  });
}

}  // namespace flashcheck::cli
