// Variant candidates and their planted bugs (variant_candidate.hpp).
#include "mutants/variant_candidate.hpp"

#include <stdexcept>

#include "reference/baseline.hpp"
#include "reference/variant_baseline.hpp"

namespace flashcheck::mutants {
namespace {

struct BugInfo {
  VariantBug bug;
  const char* name;
  const char* what;
};
const BugInfo kBugs[] = {
    {VariantBug::softcap_dropped_in_backward, "softcap_dropped_in_backward",
     "softcap dropped in the backward (P recomputed from uncapped scores, no tanh derivative)"},
    {VariantBug::alibi_slope_sign, "alibi_slope_sign", "ALiBi slope sign flipped (+slope |i - j|)"},
    {VariantBug::varlen_offset_off_by_one, "varlen_offset_off_by_one",
     "varlen: sequence b >= 1 reads and writes its keys at sequence b-1's offset"},
    {VariantBug::block_table_misindexed, "block_table_misindexed",
     "paged: block table row 0 used for every sequence (batch stride dropped)"},
    {VariantBug::sink_gradient_missing, "sink_gradient_missing", "dsinks never accumulated (zero)"},
};

// The off-by-one kernel's rows of sequence b >= 1 live at sequence b-1's
// start (rows past the packed tensor: 0). Reading: K as it sees it; writing
// back (scatter): its dK, dV land where it read, summed where regions overlap.
Tensor4<double> wrong_offsets(const Problem& p, const Extras& ex, const Tensor4<double>& t, bool scatter) {
  Tensor4<double> out(t.shape());
  const int64_t total = t.shape().N;
  for (int64_t b = 0; b < p.batch; ++b) {
    const int64_t start = ex.cu_seqlens_k[b > 0 ? b - 1 : 0], right = ex.cu_seqlens_k[b], n = seq_len_k(p, ex, b);
    for (int64_t h = 0; h < t.shape().H; ++h)
      for (int64_t j = 0; j < n && start + j < total; ++j)
        for (int64_t x = 0; x < t.shape().D; ++x) {
          if (scatter) out(0, h, start + j, x) += t(0, h, right + j, x);
          else out(0, h, right + j, x) = t(0, h, start + j, x);
        }
  }
  return out;
}

Tensor4<double> rounded(Tensor4<double> t, DType d) {
  round_to_dtype(t, d);
  return t;
}

}  // namespace

const std::vector<VariantBug>& all_variant_bugs() {
  static const std::vector<VariantBug> all = [] {
    std::vector<VariantBug> v;
    for (const BugInfo& b : kBugs) v.push_back(b.bug);
    return v;
  }();
  return all;
}
const char* variant_bug_name(VariantBug b) {
  for (const BugInfo& x : kBugs)
    if (x.bug == b) return x.name;
  return b == VariantBug::none ? "none" : "?";
}
const char* variant_bug_description(VariantBug b) {
  for (const BugInfo& x : kBugs)
    if (x.bug == b) return x.what;
  return b == VariantBug::none ? "standard attention with the variants" : "?";
}
VariantBug parse_variant_bug(const std::string& s) {
  std::string names;
  for (const BugInfo& x : kBugs) {
    if (s == x.name) return x.bug;
    names += std::string(names.empty() ? "" : ", ") + x.name;
  }
  throw std::invalid_argument("unknown variant bug '" + s + "' (expected one of " + names + ")");
}

Outputs variant_candidate(const Problem& p, const OracleInputs& in, VariantBug bug, bool in_float32) {
  Problem run = p;  // the problem the code computes in
  if (in_float32 && p.dtype != DType::f64) run.dtype = DType::f32;
  Extras ex = in.extras;
  Tensor4<double> K = in.K, V = in.V;
  const bool shifted = bug == VariantBug::varlen_offset_off_by_one && p.variants.varlen;
  if (bug == VariantBug::alibi_slope_sign)
    for (double& s : ex.alibi_slopes) s = -s;
  if (bug == VariantBug::block_table_misindexed && p.variants.page_size) {
    const int64_t pps = pages_per_seq(p);
    for (int64_t b = 1; b < p.batch; ++b)
      for (int64_t i = 0; i < pps; ++i) ex.block_table[b * pps + i] = ex.block_table[i];
  }
  if (shifted) {
    K = wrong_offsets(p, ex, K, false);
    V = wrong_offsets(p, ex, V, false);
  }
  const ForwardResult f = variant_baseline_forward(run, ex, in.Q, K, V);
  Outputs out;
  const DType lse_type = p.dtype == DType::f64 ? DType::f64 : DType::f32;
  out.O = rounded(f.O, p.dtype);
  out.LSE = rounded(f.LSE, lse_type);
  if (!in.dO) return out;
  Problem back = run;
  if (bug == VariantBug::softcap_dropped_in_backward) back.variants.softcap.reset();
  VariantGradients g = variant_baseline_backward(back, ex, in.Q, K, V, f.O, f.LSE, *in.dO);
  if (shifted) {
    g.dK = wrong_offsets(p, ex, g.dK, true);
    g.dV = wrong_offsets(p, ex, g.dV, true);
  }
  out.dQ = rounded(g.dQ, p.dtype);
  out.dK = rounded(g.dK, p.dtype);
  out.dV = rounded(g.dV, p.dtype);
  if (p.variants.bias) out.dbias = rounded(g.dbias, p.dtype);
  if (p.variants.sinks) {
    out.dsinks = g.dsinks;
    for (double& x : *out.dsinks) x = bug == VariantBug::sink_gradient_missing ? 0.0 : round_to_dtype(x, lse_type);
  }
  return out;
}

}  // namespace flashcheck::mutants
