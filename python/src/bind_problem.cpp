// flashcheck.Problem: the C++ Problem itself (one type), built from keyword
// arguments spelled as in the CLI and validated on construction.
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>

#include <new>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

#include "bindings.hpp"
#include "reference/problem.hpp"

namespace flashcheck::py {
namespace {

Mask make_mask(const std::string& mask, const std::optional<std::pair<int64_t, int64_t>>& window) {
  if (mask == "sliding_window" || mask == "window") {
    if (!window)
      throw std::invalid_argument("window: required (as (left, right)) for mask='sliding_window'");
    if (window->first < 0 || window->second < 0)
      throw std::invalid_argument("window: left and right must be >= 0");
    return Mask::sliding_window(window->first, window->second);
  }
  if (window)
    throw std::invalid_argument("window: only for mask='sliding_window' (got mask='" + mask + "')");
  if (mask.rfind("window:", 0) == 0)
    throw std::invalid_argument("mask: use mask='sliding_window', window=(left, right)");
  try {
    return parse_mask(mask);
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument("mask: '" + mask +
                                "' is not one of none, causal_top_left, causal_bottom_right, "
                                "sliding_window");
  }
}

std::string problem_id(const Problem& p) {
  std::ostringstream s;
  s << dtype_name(p.dtype) << "-" << mask_kind_name(p.mask.kind);
  if (p.mask.kind == MaskKind::sliding_window)
    s << "_" << p.mask.window_left << "_" << p.mask.window_right;
  s << "-B" << p.batch << "-H" << p.heads_q << "x" << p.heads_kv << "-Nq" << p.seqlen_q << "-Nk"
    << p.seqlen_k << "-d" << p.head_dim;
  return s.str();
}

}  // namespace

Mask mask_from_name(const std::string& name, const std::optional<std::pair<int64_t, int64_t>>& window) {
  return make_mask(name, window);
}

void bind_problem(nb::module_& m) {
  nb::class_<Problem>(m, "Problem",
                      "An attention problem: shapes [B][H][N][d], softmax scale, mask, dtype.\n"
                      "Masks: none, causal_top_left, causal_bottom_right, sliding_window "
                      "(with window=(left, right)). Dtypes: f64, f32, f16, bf16.")
      .def(
          "__init__",
          [](Problem* self, int64_t batch, int64_t heads_q, std::optional<int64_t> heads_kv,
             int64_t seqlen_q, std::optional<int64_t> seqlen_k, int64_t head_dim,
             const std::string& dtype, const std::string& mask,
             std::optional<std::pair<int64_t, int64_t>> window, std::optional<double> scale) {
            Problem p;
            p.batch = batch;
            p.heads_q = heads_q;
            p.heads_kv = heads_kv.value_or(heads_q);
            p.seqlen_q = seqlen_q;
            p.seqlen_k = seqlen_k.value_or(seqlen_q);
            p.head_dim = head_dim;
            try {
              p.dtype = parse_dtype(dtype);
            } catch (const std::invalid_argument& e) {
              throw std::invalid_argument(std::string("dtype: ") + e.what());
            }
            p.mask = make_mask(mask, window);
            p.scale = scale;
            p.validate();  // ProblemError (ValueError) names the field
            new (self) Problem(p);
          },
          nb::arg("batch") = 1, nb::arg("heads_q") = 1, nb::arg("heads_kv") = nb::none(),
          nb::arg("seqlen_q") = 1, nb::arg("seqlen_k") = nb::none(), nb::arg("head_dim") = 64,
          nb::arg("dtype") = "bf16", nb::arg("mask") = "none", nb::arg("window") = nb::none(),
          nb::arg("scale") = nb::none())
      .def_ro("batch", &Problem::batch)
      .def_ro("heads_q", &Problem::heads_q)
      .def_ro("heads_kv", &Problem::heads_kv)
      .def_ro("seqlen_q", &Problem::seqlen_q)
      .def_ro("seqlen_k", &Problem::seqlen_k)
      .def_ro("head_dim", &Problem::head_dim)
      .def_prop_ro("scale", &Problem::softmax_scale, "the softmax scale (1/sqrt(head_dim) by default)")
      .def_prop_ro("explicit_scale", [](const Problem& p) { return p.scale; })
      .def_prop_ro("dtype", [](const Problem& p) { return std::string(dtype_name(p.dtype)); })
      .def_prop_ro("mask", [](const Problem& p) { return std::string(mask_kind_name(p.mask.kind)); })
      .def_prop_ro("window",
                   [](const Problem& p) -> std::optional<std::pair<int64_t, int64_t>> {
                     if (p.mask.kind != MaskKind::sliding_window) return std::nullopt;
                     return std::make_pair(p.mask.window_left, p.mask.window_right);
                   })
      .def_prop_ro("q_shape", [](const Problem& p) {
        return nb::make_tuple(p.batch, p.heads_q, p.seqlen_q, p.head_dim); })
      .def_prop_ro("kv_shape", [](const Problem& p) {
        return nb::make_tuple(p.batch, p.heads_kv, p.seqlen_k, p.head_dim); })
      .def_prop_ro("lse_shape", [](const Problem& p) {
        return nb::make_tuple(p.batch, p.heads_q, p.seqlen_q); })
      .def_prop_ro("band",
                   [](const Problem& p) {
                     return std::make_pair(p.mask.dlo(p.seqlen_q, p.seqlen_k), p.mask.dhi(p.seqlen_q, p.seqlen_k));
                   },
                   "(lo, hi): key k is visible to query q iff lo <= k - q <= hi (every mask is this band)")
      .def("visible", &Problem::visible, nb::arg("q"), nb::arg("k"),
           "True when key k is visible to query q under the mask")
      .def("describe", &Problem::describe)
      .def_prop_ro("id", &problem_id, "a short readable id for test names, e.g. bf16-causal_top_left-B1-H2x1-Nq7-Nk5-d16")
      .def("__repr__", [](const Problem& p) { return "Problem(" + p.describe() + ")"; })
      .def("__eq__", [](const Problem& a, const Problem& b) { return a.describe() == b.describe(); });
}

}  // namespace flashcheck::py
