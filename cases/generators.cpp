// Generators and printers shared by every property suite (see generators.hpp).
#include "cases/generators.hpp"

#include <algorithm>
#include <cmath>
#include <ostream>
#include <stdexcept>

#include "reference/baseline.hpp"

namespace flashcheck {

void showValue(DType t, std::ostream& os) { os << dtype_name(t); }
void showValue(MaskKind k, std::ostream& os) { os << mask_kind_name(k); }
void showValue(const Mask& m, std::ostream& os) { os << m.describe(); }
void showValue(const Problem& p, std::ostream& os) {
  os << p.describe() << (p.scale ? "" : " (default scale)");
}

void showValue(const Tensor4<double>& t, std::ostream& os) {
  constexpr int64_t kPrintLimit = 64;  // beyond this a dump hides the problem line
  os << t.shape().str();
  if (t.size() > kPrintLimit) {
    os << " (" << t.size() << " values, not shown)";
    return;
  }
  const auto old = os.precision(17);  // round-trips a double
  os << " {";
  for (int64_t i = 0; i < t.size(); ++i) os << (i ? ", " : "") << t.values()[i];
  os << "}";
  os.precision(old);
}

namespace gen {
namespace {

// Keep only values in [1, max], sorted, unique.
std::vector<int64_t> in_range(std::vector<int64_t> v, int64_t max) {
  v.erase(std::remove_if(v.begin(), v.end(), [max](int64_t x) { return x < 1 || x > max; }),
          v.end());
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

void require(bool ok, const char* what) {
  if (!ok) throw std::invalid_argument(std::string("generator limits: ") + what);
}


void fill(Tensor4<double>& t, Rng& rng, bool uniform, double scale) {
  for (double& x : t.values()) x = scale * (uniform ? rng.uniform() : rng.normal());
}

// dominant_key: query row i moves towards one visible key j so its scaled
// logit with j is about kGap above its logits with the others (less when
// k_j is unusually short; see below).
// 8 logits make P ~ 0.9997 for a short row: saturated enough to stress
// cancellation in dS = P (dP - D), not so saturated that dQ, dK vanish
// below what any dtype can resolve (the checks stay informative).
constexpr double kGap = 8;

void make_dominant(const Problem& p, Inputs& in, Rng& rng) {
  const double scale = p.softmax_scale();
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.heads_q; ++h)
      for (int64_t i = 0; i < p.seqlen_q; ++i) {
        const Range keys = p.key_range(i);
        if (keys.empty()) continue;
        const int64_t j = keys.begin + rng.below(keys.size());
        const int64_t hk = p.kv_head_of(h);
        double norm2 = 0;
        for (int64_t c = 0; c < p.head_dim; ++c) norm2 += in.K(b, hk, j, c) * in.K(b, hk, j, c);
        // A key of tiny norm would need a huge alpha (and overflow fp16):
        // below a quarter of its expected norm^2 (d), the gap shrinks instead,
        // which keeps |alpha k_j| <= 2 kGap / (scale sqrt(d)).
        const double alpha = kGap / (scale * std::max(norm2, 0.25 * static_cast<double>(p.head_dim)));
        for (int64_t c = 0; c < p.head_dim; ++c) in.Q(b, h, i, c) += alpha * in.K(b, hk, j, c);
      }
}

}  // namespace

ShapeLimits tiled_limits(const std::vector<int64_t>& block_sizes, int64_t max_seqlen,
                         std::vector<int64_t> head_dims, std::vector<DType> dtypes) {
  ShapeLimits l;
  l.tile_edges = block_sizes;
  l.max_seqlen = max_seqlen;
  l.head_dims = std::move(head_dims);
  if (!l.head_dims.empty()) l.max_head_dim = *std::max_element(l.head_dims.begin(), l.head_dims.end());
  l.dtypes = std::move(dtypes);
  l.max_work = std::max<int64_t>(l.max_work, max_seqlen * max_seqlen * l.max_head_dim);
  return l;
}

rc::Gen<int64_t> length(int64_t max, std::vector<int64_t> tile_edges) {
  require(max >= 1, "max length must be >= 1");
  std::vector<int64_t> edges = {1, 2, 3, max};
  for (int64_t B : tile_edges)
    for (int64_t v : {B - 1, B, B + 1, 2 * B - 1, 2 * B + 1}) edges.push_back(v);
  edges = in_range(edges, max);
  return weighted<int64_t>({
      {2, rc::gen::inRange<int64_t>(1, std::min<int64_t>(max, 9) + 1)},  // small, shrinks to 1
      {3, pick(edges)},                                    // tile edges
      {2, rc::gen::inRange<int64_t>(1, max + 1)},                        // anywhere
  });
}

rc::Gen<std::pair<int64_t, int64_t>> lengths(int64_t max, std::vector<int64_t> tile_edges) {
  const auto one = length(max, tile_edges);
  return weighted<std::pair<int64_t, int64_t>>({
      {1, rc::gen::map(one, [](int64_t n) { return std::make_pair(n, n); })},
      {3, rc::gen::pair(one, one)},
  });
}

rc::Gen<int64_t> head_dim(int64_t max, std::vector<int64_t> allowed) {
  require(max >= 1, "max head_dim must be >= 1");
  if (!allowed.empty()) {
    allowed = in_range(allowed, max);
    require(!allowed.empty(), "no allowed head_dim <= max_head_dim");
    return pick(allowed);
  }
  const auto lean = in_range({1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 59, 64, 111, 128}, max);
  return weighted<int64_t>({
      {3, pick(lean)},
      {1, rc::gen::inRange<int64_t>(1, max + 1)},
  });
}

rc::Gen<Mask> mask(std::vector<MaskKind> kinds, int64_t sq, int64_t sk) {
  require(!kinds.empty(), "no mask kinds");
  std::sort(kinds.begin(), kinds.end());  // none first: shrinks towards no mask
  const int64_t past = sq + sk + 2;        // a window this wide is unbounded
  const auto side = weighted<int64_t>({
      {2, pick(std::vector<int64_t>{0, 1})},
      {2, rc::gen::inRange<int64_t>(0, std::min<int64_t>(past, 5))},
      {2, rc::gen::inRange<int64_t>(0, past + 1)},
  });
  return rc::gen::mapcat(pick(kinds), [side](MaskKind k) -> rc::Gen<Mask> {
    if (k != MaskKind::sliding_window) return rc::gen::just(Mask{k, 0, 0});
    return rc::gen::map(rc::gen::pair(side, side), [](const std::pair<int64_t, int64_t>& lr) {
      return Mask::sliding_window(lr.first, lr.second);
    });
  });
}

rc::Gen<DType> dtype(std::vector<DType> dtypes) {
  require(!dtypes.empty(), "no dtypes");
  return pick(dtypes);
}

rc::Gen<Problem> problem(ShapeLimits l) {
  require(l.max_batch >= 1 && l.max_heads_kv >= 1 && l.max_group >= 1, "batch/heads maxima >= 1");
  const auto shape = rc::gen::pair(lengths(l.max_seqlen, l.tile_edges),
                                   head_dim(l.max_head_dim, l.head_dims));
  using Shape = std::pair<std::pair<int64_t, int64_t>, int64_t>;
  return rc::gen::mapcat(shape, [l](const Shape& s) -> rc::Gen<Problem> {
    const int64_t sq = s.first.first, sk = s.first.second, d = s.second;
    const auto scale = l.explicit_scale
                           ? weighted<std::optional<double>>({
                                 {4, rc::gen::just(std::optional<double>())},
                                 {1, pick(std::vector<std::optional<double>>{
                                         0.5, 1.0, 2.0})},
                             })
                           : rc::gen::just(std::optional<double>());
    return rc::gen::apply(
        [l, sq, sk, d](int64_t batch, int64_t heads_kv, int64_t group, Mask m, DType t,
                       std::optional<double> sc) {
          // Fit under max_work by reducing batch, then group, then heads_kv.
          const int64_t per_head = sq * sk * d;
          auto work = [&] { return batch * heads_kv * group * per_head; };
          while (work() > l.max_work && batch > 1) --batch;
          while (work() > l.max_work && group > 1) --group;
          while (work() > l.max_work && heads_kv > 1) --heads_kv;
          Problem p;
          p.batch = batch;
          p.heads_kv = heads_kv;
          p.heads_q = heads_kv * group;
          p.seqlen_q = sq;
          p.seqlen_k = sk;
          p.head_dim = d;
          p.scale = sc;
          p.mask = m;
          p.dtype = t;
          return p;
        },
        rc::gen::inRange<int64_t>(1, l.max_batch + 1),
        rc::gen::inRange<int64_t>(1, l.max_heads_kv + 1),
        rc::gen::inRange<int64_t>(1, l.max_group + 1), mask(l.mask_kinds, sq, sk),
        dtype(l.dtypes), scale);
  });
}

const char* values_name(Values v) {
  switch (v) {
    case Values::normal: return "normal";
    case Values::uniform: return "uniform";
    case Values::large_logits: return "large_logits";
    case Values::dominant_key: return "dominant_key";
    case Values::positive: return "positive";
  }
  return "?";
}

void showValue(Values v, std::ostream& os) { os << values_name(v); }

void showValue(const ValueSpec& v, std::ostream& os) {
  os << values_name(v.kind);
  if (v.kind == Values::large_logits) os << " magnitude=" << v.magnitude;
  os << " seed=" << v.seed;
}

void showValue(const Inputs& in, std::ostream& os) {
  os << "problem: ";
  showValue(in.problem, os);
  os << "\nvalues:  ";
  showValue(in.values, os);
  os << "  (rebuild: gen::make_inputs(problem, values))";
  const std::pair<const char*, const Tensor4<double>*> tensors[] = {
      {"Q", &in.Q}, {"K", &in.K}, {"V", &in.V}, {"dO", &in.dO}};
  for (const auto& t : tensors) {
    os << "\n" << t.first << " ";
    showValue(*t.second, os);
  }
}

rc::Gen<ValueSpec> value_spec(std::vector<Values> kinds) {
  require(!kinds.empty(), "no value kinds");
  std::sort(kinds.begin(), kinds.end());  // normal first: shrinks towards it
  return rc::gen::apply(
      [](Values k, double magnitude, uint64_t seed) {
        return ValueSpec{k, k == Values::large_logits ? magnitude : 1.0, seed};
      },
      pick(kinds), pick(std::vector<double>{10, 30, 300, 3000, 1e4}),
      rc::gen::arbitrary<uint64_t>());
}

Inputs make_inputs(const Problem& p, const ValueSpec& v) {
  p.validate();
  Inputs in{p, v, Tensor4<double>(q_shape(p)), Tensor4<double>(kv_shape(p)),
            Tensor4<double>(kv_shape(p)), Tensor4<double>(q_shape(p))};
  Rng rng{v.seed};
  const bool uniform = v.kind == Values::uniform || v.kind == Values::positive;
  double qk = 1;  // standard deviation of Q and K entries
  if (v.kind == Values::large_logits) {
    // |scale * q.k| has standard deviation scale * qk^2 * sqrt(d).
    const double magnitude = p.dtype == DType::f16 ? std::min(v.magnitude, 1e3) : v.magnitude;
    qk = std::sqrt(magnitude / (p.softmax_scale() * std::sqrt(static_cast<double>(p.head_dim))));
  }
  fill(in.Q, rng, uniform, qk);
  fill(in.K, rng, uniform, qk);
  fill(in.V, rng, uniform, 1);
  fill(in.dO, rng, uniform, 1);
  if (v.kind == Values::positive)  // V, dO in [0, 1): sums grow, rounding does not cancel
    for (Tensor4<double>* t : {&in.V, &in.dO})
      for (double& x : t->values()) x = rng.uniform01();
  if (v.kind == Values::dominant_key) make_dominant(p, in, rng);
  for (Tensor4<double>* t : {&in.Q, &in.K, &in.V, &in.dO}) round_to_dtype(*t, p.dtype);
  return in;
}

double max_scaled_score(const Inputs& in) {
  const Problem& p = in.problem;
  double m = 0;
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.heads_q; ++h)
      for (int64_t i = 0; i < p.seqlen_q; ++i)
        for (int64_t j = 0; j < p.seqlen_k; ++j) {
          double s = 0;
          for (int64_t c = 0; c < p.head_dim; ++c) s += in.Q(b, h, i, c) * in.K(b, p.kv_head_of(h), j, c);
          m = std::max(m, std::fabs(s * p.softmax_scale()));
        }
  return m;
}

rc::Gen<Inputs> inputs(ShapeLimits limits, std::vector<Values> kinds) {
  return rc::gen::apply(make_inputs, problem(std::move(limits)), value_spec(std::move(kinds)));
}

}  // namespace gen
}  // namespace flashcheck
