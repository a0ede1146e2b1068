// flashcheck.reference and flashcheck.judge: the float64 oracle and the one
// accuracy rule (reference/oracle.hpp's make_oracle + judge_case), bound as
// they are; nothing of the rule lives in Python.
#include <nanobind/nanobind.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "convert.hpp"
#include "reference/attention.hpp"
#include "reference/oracle.hpp"

namespace flashcheck::py {
namespace {

OracleInputs oracle_inputs(const Problem& p, const InArray& q, const InArray& k, const InArray& v,
                           const std::optional<InArray>& dO) {
  OracleInputs in{to_tensor(q, q_shape(p), "q"), to_tensor(k, kv_shape(p), "k"),
                  to_tensor(v, kv_shape(p), "v"), std::nullopt};
  if (dO) in.dO = to_tensor(*dO, q_shape(p), "do");
  return in;
}

Outputs outputs_from(const Problem& p, const std::map<std::string, InArray>& outs) {
  Outputs o;
  for (const auto& [name, a] : outs) {
    if (name == "o") o.O = to_tensor(a, q_shape(p), "o");
    else if (name == "lse") o.LSE = to_tensor(a, lse_shape(p), "lse");
    else if (name == "dq") o.dQ = to_tensor(a, q_shape(p), "dq");
    else if (name == "dk") o.dK = to_tensor(a, kv_shape(p), "dk");
    else if (name == "dv") o.dV = to_tensor(a, kv_shape(p), "dv");
    else throw std::invalid_argument("outputs: unknown key '" + name + "' (expected o, lse, dq, dk, dv)");
  }
  return o;
}

}  // namespace

Outputs outputs_from_arrays(const Problem& p, const std::map<std::string, InArray>& outs) {
  return outputs_from(p, outs);
}

void bind_oracle(nb::module_& m) {
  nb::class_<ErrorStats>(m, "ErrorStats")
      .def_ro("max_abs", &ErrorStats::max_abs)
      .def_ro("mean_abs", &ErrorStats::mean_abs)
      .def_ro("max_ref", &ErrorStats::max_ref)
      .def_ro("argmax", &ErrorStats::argmax)
      .def_ro("nan_count", &ErrorStats::nan_count)
      .def_ro("first_nan", &ErrorStats::first_nan);

  nb::class_<TensorVerdict>(m, "TensorVerdict",
                            "The accuracy rule's verdict on one tensor (reference/accuracy.hpp)")
      .def_ro("name", &TensorVerdict::name)
      .def_ro("passed", &TensorVerdict::pass)
      .def_ro("informative", &TensorVerdict::informative)
      .def_ro("informative_share", &TensorVerdict::informative_share)
      .def_ro("candidate", &TensorVerdict::candidate)
      .def_ro("baseline", &TensorVerdict::baseline)
      .def_ro("k", &TensorVerdict::k)
      .def_ro("c", &TensorVerdict::c)
      .def_ro("violations", &TensorVerdict::violations)
      .def_ro("worst", &TensorVerdict::worst, "flat (C order) index of the worst element")
      .def_ro("worst_ratio", &TensorVerdict::worst_ratio)
      .def_ro("worst_candidate", &TensorVerdict::worst_candidate)
      .def_ro("worst_reference", &TensorVerdict::worst_reference)
      .def_ro("worst_bound", &TensorVerdict::worst_bound)
      .def_ro("reason", &TensorVerdict::reason)
      .def("__bool__", [](const TensorVerdict& v) { return v.pass; })
      .def("__repr__", [](const TensorVerdict& v) {
        return "<TensorVerdict " + v.name + (v.pass ? " pass" : " FAIL") + ": " + v.reason + ">";
      });

  nb::class_<CaseVerdict>(m, "Verdict", "The verdict on one case: every tensor asked for")
      .def_ro("tensors", &CaseVerdict::tensors)
      .def_ro("missing", &CaseVerdict::missing)
      .def_ro("passed", &CaseVerdict::pass)
      .def("summary", &CaseVerdict::summary)
      .def("__getitem__",
           [](const CaseVerdict& v, const std::string& name) {
             for (const auto& t : v.tensors)
               if (t.name == name) return t;
             throw nb::key_error(("no verdict for tensor '" + name + "'").c_str());
           })
      .def("__bool__", [](const CaseVerdict& v) { return v.pass; })
      .def("__str__", [](const CaseVerdict& v) {
        std::string s = v.summary();
        for (const auto& t : v.tensors) s += "\n  " + t.name + ": " + (t.pass ? "pass" : "FAIL") + "  " + t.reason;
        return s;
      })
      .def("__repr__", [](const CaseVerdict& v) { return "<Verdict " + v.summary() + ">"; });

  m.def(
      "_reference",
      [](const Problem& p, InArray q, InArray k, InArray v, std::optional<InArray> dO) {
        OracleInputs in = oracle_inputs(p, q, k, v, dO);
        nb::dict out;
        ForwardResult ref;
        std::optional<Gradients> g;
        {
          nb::gil_scoped_release nogil;
          ref = reference_forward(p, in.Q, in.K, in.V);
          if (in.dO) g = reference_backward(p, in.Q, in.K, in.V, ref.O, ref.LSE, *in.dO);
        }
        out["o"] = to_numpy(std::move(ref.O));
        out["lse"] = to_numpy(std::move(ref.LSE), true);
        if (g) {
          out["dq"] = to_numpy(std::move(g->dQ));
          out["dk"] = to_numpy(std::move(g->dK));
          out["dv"] = to_numpy(std::move(g->dV));
        }
        return out;
      },
      nb::arg("problem"), nb::arg("q"), nb::arg("k"), nb::arg("v"), nb::arg("do").none());

  m.def(
      "_judge",
      [](const Problem& p, InArray q, InArray k, InArray v, std::optional<InArray> dO,
         const std::map<std::string, InArray>& outs, const std::vector<std::string>& required) {
        OracleInputs in = oracle_inputs(p, q, k, v, dO);
        Outputs o = outputs_from(p, outs);
        nb::gil_scoped_release nogil;
        const Oracle oracle = make_oracle(p, in);
        return judge_case(p, oracle, o, required);
      },
      nb::arg("problem"), nb::arg("q"), nb::arg("k"), nb::arg("v"), nb::arg("do").none(),
      nb::arg("outputs"), nb::arg("required"));
}

}  // namespace flashcheck::py
