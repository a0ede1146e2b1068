// The parts of the _flashcheck extension module, one file each.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <nanobind/nanobind.h>

#include "reference/mask.hpp"

namespace flashcheck::py {
namespace nb = nanobind;

void bind_problem(nb::module_& m);  // Problem
void bind_oracle(nb::module_& m);   // reference, judge, verdicts
void bind_search(nb::module_& m);   // the RapidCheck search behind flashcheck.check
void bind_cases(nb::module_& m);    // case folders: generate, verify, write
void bind_sim(nb::module_& m);      // the simulator rows behind flashcheck.simulate

// A mask from its CLI name (and window for sliding_window); ValueError names the argument.
Mask mask_from_name(const std::string& name, const std::optional<std::pair<int64_t, int64_t>>& window);

}  // namespace flashcheck::py

#include <map>
#include <nanobind/ndarray.h>
#include "reference/oracle.hpp"
namespace flashcheck::py {
// The candidate's outputs from a {name: float64 array} dict; ValueError
// names an unknown key or a tensor of the wrong shape.
Outputs outputs_from_arrays(
    const Problem& p,
    const std::map<std::string, nb::ndarray<const double, nb::c_contig, nb::device::cpu>>& outs);
}  // namespace flashcheck::py

namespace flashcheck::gen {
struct Inputs;
}
namespace flashcheck::py {
// A check-compatible suite folder holding one case, dir/case_000 (inputs,
// problem.json, ref/, baseline/); `flashcheck check verify dir` judges it.
void write_counterexample(const std::string& dir, const gen::Inputs& in);
}  // namespace flashcheck::py
