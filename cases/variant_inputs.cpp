// Variant inputs (variant_inputs.hpp).
#include "cases/variant_inputs.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <ostream>
#include <stdexcept>

#include "reference/baseline.hpp"

namespace flashcheck::gen {
namespace {

Tensor4<double> fill(Shape4 s, Rng& r, double amp = 1) {
  Tensor4<double> t(s);
  for (double& x : t.values()) x = amp * r.uniform();
  return t;
}

void show_vec(const char* name, const std::vector<double>& v, std::ostream& os) {
  os << " " << name << "=[";
  for (size_t i = 0; i < v.size(); ++i) os << (i ? "," : "") << v[i];
  os << "]";
}

void round_all(std::vector<double>& v, DType t) {
  for (double& x : v) x = round_to_dtype(x, t);
}

}  // namespace

void showValue(const VariantInputs& c, std::ostream& os) {
  os << c.problem.describe();
  show_vec("alibi", c.extras.alibi_slopes, os);
  show_vec("sinks", c.extras.sinks, os);
  os << " cu_q=" << c.extras.cu_seqlens_q.size() << " values, block_table=" << c.extras.block_table.size()
     << " values";
}

VariantInputs from_inputs(const Inputs& in) { return {in.problem, Extras{}, in.Q, in.K, in.V, in.dO}; }

void add_softcap(VariantInputs& c, double cap) { c.problem.variants.softcap = cap; }

void add_alibi(VariantInputs& c, uint64_t seed) {
  Rng r{seed};
  c.problem.variants.alibi = true;
  c.extras.alibi_slopes.clear();
  for (int64_t h = 0; h < c.problem.heads_q; ++h) c.extras.alibi_slopes.push_back(r.uniform01());
}

void add_sinks(VariantInputs& c, uint64_t seed) {
  Rng r{seed};
  c.problem.variants.sinks = true;
  c.extras.sinks.clear();
  for (int64_t h = 0; h < c.problem.heads_q; ++h) c.extras.sinks.push_back(3 * r.uniform());
}

void add_dropout(VariantInputs& c, double p, uint64_t seed) {
  Rng r{seed};
  c.problem.variants.dropout_p = p;
  c.extras.keep = Tensor4<uint8_t>(score_shape(c.problem));
  for (auto& k : c.extras.keep.values()) k = r.uniform01() >= p;
}

// Some entries -inf (hidden), as FlexAttention's masking through score_mod.
void add_bias(VariantInputs& c, uint64_t seed) {
  Rng r{seed};
  c.problem.variants.bias = true;
  c.extras.bias = fill(score_shape(c.problem), r, 2);
  for (double& x : c.extras.bias.values())
    if (r.uniform01() < 0.1) x = -std::numeric_limits<double>::infinity();
}

void add_bool_mask(VariantInputs& c, uint64_t seed) {
  Rng r{seed};
  c.problem.variants.bool_mask = true;
  c.extras.mask = Tensor4<uint8_t>(score_shape(c.problem));
  for (auto& k : c.extras.mask.values()) k = r.uniform01() < 0.7;
}

void make_paged(VariantInputs& c, int64_t page_size, int64_t spare, uint64_t seed) {
  Problem& p = c.problem;
  p.variants.page_size = page_size;
  const int64_t pps = pages_per_seq(p);
  p.variants.num_pages = p.batch * pps + spare;
  Rng r{seed};
  std::vector<int64_t> ids(p.variants.num_pages);
  for (int64_t i = 0; i < int64_t(ids.size()); ++i) ids[i] = i;
  for (int64_t i = int64_t(ids.size()) - 1; i > 0; --i) std::swap(ids[i], ids[r.next() % (i + 1)]);
  c.extras.block_table.assign(ids.begin(), ids.begin() + p.batch * pps);
  const Shape4 ps{p.variants.num_pages, p.heads_kv, page_size, p.head_dim};
  Tensor4<double> K = fill(ps, r), V = fill(ps, r);  // unused rows hold junk
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t hk = 0; hk < p.heads_kv; ++hk)
      for (int64_t j = 0; j < p.seqlen_k; ++j)
        for (int64_t x = 0; x < p.head_dim; ++x) {
          const int64_t page = c.extras.block_table[b * pps + j / page_size];
          K(page, hk, j % page_size, x) = c.K(b, hk, j, x);
          V(page, hk, j % page_size, x) = c.V(b, hk, j, x);
        }
  c.K = std::move(K);
  c.V = std::move(V);
}

void make_paged_shared(VariantInputs& c, int64_t page_size, int64_t num_pages, uint64_t seed) {
  Problem& p = c.problem;
  p.variants.page_size = page_size;
  p.variants.num_pages = num_pages;
  Rng r{seed};
  c.extras.block_table.resize(p.batch * pages_per_seq(p));
  for (int64_t& x : c.extras.block_table) x = int64_t(r.next() % uint64_t(num_pages));
  const Shape4 ps{num_pages, p.heads_kv, page_size, p.head_dim};
  c.K = fill(ps, r);
  c.V = fill(ps, r);
}

void make_varlen(VariantInputs& c, const std::vector<int64_t>& nq, const std::vector<int64_t>& nk) {
  Problem& p = c.problem;
  p.variants.varlen = true;
  auto cu = [](const std::vector<int64_t>& n) {
    std::vector<int64_t> s{0};
    for (int64_t x : n) s.push_back(s.back() + x);
    return s;
  };
  c.extras.cu_seqlens_q = cu(nq);
  c.extras.cu_seqlens_k = cu(nk);
  auto pack = [&](const Tensor4<double>& t, const std::vector<int64_t>& cs, const std::vector<int64_t>& n) {
    Tensor4<double> out({1, t.shape().H, cs.back(), t.shape().D});
    for (int64_t b = 0; b < p.batch; ++b)
      for (int64_t h = 0; h < t.shape().H; ++h)
        for (int64_t i = 0; i < n[b]; ++i)
          for (int64_t x = 0; x < t.shape().D; ++x) out(0, h, cs[b] + i, x) = t(b, h, i, x);
    return out;
  };
  c.Q = pack(c.Q, c.extras.cu_seqlens_q, nq);
  c.dO = pack(c.dO, c.extras.cu_seqlens_q, nq);
  c.K = pack(c.K, c.extras.cu_seqlens_k, nk);
  c.V = pack(c.V, c.extras.cu_seqlens_k, nk);
}

const std::vector<CaseVariant>& all_case_variants() {
  static const std::vector<CaseVariant> all = {CaseVariant::softcap, CaseVariant::alibi, CaseVariant::varlen,
                                               CaseVariant::paged,   CaseVariant::sinks, CaseVariant::dropout,
                                               CaseVariant::mask,    CaseVariant::bias};
  return all;
}

const char* case_variant_name(CaseVariant v) {
  switch (v) {
    case CaseVariant::softcap: return "softcap";
    case CaseVariant::alibi: return "alibi";
    case CaseVariant::varlen: return "varlen";
    case CaseVariant::paged: return "paged";
    case CaseVariant::sinks: return "sinks";
    case CaseVariant::dropout: return "dropout";
    case CaseVariant::mask: return "mask";
    case CaseVariant::bias: return "bias";
  }
  return "?";
}

CaseVariant parse_case_variant(const std::string& s) {
  for (CaseVariant v : all_case_variants())
    if (s == case_variant_name(v)) return v;
  throw std::invalid_argument("unknown variant '" + s +
                              "' (expected softcap, alibi, varlen, paged, sinks, dropout, mask, bias or all)");
}

std::vector<CaseVariant> parse_case_variants(const std::vector<std::string>& names) {
  std::vector<CaseVariant> out;
  for (const std::string& n : names) {
    const std::vector<CaseVariant> add = n == "all" ? all_case_variants() : std::vector<CaseVariant>{parse_case_variant(n)};
    for (CaseVariant v : add)
      if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  }
  return out;
}

VariantInputs with_variants(const Inputs& base, const std::vector<CaseVariant>& variants, uint64_t seed) {
  auto has = [&](CaseVariant v) { return std::find(variants.begin(), variants.end(), v) != variants.end(); };
  // Packed and paged layouts need several sequences to mean anything (an
  // offset or table row off by one sequence is invisible with one).
  const bool layout = has(CaseVariant::varlen) || has(CaseVariant::paged);
  Problem wide = base.problem;
  wide.batch = std::max<int64_t>(wide.batch, 3);
  VariantInputs c = from_inputs(layout && base.problem.batch < 3 ? make_inputs(wide, base.values) : base);
  Rng r{seed};
  if (has(CaseVariant::varlen) && has(CaseVariant::paged))
    throw std::invalid_argument("--variants: varlen and paged are written as separate cases, not combined");
  if (has(CaseVariant::softcap)) add_softcap(c, r.below(2) ? 30.0 : 5.0);
  if (has(CaseVariant::alibi)) add_alibi(c, r.next());
  if (has(CaseVariant::sinks)) add_sinks(c, r.next());
  if (has(CaseVariant::dropout)) add_dropout(c, r.below(2) ? 0.5 : 0.25, r.next());
  if (has(CaseVariant::bias)) add_bias(c, r.next());
  if (has(CaseVariant::mask)) add_bool_mask(c, r.next());
  // Slopes, sinks and bias are stored as float32: the reference sees what a kernel reads.
  round_all(c.extras.alibi_slopes, DType::f32);
  round_all(c.extras.sinks, DType::f32);
  round_all(c.extras.bias.values(), DType::f32);
  if (has(CaseVariant::paged)) {
    const int64_t sizes[] = {1, 3, 16, 64};
    make_paged(c, sizes[r.below(4)], r.below(3), r.next());
    round_to_dtype(c.K, c.problem.dtype);  // the spare pages' junk
    round_to_dtype(c.V, c.problem.dtype);
  }
  if (has(CaseVariant::varlen)) {
    auto lengths = [&](int64_t max) {
      std::vector<int64_t> n;
      for (int64_t b = 0; b < c.problem.batch; ++b) {
        const int64_t u = r.below(8);
        n.push_back(u < 2 ? max : u == 2 ? 0 : r.below(max + 1));
      }
      return n;
    };
    const std::vector<int64_t> nq = lengths(c.problem.seqlen_q), nk = lengths(c.problem.seqlen_k);
    make_varlen(c, nq, nk);
  }
  return c;
}

std::vector<CaseVariant> suite_variants(const std::vector<CaseVariant>& list, int c) {
  if (list.empty()) throw std::invalid_argument("suite_variants: no variant listed");
  const int n = static_cast<int>(list.size());
  std::vector<CaseVariant> out = {list[c % n]};
  if ((c / n) % 2 == 1)
    for (int k = 1; k < n; ++k) {
      const CaseVariant v = list[(c + k) % n];
      if (v != CaseVariant::varlen && v != CaseVariant::paged) {
        out.push_back(v);
        break;
      }
    }
  return out;
}

uint64_t variant_seed(const Inputs& base) { return base.values.seed ^ 0x76617269616e7473ULL; }

}  // namespace flashcheck::gen
