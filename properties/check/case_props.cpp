// Properties of `flashcheck check`: the reference's own low-precision
// baseline, written as a candidate, passes verify; a candidate with one
// element pushed past tolerance fails and the report names that element.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
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

// Copies every case's baseline/*.npy into the case folder as the candidate.
void baseline_as_candidate(const fs::path& suite) {
  for (const auto& c : fs::directory_iterator(suite))
    if (c.is_directory())
      for (const auto& f : fs::directory_iterator(c.path() / "baseline"))
      fs::copy_file(f.path(), c.path() / f.path().filename(), fs::copy_options::overwrite_existing);
}

}  // namespace

TEST_CASE("the low-precision baseline written through gen passes verify") {
  const fs::path dir = fresh_dir("baseline");
  std::ostringstream log, out;
  cases::generate({dir.string(), 11, 12, 150}, log);
  baseline_as_candidate(dir);
  const cases::VerifySummary s = cases::verify({dir.string(), ""}, out);
  INFO(out.str());
  CHECK(s.passed == 12);
  CHECK(s.failed == 0);
  fs::remove_all(dir);
}

TEST_CASE("a perturbed output fails and names the element") {
  const fs::path dir = fresh_dir("perturbed");
  std::ostringstream log;
  cases::generate({dir.string(), 5, 3, 80}, log);
  baseline_as_candidate(dir);
  // Push o[0,0,0,0] of case_001 one unit away: far beyond any dtype's tolerance.
  const fs::path o = dir / "case_001" / "o.npy";
  NpyArray a = read_npy(o.string());
  auto v = npy_to_doubles(a, DType::f64, o.string());
  v[0] += 1.0;
  write_npy(o.string(), npy_from_doubles(v, a.shape, DType::f64));
  std::ostringstream out;
  const cases::VerifySummary s = cases::verify({dir.string(), ""}, out);
  INFO(out.str());
  CHECK(s.failed == 1);
  CHECK(s.passed == 2);
  CHECK(out.str().find("case_001  o") != std::string::npos);
  CHECK(out.str().find("worst at [0,0,0,0]") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("a NaN in a candidate fails and is reported with its position") {
  const fs::path dir = fresh_dir("nan");
  std::ostringstream log;
  cases::generate({dir.string(), 5, 1, 40}, log);
  baseline_as_candidate(dir);
  const fs::path o = dir / "case_000" / "o.npy";
  NpyArray a = read_npy(o.string());
  auto v = npy_to_doubles(a, DType::f64, o.string());
  v.back() = std::nan("");
  write_npy(o.string(), npy_from_doubles(v, a.shape, DType::f64));
  std::ostringstream out;
  CHECK(cases::verify({dir.string(), ""}, out).failed == 1);
  INFO(out.str());
  CHECK(out.str().find("1 NaN/Inf, first at [") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("verify rejects bad input with a clear error") {
  const fs::path dir = fresh_dir("bad");
  std::ostringstream log, out;
  CHECK_THROWS_WITH(cases::verify({dir.string(), ""}, out), Catch::Contains("not a directory"));
  cases::generate({dir.string(), 5, 1, 40}, log);
  CHECK_THROWS_WITH(cases::verify({dir.string(), ""}, out), Catch::Contains("o.npy is required"));
  baseline_as_candidate(dir);
  // Wrong shape: the candidate's o holds k's shape instead.
  fs::copy_file(dir / "case_000" / "q.npy", dir / "case_000" / "o.npy", fs::copy_options::overwrite_existing);
  const auto q = read_npy((dir / "case_000" / "q.npy").string());
  NpyArray wrong = q;
  wrong.shape.back() += 1;
  wrong.bytes.resize(wrong.bytes.size() / q.shape.back() * wrong.shape.back());
  write_npy((dir / "case_000" / "o.npy").string(), wrong);
  CHECK_THROWS_WITH(cases::verify({dir.string(), ""}, out), Catch::Contains("expected ["));
  // Unreadable file.
  std::ofstream(dir / "case_000" / "o.npy") << "not numpy";
  CHECK_THROWS_WITH(cases::verify({dir.string(), ""}, out), Catch::Contains("bad magic"));
  fs::remove_all(dir);
}
