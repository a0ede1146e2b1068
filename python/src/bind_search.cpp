// The search behind flashcheck.check: RapidCheck generates and shrinks
// inputs with the generators every C++ property suite uses
// (cases/generators.hpp), and each case calls back into Python for the
// candidate's outputs, judged by judge_case. The search runs without the
// GIL; each callback takes it.
//
// A Python exception in the callback (the candidate raised, returned
// garbage, or Ctrl-C) is not a verdict: the search stops (every later case
// and shrink is passed over) and the exception is re-raised to the caller.
#include <nanobind/nanobind.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <exception>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <rapidcheck.h>

#include "bindings.hpp"
#include "cases/generators.hpp"
#include "convert.hpp"

namespace flashcheck::py {
namespace {

// RapidCheck prints nothing: the Python side reports.
class QuietListener : public rc::detail::TestListener {
 public:
  void onTestCaseFinished(const rc::detail::CaseDescription&) override {}
  void onShrinkTried(const rc::detail::CaseDescription&, bool) override {}
  void onTestFinished(const rc::detail::TestMetadata&, const rc::detail::TestResult&) override {}
};

MaskKind mask_kind_of(const std::string& name) {
  if (name == "sliding_window" || name == "window") return MaskKind::sliding_window;
  try {
    return parse_mask(name).kind;
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument("masks: '" + name +
                                "' is not one of none, causal_top_left, causal_bottom_right, "
                                "sliding_window");
  }
}

gen::Values values_of(const std::string& name) {
  for (gen::Values v : {gen::Values::normal, gen::Values::uniform, gen::Values::large_logits,
                        gen::Values::dominant_key, gen::Values::positive})
    if (name == gen::values_name(v)) return v;
  throw std::invalid_argument("values: '" + name +
                              "' is not one of normal, uniform, large_logits, dominant_key, positive");
}

struct SearchResult {
  bool passed = true;
  int cases_run = 0;     // cases judged before the search ended (the failing one included)
  int shrink_calls = 0;  // candidate calls while shrinking
  std::optional<gen::Inputs> counterexample;  // shrunk
  std::optional<CaseVerdict> verdict;
  std::string description;  // RapidCheck's failure description
};

struct State {
  int calls = 0;
  std::exception_ptr error;  // a Python exception (or a bad shape) from the callback
  std::optional<gen::Inputs> last_fail;
  std::optional<CaseVerdict> last_verdict;
};

}  // namespace

void bind_search(nb::module_& m) {
  nb::class_<gen::ValueSpec>(m, "ValueSpec", "How a case's tensor values were drawn")
      .def_prop_ro("kind", [](const gen::ValueSpec& v) { return std::string(gen::values_name(v.kind)); })
      .def_ro("magnitude", &gen::ValueSpec::magnitude)
      .def_ro("seed", &gen::ValueSpec::seed);

  nb::class_<SearchResult>(m, "_SearchResult")
      .def_ro("passed", &SearchResult::passed)
      .def_ro("cases_run", &SearchResult::cases_run)
      .def_ro("shrink_calls", &SearchResult::shrink_calls)
      .def_ro("verdict", &SearchResult::verdict)
      .def_ro("description", &SearchResult::description)
      .def_prop_ro("counterexample",
                   [](const SearchResult& r) -> std::optional<Problem> {
                     if (!r.counterexample) return std::nullopt;
                     return r.counterexample->problem;
                   })
      .def_prop_ro("values",
                   [](const SearchResult& r) -> std::optional<gen::ValueSpec> {
                     if (!r.counterexample) return std::nullopt;
                     return r.counterexample->values;
                   })
      .def("inputs", [](const SearchResult& r) {
        if (!r.counterexample) throw std::invalid_argument("no counterexample");
        const gen::Inputs& in = *r.counterexample;
        return nb::make_tuple(to_numpy(in.Q), to_numpy(in.K), to_numpy(in.V), to_numpy(in.dO));
      })
      .def("write_case", [](const SearchResult& r, const std::string& dir) {
        if (!r.counterexample) throw std::invalid_argument("no counterexample");
        write_counterexample(dir, *r.counterexample);
      });

  m.def(
      "_search",
      [](nb::callable fn, bool backward, const std::vector<std::string>& dtypes,
         const std::vector<std::string>& masks, const std::vector<std::string>& values,
         int64_t max_seqlen, int64_t max_head_dim, const std::vector<int64_t>& head_dims,
         int64_t max_batch, int64_t max_heads_kv, int64_t max_group, int cases, uint64_t seed,
         bool shrink) {
        if (cases < 1) throw std::invalid_argument("cases: must be >= 1");
        if (max_seqlen < 1) throw std::invalid_argument("max_seqlen: must be >= 1");
        if (max_head_dim < 1) throw std::invalid_argument("max_head_dim: must be >= 1");
        if (max_batch < 1 || max_heads_kv < 1 || max_group < 1)
          throw std::invalid_argument("max_batch, max_heads_kv, max_group: must be >= 1");
        if (dtypes.empty()) throw std::invalid_argument("dtypes: empty");
        if (masks.empty()) throw std::invalid_argument("masks: empty");
        gen::ShapeLimits limits;
        limits.max_batch = max_batch;
        limits.max_heads_kv = max_heads_kv;
        limits.max_group = max_group;
        limits.max_seqlen = max_seqlen;
        limits.max_head_dim = max_head_dim;
        limits.tile_edges.clear();
        for (int64_t t : {8, 16, 64, 128})
          if (t < max_seqlen) limits.tile_edges.push_back(t);
        for (int64_t d : head_dims) {
          if (d < 1 || d > max_head_dim)
            throw std::invalid_argument("head_dims: " + std::to_string(d) + " is not in [1, max_head_dim]");
          limits.head_dims.push_back(d);
        }
        limits.mask_kinds.clear();
        for (const auto& s : masks) limits.mask_kinds.push_back(mask_kind_of(s));
        limits.dtypes.clear();
        for (const auto& s : dtypes) {
          try {
            limits.dtypes.push_back(parse_dtype(s));
          } catch (const std::invalid_argument& e) {
            throw std::invalid_argument(std::string("dtypes: ") + e.what());
          }
        }
        std::vector<gen::Values> kinds;
        for (const auto& s : values) kinds.push_back(values_of(s));
        if (kinds.empty()) throw std::invalid_argument("values: empty");
        limits.max_work = int64_t(1) << 22;
        const auto g = gen::inputs(limits, kinds);
        const std::vector<std::string> base_required =
            backward ? std::vector<std::string>{"o", "dq", "dk", "dv"} : std::vector<std::string>{"o"};

        State st;
        auto property = [&] {
          if (st.error) return;  // the search is over: pass everything, shrinking stops at once
          const gen::Inputs in = *g;
          ++st.calls;
          Outputs out;
          std::vector<std::string> required = base_required;
          {
            nb::gil_scoped_acquire gil;
            try {
              if (PyErr_CheckSignals() != 0) throw nb::python_error();
              nb::object dO = backward ? nb::cast(to_numpy(in.dO)) : nb::none();
              nb::object r = fn(in.problem, to_numpy(in.Q), to_numpy(in.K), to_numpy(in.V), dO);
              auto arrays = nb::cast<std::map<std::string, InArray>>(r);
              out = outputs_from_arrays(in.problem, arrays);
              if (out.LSE) required.push_back("lse");  // judged when given
            } catch (...) {
              st.error = std::current_exception();
              return;
            }
          }
          OracleInputs oin{in.Q, in.K, in.V, std::nullopt};
          if (backward) oin.dO = in.dO;
          CaseVerdict v;
          try {
            v = judge_case(in.problem, make_oracle(in.problem, oin), out, required);
          } catch (const std::exception&) {  // a bad argument, not a verdict
            st.error = std::current_exception();
            return;
          }
          if (!v.pass) {
            st.last_fail = in;
            st.last_verdict = v;
            RC_FAIL(v.summary());
          }
        };

        rc::detail::TestParams params;
        params.seed = seed;
        params.maxSuccess = cases;
        params.maxSize = 100;
        params.disableShrinking = !shrink;
        rc::detail::TestMetadata meta;
        meta.id = meta.description = "flashcheck.check";
        QuietListener quiet;
        SearchResult res;
        std::optional<rc::detail::TestResult> tr;
        {
          nb::gil_scoped_release nogil;
          tr = rc::detail::checkProperty(rc::detail::toProperty(property), meta, params, quiet);
        }
        if (st.error) std::rethrow_exception(st.error);
        rc::detail::FailureResult fail;
        rc::detail::GaveUpResult gave_up;
        rc::detail::Error err;
        if (tr->match(fail)) {
          res.passed = false;
          res.cases_run = fail.numSuccess + 1;
          res.shrink_calls = st.calls - res.cases_run;
          res.counterexample = st.last_fail;
          res.verdict = st.last_verdict;
          res.description = fail.description;
        } else if (tr->match(gave_up)) {
          throw std::runtime_error("flashcheck.check: the generator gave up: " + gave_up.description);
        } else if (tr->match(err)) {
          throw std::runtime_error("flashcheck.check: " + err.description);
        } else {
          res.cases_run = st.calls;
        }
        return res;
      },
      nb::arg("fn"), nb::arg("backward"), nb::arg("dtypes"), nb::arg("masks"), nb::arg("values"),
      nb::arg("max_seqlen"), nb::arg("max_head_dim"), nb::arg("head_dims"), nb::arg("max_batch"),
      nb::arg("max_heads_kv"), nb::arg("max_group"), nb::arg("cases"), nb::arg("seed"),
      nb::arg("shrink"));
}

}  // namespace flashcheck::py
