// Case folders (cases/case_files.hpp): `check gen`, `check verify` and the
// writer of a shrunk counterexample, so Python and the CLI share one format.
#include <nanobind/nanobind.h>
#include <nanobind/stl/vector.h>
#include <nanobind/stl/string.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "bindings.hpp"
#include "cases/case_files.hpp"
#include "cases/generators.hpp"
#include "cases/variant_inputs.hpp"

namespace flashcheck::py {

void write_counterexample(const std::string& dir, const gen::Inputs& in) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  cases::write_case((fs::path(dir) / "case_000").string(), "case_000", in);
}

void bind_cases(nb::module_& m) {
  m.def(
      "_generate",
      [](const std::string& out_dir, uint64_t seed, int count, int max_seqlen, int max_head_dim,
         const std::vector<std::string>& variants) {
        cases::GenOptions o;
        o.variants = gen::parse_case_variants(variants);  // throws naming an unknown one
        o.out_dir = out_dir;
        o.seed = seed;
        o.count = count;
        o.max_seqlen = max_seqlen;
        o.max_head_dim = max_head_dim;
        std::ostringstream log;
        {
          nb::gil_scoped_release nogil;
          cases::generate(o, log);
        }
        return log.str();
      },
      nb::arg("out_dir"), nb::arg("seed"), nb::arg("count"), nb::arg("max_seqlen"),
      nb::arg("max_head_dim"), nb::arg("variants") = std::vector<std::string>{});
  m.def(
      "_verify",
      [](const std::string& dir, const std::string& candidate_dir,
         const std::vector<std::string>& outputs) {
        cases::VerifyOptions o;
        o.dir = dir;
        o.candidate_dir = candidate_dir;
        o.outputs = outputs;
        std::ostringstream out;
        cases::VerifyReport r;
        {
          nb::gil_scoped_release nogil;
          r = cases::verify(o, &out);
        }
        return nb::make_tuple(r.passed, r.failed + r.errors, r.skipped, out.str());
      },
      nb::arg("dir"), nb::arg("candidate_dir") = "", nb::arg("outputs") = std::vector<std::string>{});
}

}  // namespace flashcheck::py
