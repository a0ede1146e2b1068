// Properties of `flashcheck check` (cases/case_files.hpp): the baseline,
// written as a candidate, passes verify; wrong, missing, mistyped or
// unreadable outputs fail or are reported, and nothing passes vacuously.
// Each of issue 10's check-verify defects has a test here that fails if it
// comes back: "nothing tested, exit 0", "dtype unchecked", "stale cases",
// "unreadable failures".
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "cases/case_files.hpp"
#include "reference/npy.hpp"

namespace fs = std::filesystem;
using namespace flashcheck;

namespace {

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("flashcheck_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

cases::GenOptions gen_opts(const fs::path& dir, uint64_t seed, int count, int max_seqlen) {
  cases::GenOptions o;
  o.out_dir = dir.string();
  o.seed = seed;
  o.count = count;
  o.max_seqlen = max_seqlen;
  return o;
}

void write_suite(const cases::GenOptions& o) {
  std::ostringstream log;
  cases::generate(o, log);
}

cases::VerifyReport verify(const fs::path& dir, std::string* text = nullptr, cases::VerifyOptions o = {}) {
  o.dir = dir.string();
  std::ostringstream out;
  cases::VerifyReport r = cases::verify(o, &out);
  if (text) *text = out.str();
  return r;
}

// Copies every case's baseline/*.npy into the case folder as the candidate
// (the baseline is written in the case's dtype, LSE float32, as a candidate must).
void baseline_as_candidate(const fs::path& suite) {
  for (const auto& c : fs::directory_iterator(suite))
    if (c.is_directory())
      for (const auto& f : fs::directory_iterator(c.path() / "baseline"))
        fs::copy_file(f.path(), c.path() / f.path().filename(), fs::copy_options::overwrite_existing);
}

DType case_dtype(const fs::path& case_dir) {
  std::ifstream in(case_dir / "problem.json");
  return parse_dtype(nlohmann::json::parse(in).at("dtype").get<std::string>());
}

// Applies f to the values of case_dir/name.npy, written back in the same dtype.
template <class F>
void edit(const fs::path& case_dir, const std::string& name, F f) {
  const fs::path path = case_dir / (name + ".npy");
  const NpyArray a = read_npy(path.string());
  const DType t = name == "lse" ? DType::f32 : case_dtype(case_dir);
  auto v = npy_to_doubles(a, t, path.string());
  f(v);
  write_npy(path.string(), npy_from_doubles(v, a.shape, t));
}

void write_spec(const fs::path& path, const nlohmann::json& j) { std::ofstream(path) << j.dump(); }

}  // namespace

TEST_CASE("the low-precision baseline written through gen passes verify") {
  const fs::path dir = fresh_dir("baseline");
  write_suite(gen_opts(dir, 11, 12, 150));
  baseline_as_candidate(dir);
  std::string text;
  const cases::VerifyReport r = verify(dir, &text);
  INFO(text);
  CHECK(r.passed == 12);
  CHECK(r.failed == 0);
  CHECK(r.errors == 0);
  CHECK(r.status() == cases::SuiteStatus::pass);
  CHECK(r.outputs == std::vector<std::string>{"o", "lse", "dq", "dk", "dv"});
  CHECK(text.find("informative checks:  o ") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("nothing tested: all skipped is not a pass, and every output is required by default") {
  const fs::path dir = fresh_dir("vacuous");
  write_suite(gen_opts(dir, 5, 3, 40));
  // Every case declined: nothing was judged, so it must not pass.
  for (const char* c : {"case_000", "case_001", "case_002"}) std::ofstream(dir / c / "skip.txt") << "declined\n";
  std::string text;
  cases::VerifyReport r = verify(dir, &text);
  CHECK(r.skipped == 3);
  CHECK(r.status() == cases::SuiteStatus::nothing_tested);
  CHECK(text.find("NOTHING TESTED") != std::string::npos);
  // Only o.npy written (and the gradients under the wrong names): every case fails.
  for (const char* c : {"case_000", "case_001", "case_002"}) {
    fs::remove(dir / c / "skip.txt");
    fs::copy_file(dir / c / "baseline" / "o.npy", dir / c / "o.npy");
    fs::copy_file(dir / c / "baseline" / "dq.npy", dir / c / "dQ.npy");
  }
  r = verify(dir, &text);
  INFO(text);
  CHECK(r.passed == 0);
  CHECK(r.failed == 3);
  CHECK(r.status() == cases::SuiteStatus::fail);
  CHECK(r.cases[0].missing == std::vector<std::string>{"lse", "dq", "dk", "dv"});
  CHECK(text.find("MISSING  lse.npy not written") != std::string::npos);
  CHECK(text.find("unexpected file dQ.npy") != std::string::npos);
  // Narrowed to o: passes, and the summary says what went unchecked.
  cases::VerifyOptions o;
  o.outputs = {"o"};
  r = verify(dir, &text, o);
  CHECK(r.passed == 3);
  CHECK(r.status() == cases::SuiteStatus::pass);
  CHECK(r.summary().find("not checked: lse dq dk dv") != std::string::npos);
  o.outputs = {"dz"};
  CHECK_THROWS_WITH(verify(dir, nullptr, o), Catch::Contains("unknown output 'dz'"));
  fs::remove_all(dir);
}

TEST_CASE("dtype checked: a file in another dtype than the case's is an error, other cases still judged") {
  const fs::path dir = fresh_dir("dtype");
  const fs::path spec = fresh_dir("dtype_spec");
  nlohmann::json cases = nlohmann::json::array();
  for (const char* t : {"f16", "bf16", "f32"})
    cases.push_back({{"seqlen_q", 9}, {"seqlen_k", 7}, {"head_dim", 8}, {"dtype", t}, {"heads_q", 2}});
  write_spec(spec, {{"cases", cases}});
  cases::GenOptions g;
  g.out_dir = dir.string();
  g.spec_file = spec.string();
  write_suite(g);
  baseline_as_candidate(dir);
  // case_000 is f16; its o saved as bf16 bits ('<u2') must not be read as bf16.
  const fs::path o = dir / "case_000" / "o.npy";
  const NpyArray a = read_npy(o.string());
  write_npy(o.string(), npy_from_doubles(npy_to_doubles(a, DType::f16, "o"), a.shape, DType::bf16));
  // case_001 holds an unreadable file.
  std::ofstream(dir / "case_001" / "dk.npy") << "not numpy";
  std::string text;
  const cases::VerifyReport r = verify(dir, &text);
  INFO(text);
  CHECK(r.errors == 2);
  CHECK(r.passed == 1);  // case_002 still judged
  CHECK(r.status() == cases::SuiteStatus::bad_input);
  CHECK(r.cases[0].message.find("holds '<u2' (bf16 raw bits (uint16)) but this case's dtype is f16") != std::string::npos);
  CHECK(r.cases[1].message.find("bad magic") != std::string::npos);
  fs::remove_all(dir);
  fs::remove(spec);
}

TEST_CASE("stale cases: gen refuses a non-empty folder, --force replaces the suite, verify rejects leftovers") {
  const fs::path dir = fresh_dir("stale");
  write_suite(gen_opts(dir, 3, 6, 40));
  CHECK_THROWS_WITH(write_suite(gen_opts(dir, 4, 2, 40)), Catch::Contains("not empty"));
  cases::GenOptions f = gen_opts(dir, 4, 2, 40);
  f.force = true;
  write_suite(f);
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.is_directory();
  CHECK(n == 2);
  // A case folder that suite.json does not list (copied from elsewhere) is refused.
  fs::copy(dir / "case_001", dir / "case_007", fs::copy_options::recursive);
  CHECK_THROWS_WITH(verify(dir), Catch::Contains("case_007"));
  fs::remove_all(dir / "case_007");
  // --force never deletes what gen did not write.
  std::ofstream(dir / "mine.txt") << "keep";
  CHECK_THROWS_WITH(write_suite(f), Catch::Contains("mine.txt"));
  CHECK(fs::exists(dir / "mine.txt"));
  fs::remove_all(dir);
}

TEST_CASE("unreadable failures: a failure line names the problem, the element, both values and the tile") {
  const fs::path dir = fresh_dir("perturbed");
  write_suite(gen_opts(dir, 5, 3, 80));
  baseline_as_candidate(dir);
  // Push the last element of case_001's dq far beyond any dtype's tolerance.
  edit(dir / "case_001", "dq", [](std::vector<double>& v) { v.back() += 100.0; });
  cases::VerifyOptions o;
  o.tile_q = 16;
  o.tile_kv = 8;
  std::string text;
  const cases::VerifyReport r = verify(dir, &text, o);
  INFO(text);
  CHECK(r.failed == 1);
  CHECK(r.passed == 2);
  const cases::TensorResult& t = r.cases[1].tensors[2];
  REQUIRE(t.verdict.name == "dq");
  CHECK_FALSE(t.verdict.pass);
  std::ifstream pj(dir / "case_001" / "problem.json");
  const nlohmann::json j = nlohmann::json::parse(pj);
  const Problem p = cases::problem_from_json(j);
  const int64_t last_row = p.seqlen_q - 1;
  CHECK(t.b == p.batch - 1);
  CHECK(t.h == p.heads_q - 1);
  CHECK(t.row == last_row);
  CHECK(t.col == p.head_dim - 1);
  CHECK(text.find("problem: " + p.describe()) != std::string::npos);
  CHECK(text.find("worst at b=" + std::to_string(p.batch - 1) + " h=" + std::to_string(p.heads_q - 1) +
                  " row=" + std::to_string(last_row) + " col=" + std::to_string(p.head_dim - 1) +
                  ": candidate ") != std::string::npos);
  CHECK(text.find(", reference ") != std::string::npos);
  CHECK(t.tile.any);
  CHECK(t.tile.tile == last_row / 16);
  CHECK(text.find("first Q tile over the bound: b=" + std::to_string(p.batch - 1)) != std::string::npos);
  // Every table row keeps its columns apart: 7+ tokens, numbers in %.3g.
  const std::regex row(R"(^case_\d{3} +(o|lse|dq|dk|dv) +(pass|FAIL) +\S+ +\S+ +\S+ +(yes|NO) \(\S+\)$)");
  std::istringstream lines(text);
  int rows = 0;
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("case_", 0) == 0) {
      INFO(line);
      CHECK(std::regex_match(line, row));
      ++rows;
    }
  CHECK(rows == 15);
  fs::remove_all(dir);
}

TEST_CASE("a NaN in a row that sees no key is reported with its position and the empty-row note") {
  const fs::path dir = fresh_dir("nan");
  const fs::path spec = fresh_dir("nan_spec");
  // Bottom-right causal with Nq > Nk: rows 0..2 see no key.
  write_spec(spec, {{"cases", {{{"seqlen_q", 5}, {"seqlen_k", 2}, {"head_dim", 4}, {"dtype", "f32"},
                                {"mask", "causal_bottom_right"}}}}});
  cases::GenOptions g;
  g.out_dir = dir.string();
  g.spec_file = spec.string();
  write_suite(g);
  baseline_as_candidate(dir);
  edit(dir / "case_000", "o", [](std::vector<double>& v) { v[1] = std::nan(""); });
  std::string text;
  const cases::VerifyReport r = verify(dir, &text);
  INFO(text);
  CHECK(r.failed == 1);
  CHECK(text.find("1 NaN/Inf element(s), first at b=0 h=0 row=0 col=1") != std::string::npos);
  CHECK(text.find("a row that sees no key") != std::string::npos);
  fs::remove_all(dir);
  fs::remove(spec);
}

TEST_CASE("targeted suites: gen draws only the asked dtypes, masks, head dims, lengths and values") {
  const fs::path dir = fresh_dir("targeted");
  cases::GenOptions g = gen_opts(dir, 9, 10, 300);
  g.dtypes = {DType::bf16};
  g.mask_kinds = {MaskKind::causal_bottom_right};
  g.head_dims = {64};
  g.seqlens = {1, 17, 129};
  g.values = {gen::Values::dominant_key};
  write_suite(g);
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_directory()) continue;
    ++n;
    std::ifstream in(e.path() / "problem.json");
    const nlohmann::json j = nlohmann::json::parse(in);
    const Problem p = cases::problem_from_json(j);
    INFO(p.describe());
    CHECK(p.dtype == DType::bf16);
    CHECK(p.mask.kind == MaskKind::causal_bottom_right);
    CHECK(p.head_dim == 64);
    for (int64_t len : {p.seqlen_q, p.seqlen_k}) CHECK((len == 1 || len == 17 || len == 129));
    CHECK(j.at("values") == "dominant_key");
  }
  CHECK(n == 10);
  std::ifstream suite(dir / "suite.json");
  CHECK(nlohmann::json::parse(suite).at("command").get<std::string>().find(
            "--dtypes bf16 --masks causal_bottom_right --head-dims 64 --seqlens 1,17,129 --values dominant_key") !=
        std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("a spec file lists exact problems, and unknown fields are refused before anything is written") {
  const fs::path dir = fresh_dir("spec");
  const fs::path spec = fresh_dir("spec_file");
  write_spec(spec, {{"cases", {{{"seqlen_q", 128}, {"seqlen_k", 129}, {"head_dim", 64}, {"dtype", "bf16"},
                                {"batch", 2}, {"heads_q", 4}, {"heads_kv", 2}, {"mask", "window:3:0"},
                                {"values", "large_logits"}, {"magnitude", 300}, {"seed", 77}},
                               {{"seqlen_q", 1}, {"seqlen_k", 1}, {"head_dim", 8}, {"dtype", "f32"}}}}});
  cases::GenOptions g;
  g.out_dir = dir.string();
  g.spec_file = spec.string();
  write_suite(g);
  std::ifstream in(dir / "case_000" / "problem.json");
  const nlohmann::json j = nlohmann::json::parse(in);
  CHECK(j.at("problem") == "B=2 Hq=4 Hkv=2 Nq=128 Nk=129 d=64 scale=0.125 mask=window:3:0 dtype=bf16");
  CHECK(j.at("values") == "large_logits");
  CHECK(j.at("seed") == 77);
  CHECK(fs::exists(dir / "case_001"));
  CHECK_FALSE(fs::exists(dir / "case_002"));
  const fs::path dir2 = fresh_dir("spec_bad");
  write_spec(spec, {{"cases", {{{"seqlen_q", 4}, {"seqlen_k", 4}, {"head_dim", 8}, {"dtype", "f32"}, {"heads", 2}}}}});
  g.out_dir = dir2.string();
  CHECK_THROWS_WITH(write_suite(g), Catch::Contains("case 0: unknown field 'heads'"));
  CHECK_FALSE(fs::exists(dir2));
  fs::remove_all(dir);
  fs::remove(spec);
}

TEST_CASE("a suite whose gradient checks are all uninformative is flagged, not passed") {
  const fs::path dir = fresh_dir("uninformative");
  const fs::path spec = fresh_dir("uninformative_spec");
  // Logits ~1e4 in bf16: the softmax saturates, dQ and dK are ~0 and no
  // bound can resolve them.
  write_spec(spec, {{"cases", {{{"seqlen_q", 16}, {"seqlen_k", 16}, {"head_dim", 16}, {"dtype", "bf16"},
                                {"values", "large_logits"}, {"magnitude", 10000}, {"seed", 3}}}}});
  cases::GenOptions g;
  g.out_dir = dir.string();
  g.spec_file = spec.string();
  write_suite(g);
  baseline_as_candidate(dir);
  cases::VerifyOptions o;
  o.outputs = {"o", "dq", "dk"};
  std::string text;
  const cases::VerifyReport r = verify(dir, &text, o);
  INFO(text);
  REQUIRE(r.failed == 0);
  CHECK(r.gradients_uninformative);
  CHECK(r.status() == cases::SuiteStatus::nothing_tested);
  CHECK(text.find("WARNING: every gradient check (dq, dk, dv) was uninformative") != std::string::npos);
  fs::remove_all(dir);
  fs::remove(spec);
}

TEST_CASE("verify writes JSON and JUnit reports") {
  const fs::path dir = fresh_dir("reports");
  write_suite(gen_opts(dir, 2, 2, 40));
  baseline_as_candidate(dir);
  std::ofstream(dir / "case_001" / "skip.txt") << "no GQA here\n";
  const cases::VerifyReport r = verify(dir);
  const nlohmann::json j = cases::report_json(r);
  CHECK(j.at("status") == "pass");
  CHECK(j.at("skipped") == 1);
  CHECK(j.at("cases")[0].at("tensors").size() == 5);
  CHECK(j.at("cases")[1].at("message") == "no GQA here");
  const fs::path xml = dir / "junit.xml";
  cases::write_junit(r, xml.string());
  std::ifstream in(xml);
  const std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(s.find("tests=\"2\" failures=\"0\" errors=\"0\" skipped=\"1\"") != std::string::npos);
  CHECK(s.find("<skipped message=\"no GQA here\"/>") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("verify rejects a bad suite with a clear error") {
  const fs::path dir = fresh_dir("bad");
  CHECK_THROWS_WITH(verify(dir), Catch::Contains("not a directory"));
  write_suite(gen_opts(dir, 5, 1, 40));
  baseline_as_candidate(dir);
  // Wrong shape: the candidate's o has one column too many.
  const auto q = read_npy((dir / "case_000" / "q.npy").string());
  NpyArray wrong = q;
  wrong.shape.back() += 1;
  wrong.bytes.resize(wrong.bytes.size() / q.shape.back() * wrong.shape.back());
  write_npy((dir / "case_000" / "o.npy").string(), wrong);
  const cases::VerifyReport r = verify(dir);
  CHECK(r.errors == 1);
  CHECK(r.cases[0].message.find("expected [") != std::string::npos);
  fs::remove_all(dir);
}
