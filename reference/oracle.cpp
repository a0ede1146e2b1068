// One case's oracle (reference, baseline, allowance) and the judge of a case.
#include "reference/oracle.hpp"

#include <algorithm>
#include <stdexcept>

#include "reference/baseline.hpp"

namespace flashcheck {

Oracle make_oracle(const Problem& p, const OracleInputs& in) {
  Oracle o;
  o.ref = reference_forward(p, in.Q, in.K, in.V);
  o.base = baseline_forward(p, in.Q, in.K, in.V);
  o.allow = forward_allowance(p, in.Q, in.K, in.V, o.ref);
  if (in.dO) {
    o.ref_grad = reference_backward(p, in.Q, in.K, in.V, o.ref.O, o.ref.LSE, *in.dO);
    // The baseline's backward runs on its own forward, as a plain
    // implementation's would.
    o.base_grad = baseline_backward(p, in.Q, in.K, in.V, o.base.O, o.base.LSE, *in.dO);
    add_backward_allowance(p, in.Q, in.K, in.V, *in.dO, o.ref, *o.ref_grad, o.allow);
  }
  return o;
}

std::vector<std::string> all_tensor_names(bool backward) {
  if (backward) return {"o", "lse", "dq", "dk", "dv"};
  return {"o", "lse"};
}

std::string CaseVerdict::summary() const {
  std::string s = pass ? "pass:" : "FAIL:";
  for (const auto& t : tensors)
    s += " " + t.name + (t.pass ? "" : "(FAIL)") + (t.informative ? "" : "(uninformative)");
  for (const auto& m : missing) s += " " + m + "(MISSING)";
  return s;
}

CaseVerdict judge_case(const Problem& p, const Oracle& oracle, const Outputs& out,
                       const std::vector<std::string>& required) {
  const bool backward = oracle.ref_grad.has_value();
  const std::vector<std::string> names = required.empty() ? all_tensor_names(backward) : required;
  if (names.empty()) throw std::invalid_argument("judge_case: no tensor asked for");
  CaseVerdict cv;
  for (const std::string& name : names) {
    const std::optional<Tensor4<double>>* cand = nullptr;
    const Tensor4<double>* ref = nullptr;
    const Tensor4<double>* base = nullptr;
    const Tensor4<double>* allow = nullptr;
    Shape4 shape;
    double k = kOutputFactor;
    const bool grad = name == "dq" || name == "dk" || name == "dv";
    if (grad && !backward)
      throw std::invalid_argument("judge_case: " + name + " asked for but the case has no dO");
    if (name == "o") {
      cand = &out.O, ref = &oracle.ref.O, base = &oracle.base.O, allow = &oracle.allow.O;
      shape = q_shape(p);
    } else if (name == "lse") {
      cand = &out.LSE, ref = &oracle.ref.LSE, base = &oracle.base.LSE, allow = &oracle.allow.LSE;
      shape = lse_shape(p);
    } else if (name == "dq") {
      cand = &out.dQ, ref = &oracle.ref_grad->dQ, base = &oracle.base_grad->dQ;
      allow = &oracle.allow.dQ, shape = q_shape(p), k = kGradientFactor;
    } else if (name == "dk") {
      cand = &out.dK, ref = &oracle.ref_grad->dK, base = &oracle.base_grad->dK;
      allow = &oracle.allow.dK, shape = kv_shape(p), k = kGradientFactor;
    } else if (name == "dv") {
      cand = &out.dV, ref = &oracle.ref_grad->dV, base = &oracle.base_grad->dV;
      allow = &oracle.allow.dV, shape = kv_shape(p), k = kGradientFactor;
    } else {
      throw std::invalid_argument("judge_case: unknown tensor '" + name +
                                  "' (expected o, lse, dq, dk, dv)");
    }
    if (!cand->has_value()) {
      cv.missing.push_back(name);
      continue;
    }
    require_shape((*cand)->shape(), shape, name.c_str());
    cv.tensors.push_back(judge_tensor(name, (*cand)->values(), base->values(), ref->values(),
                                      allow->values(), k));
  }
  cv.pass = cv.missing.empty() &&
            std::all_of(cv.tensors.begin(), cv.tensors.end(), [](const TensorVerdict& t) { return t.pass; });
  return cv;
}

}  // namespace flashcheck
