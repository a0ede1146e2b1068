// `check gen --variants` / `check verify` on variant case folders
// (cases/variant_files.hpp): the baseline written as a candidate passes
// every variant; a wrong dbias or dsinks fails; every bad, missing or
// inconsistent extra file is an error of its case naming the file and the
// field, and problem.json's variant fields round-trip.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cases/case_files.hpp"
#include "cases/variant_files.hpp"
#include "reference/npy.hpp"

namespace fs = std::filesystem;
using namespace flashcheck;

namespace {

// Cases 0..7 hold softcap, alibi, varlen, paged, sinks, dropout, mask, bias.
fs::path variant_suite(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("flashcheck_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  cases::GenOptions o;
  o.out_dir = d.string();
  o.seed = 3;
  o.count = 8;
  o.max_seqlen = 40;
  o.variants = gen::all_case_variants();
  std::ostringstream log;
  cases::generate(o, log);
  for (const auto& c : fs::directory_iterator(d))
    if (c.is_directory())
      for (const auto& f : fs::directory_iterator(c.path() / "baseline"))
        fs::copy_file(f.path(), c.path() / f.path().filename(), fs::copy_options::overwrite_existing);
  return d;
}

cases::VerifyReport verify(const fs::path& dir) {
  cases::VerifyOptions o;
  o.dir = dir.string();
  return cases::verify(o, nullptr);
}

const cases::CaseResult& case_of(const cases::VerifyReport& r, const std::string& name) {
  for (const cases::CaseResult& c : r.cases)
    if (c.name == name) return c;
  throw std::runtime_error("no case " + name);
}

// The message of the one case made bad, every other case still passing.
std::string only_error(const fs::path& suite, const std::string& name) {
  const cases::VerifyReport r = verify(suite);
  CHECK(r.errors == 1);
  CHECK(r.passed == 7);
  CHECK(r.status() == cases::SuiteStatus::bad_input);
  const cases::CaseResult& c = case_of(r, name);
  CHECK(c.status == cases::CaseStatus::error);
  CHECK(c.message.find('\n') == std::string::npos);  // one line
  return c.message;
}

void save_ints(const fs::path& p, const std::vector<int64_t>& v, const std::vector<int64_t>& shape, const char* descr) {
  write_npy(p.string(), npy_from_ints(v, shape, descr));
}

}  // namespace

TEST_CASE("variant case files: the baseline passes every variant, dbias and dsinks judged") {
  const fs::path s = variant_suite("variant_pass");
  const cases::VerifyReport r = verify(s);
  CHECK(r.passed == 8);
  CHECK(r.status() == cases::SuiteStatus::pass);
  bool dbias = false, dsinks = false;
  for (const auto& t : case_of(r, "case_007").tensors) dbias = dbias || t.verdict.name == "dbias";
  for (const auto& t : case_of(r, "case_004").tensors) dsinks = dsinks || t.verdict.name == "dsinks";
  CHECK(dbias);
  CHECK(dsinks);
  for (const char* f : {"case_001/alibi.npy", "case_002/cu_seqlens_q.npy", "case_002/cu_seqlens_k.npy",
                        "case_003/block_table.npy", "case_004/sinks.npy", "case_005/keep.npy",
                        "case_006/mask.npy", "case_007/bias.npy"})
    CHECK(fs::exists(s / f));
  fs::remove_all(s);
}

TEST_CASE("variant case files: a wrong or missing dbias / dsinks fails the case") {
  const fs::path s = variant_suite("variant_wrong_grad");
  // dbias of zeros, dsinks negated: both wrong where informative.
  const Problem pb = cases::read_case((s / "case_007").string()).problem;
  write_npy((s / "case_007" / "dbias.npy").string(),
            npy_from_doubles(std::vector<double>(score_shape(pb).size(), 0.0),
                             {pb.batch, pb.heads_q, pb.seqlen_q, pb.seqlen_k}, pb.dtype));
  NpyArray ds = read_npy((s / "case_004" / "dsinks.npy").string());
  std::vector<double> v = npy_to_doubles(ds, DType::f32, "dsinks");
  for (double& x : v) x = -3 * x - 1;
  write_npy((s / "case_004" / "dsinks.npy").string(), npy_from_doubles(v, ds.shape, DType::f32));
  cases::VerifyReport r = verify(s);
  CHECK(case_of(r, "case_007").status == cases::CaseStatus::fail);
  CHECK(case_of(r, "case_004").status == cases::CaseStatus::fail);
  fs::remove(s / "case_004" / "dsinks.npy");
  r = verify(s);
  CHECK(case_of(r, "case_004").missing == std::vector<std::string>{"dsinks"});
  fs::remove_all(s);
}

TEST_CASE("variant case files: bad extras are one error naming the file and the field") {
  const fs::path s = variant_suite("variant_bad");
  auto contains = [](const std::string& m, const std::string& part) {
    INFO(m);
    CHECK(m.find(part) != std::string::npos);
  };
  SECTION("missing file") {
    fs::remove(s / "case_001" / "alibi.npy");
    const std::string m = only_error(s, "case_001");
    contains(m, "alibi.npy");
    contains(m, "extras.alibi_slopes");
  }
  SECTION("block table entry outside the pages") {
    const Problem p = cases::read_case((s / "case_003").string()).problem;
    std::vector<int64_t> t(p.batch * pages_per_seq(p), 0);
    t.back() = p.variants.num_pages;
    save_ints(s / "case_003" / "block_table.npy", t, {p.batch, pages_per_seq(p)}, "<i4");
    const std::string m = only_error(s, "case_003");
    contains(m, "block_table.npy");
    contains(m, "extras.block_table");
  }
  SECTION("cu_seqlens decreasing") {
    const Problem p = cases::read_case((s / "case_002").string()).problem;
    std::vector<int64_t> cu(p.batch + 1, 0);
    cu[1] = 1;  // then back to 0
    save_ints(s / "case_002" / "cu_seqlens_k.npy", cu, {p.batch + 1}, "<i8");
    const std::string m = only_error(s, "case_002");
    contains(m, "cu_seqlens_k.npy");
    contains(m, "extras.cu_seqlens_k");
  }
  SECTION("float keep mask") {
    const Problem p = cases::read_case((s / "case_005").string()).problem;
    write_npy((s / "case_005" / "keep.npy").string(),
              npy_from_doubles(std::vector<double>(score_shape(p).size(), 1.0),
                               {p.batch, p.heads_q, p.seqlen_q, p.seqlen_k}, DType::f32));
    const std::string m = only_error(s, "case_005");
    contains(m, "keep.npy");
    contains(m, "extras.keep");
    contains(m, "uint8");
  }
  SECTION("misshapen mask") {
    save_ints(s / "case_006" / "mask.npy", {1, 0, 1}, {3}, "|u1");
    const std::string m = only_error(s, "case_006");
    contains(m, "mask.npy");
    contains(m, "extras.mask");
    contains(m, "shape");
  }
  SECTION("variant on, extra not named") {
    std::ifstream in(s / "case_007" / "problem.json");
    nlohmann::json j = nlohmann::json::parse(in);
    in.close();
    j["extras"].erase("bias");
    std::ofstream(s / "case_007" / "problem.json") << j.dump(2);
    const std::string m = only_error(s, "case_007");
    contains(m, "extras.bias");
    contains(m, "variants.bias is on");
  }
  SECTION("unknown variant field") {
    std::ifstream in(s / "case_000" / "problem.json");
    nlohmann::json j = nlohmann::json::parse(in);
    in.close();
    j["variants"]["softcapp"] = 3;
    std::ofstream(s / "case_000" / "problem.json") << j.dump(2);
    contains(only_error(s, "case_000"), "variants.softcapp");
  }
  fs::remove_all(s);
}

TEST_CASE("variant fields round-trip through problem.json") {
  Variants v;
  v.softcap = 5;
  v.alibi = v.sinks = v.bias = v.bool_mask = v.varlen = v.allow_empty = true;
  v.dropout_p = 0.25;
  v.page_size = 16;
  v.num_pages = 9;
  const Variants w = cases::variants_from_json(cases::variants_to_json(v));
  CHECK(w.describe() == v.describe());
  CHECK(cases::variants_to_json(Variants{}).empty());
  CHECK_THROWS_WITH(cases::variants_from_json({{"alibi", 1}}), Catch::Contains("variants.alibi"));
  CHECK_THROWS_WITH(cases::variants_from_json({{"page_size", -1}}), Catch::Contains("variants.page_size"));
}
