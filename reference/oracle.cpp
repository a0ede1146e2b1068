// One case's oracle (reference, baseline, allowance) and the judge of a case.
#include "reference/oracle.hpp"

#include <algorithm>
#include <stdexcept>

#include "reference/baseline.hpp"
#include "reference/variant_baseline.hpp"

namespace flashcheck {

namespace {

Oracle make_variant_oracle(const Problem& p, const OracleInputs& in) {
  const Extras& ex = in.extras;
  Oracle o;
  o.ref = variant_forward(p, ex, in.Q, in.K, in.V);
  o.base = variant_baseline_forward(p, ex, in.Q, in.K, in.V);
  if (!in.dO) {
    o.allow = variant_allowance(p, ex, in.Q, in.K, in.V, o.ref);
    return o;
  }
  VariantGradients ref = variant_backward(p, ex, in.Q, in.K, in.V, o.ref.O, o.ref.LSE, *in.dO);
  VariantGradients base = variant_baseline_backward(p, ex, in.Q, in.K, in.V, o.base.O, o.base.LSE, *in.dO);
  o.allow = variant_allowance(p, ex, in.Q, in.K, in.V, o.ref, &*in.dO, &ref);
  o.ref_grad = Gradients{std::move(ref.dQ), std::move(ref.dK), std::move(ref.dV)};
  o.base_grad = Gradients{std::move(base.dQ), std::move(base.dK), std::move(base.dV)};
  o.ref_dbias = std::move(ref.dbias), o.base_dbias = std::move(base.dbias);
  o.ref_dsinks = std::move(ref.dsinks), o.base_dsinks = std::move(base.dsinks);
  return o;
}

}  // namespace

Oracle make_oracle(const Problem& p, const OracleInputs& in) {
  if (!p.variants.plain()) return make_variant_oracle(p, in);
  validate_extras(p, in.extras);  // plain: no extra tensor may be given
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

std::vector<std::string> all_tensor_names(const Problem& p, bool backward) {
  std::vector<std::string> names = all_tensor_names(backward);
  if (backward && p.variants.bias) names.push_back("dbias");
  if (backward && p.variants.sinks) names.push_back("dsinks");
  return names;
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
  const std::vector<std::string> names = required.empty() ? all_tensor_names(p, backward) : required;
  if (names.empty()) throw std::invalid_argument("judge_case: no tensor asked for");
  CaseVerdict cv;
  for (const std::string& name : names) {
    const bool grad = name == "dq" || name == "dk" || name == "dv" || name == "dbias" || name == "dsinks";
    if (grad && !backward)
      throw std::invalid_argument("judge_case: " + name + " asked for but the case has no dO");
    if ((name == "dbias" && !p.variants.bias) || (name == "dsinks" && !p.variants.sinks))
      throw std::invalid_argument("judge_case: " + name + " asked for but variants." +
                                  (name == "dbias" ? "bias" : "sinks") + " is off");
    const double k = grad ? kGradientFactor : kOutputFactor;
    if (name == "dsinks") {  // a [heads_q] vector, not a Tensor4
      if (!out.dsinks) {
        cv.missing.push_back(name);
        continue;
      }
      if (int64_t(out.dsinks->size()) != p.heads_q)
        throw std::invalid_argument("dsinks: " + std::to_string(out.dsinks->size()) +
                                    " values, expected heads_q = " + std::to_string(p.heads_q));
      cv.tensors.push_back(judge_tensor(name, *out.dsinks, oracle.base_dsinks, oracle.ref_dsinks,
                                        oracle.allow.dsinks, k));
      continue;
    }
    const std::optional<Tensor4<double>>* cand = nullptr;
    const Tensor4<double>* ref = nullptr;
    const Tensor4<double>* base = nullptr;
    const Tensor4<double>* allow = nullptr;
    if (name == "o") {
      cand = &out.O, ref = &oracle.ref.O, base = &oracle.base.O, allow = &oracle.allow.O;
    } else if (name == "lse") {
      cand = &out.LSE, ref = &oracle.ref.LSE, base = &oracle.base.LSE, allow = &oracle.allow.LSE;
    } else if (name == "dq") {
      cand = &out.dQ, ref = &oracle.ref_grad->dQ, base = &oracle.base_grad->dQ, allow = &oracle.allow.dQ;
    } else if (name == "dk") {
      cand = &out.dK, ref = &oracle.ref_grad->dK, base = &oracle.base_grad->dK, allow = &oracle.allow.dK;
    } else if (name == "dv") {
      cand = &out.dV, ref = &oracle.ref_grad->dV, base = &oracle.base_grad->dV, allow = &oracle.allow.dV;
    } else if (name == "dbias") {
      cand = &out.dbias, ref = &oracle.ref_dbias, base = &oracle.base_dbias, allow = &oracle.allow.dbias;
    } else {
      throw std::invalid_argument("judge_case: unknown tensor '" + name +
                                  "' (expected o, lse, dq, dk, dv, dbias, dsinks)");
    }
    if (!cand->has_value()) {
      cv.missing.push_back(name);
      continue;
    }
    // The reference's shape is the problem's (variant layouts included).
    require_shape((*cand)->shape(), ref->shape(), name.c_str());
    cv.tensors.push_back(judge_tensor(name, (*cand)->values(), base->values(), ref->values(),
                                      allow->values(), k));
  }
  cv.pass = cv.missing.empty() &&
            std::all_of(cv.tensors.begin(), cv.tensors.end(), [](const TensorVerdict& t) { return t.pass; });
  return cv;
}

}  // namespace flashcheck
