// Every gradient of the variant reference (dQ, dK, dV, dbias, dsinks)
// against central finite differences of L = <dO, O>, one property per
// variant (that variant forced on, the other score variants drawn), with the
// stencil and step rule of gradient_properties.cpp: fourth-order central
// difference, h = 2^-10 divided by the logits' sensitivity (bias and sink
// logits move one for one), relative error <= 1e-6.
#include <catch2/catch.hpp>
#include <rapidcheck.h>

#include <functional>

#include "properties/prop.hpp"
#include "properties/reference/variant_support.hpp"

namespace flashcheck {
namespace {

using vsupport::Case;
constexpr double kStep = 0x1p-10;
constexpr double kMaxRelErr = 1e-6;

long double loss(const Case& c) {
  const auto f = variant_forward(c.problem, c.extras, c.Q, c.K, c.V);
  long double l = 0;
  for (int64_t i = 0; i < f.O.size(); ++i) l += (long double)c.dO.values()[i] * f.O.values()[i];
  return l;
}

using Param = std::function<std::vector<double>&(Case&)>;

std::vector<double> finite_difference(Case c, const Param& x, double h) {
  std::vector<double> grad(x(c).size());
  for (size_t i = 0; i < grad.size(); ++i) {
    double& v = x(c)[i];
    const double v0 = v;
    long double l[4];
    const double steps[4] = {2, 1, -1, -2};
    for (int s = 0; s < 4; ++s) {
      v = v0 + steps[s] * h;
      l[s] = loss(c);
    }
    v = v0;
    grad[i] = static_cast<double>((-l[0] + 8 * l[1] - 8 * l[2] + l[3]) / (12 * h));
  }
  return grad;
}

double step_for(double scale, double partner_max) {
  const double h = kStep / std::max(1.0, scale * partner_max);
  return std::ldexp(1.0, std::ilogb(h));
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v)
    if (std::isfinite(x)) m = std::max(m, std::fabs(x));
  return m;
}

gen::ShapeLimits fd_limits() {
  gen::ShapeLimits l;
  l.max_batch = 2;
  l.max_heads_kv = 2;
  l.max_group = 2;
  l.max_seqlen = 7;
  l.max_head_dim = 4;
  l.tile_edges = {4};
  l.max_work = 600;
  return l;
}

// Checks every gradient of the case; logs the relative errors.
void check_gradients(const Case& c) {
  const auto r = vsupport::run(c);
  const double scale = c.problem.softmax_scale();
  struct Wrt {
    const char* name;
    std::vector<double> analytic;
    Param input;
    double h;
  };
  std::vector<Wrt> wrt = {
      {"dQ", r.grad.dQ.values(), [](Case& x) -> std::vector<double>& { return x.Q.values(); },
       step_for(scale, support::max_abs(c.K))},
      {"dK", r.grad.dK.values(), [](Case& x) -> std::vector<double>& { return x.K.values(); },
       step_for(scale, support::max_abs(c.Q))},
      {"dV", r.grad.dV.values(), [](Case& x) -> std::vector<double>& { return x.V.values(); }, kStep}};
  if (c.problem.variants.bias)
    wrt.push_back({"dbias", r.grad.dbias.values(),
                   [](Case& x) -> std::vector<double>& { return x.extras.bias.values(); }, kStep});
  if (c.problem.variants.sinks)
    wrt.push_back({"dsinks", r.grad.dsinks,
                   [](Case& x) -> std::vector<double>& { return x.extras.sinks; }, kStep});
  double G = 1e-12;
  for (const Wrt& w : wrt) G = std::max(G, max_abs(w.analytic));
  for (const Wrt& w : wrt) {
    const std::vector<double> fd = finite_difference(c, w.input, w.h);
    const double denom = std::max({max_abs(w.analytic), 1e-3 * G, 1e-12});
    const double rel = vsupport::max_abs_diff(fd, w.analytic) / denom;
    RC_LOG() << w.name << ": max|fd - analytic| / scale = " << rel << " (h = " << w.h << ")\n";
    RC_ASSERT(rel <= kMaxRelErr);
  }
}

const std::vector<gen::Values> kKinds = {gen::Values::normal, gen::Values::uniform,
                                         gen::Values::large_logits, gen::Values::dominant_key};

Case draw_case(unsigned forced) {
  Case c = vsupport::from_inputs(*gen::inputs(fd_limits(), kKinds));
  vsupport::draw_score_variants(c, forced);
  return c;
}

TEST_CASE("variant reference backward: finite differences") {
  const std::pair<const char*, unsigned> score[] = {
      {"softcap", vsupport::softcap}, {"alibi", vsupport::alibi},     {"sinks", vsupport::sinks},
      {"dropout", vsupport::dropout}, {"bias", vsupport::bias},       {"mask", vsupport::mask}};
  for (const auto& s : score) {
    const unsigned forced = s.second;
    prop(std::string(s.first) + ": dQ, dK, dV, dbias, dsinks equal finite differences (rel err <= 1e-6)",
         [forced] { check_gradients(draw_case(forced)); });
  }
  prop("varlen: gradients of packed sequences (lengths 0..max) equal finite differences", [] {
    Case c = draw_case(0);
    const auto nq = vsupport::draw_lengths(c.problem.batch, c.problem.seqlen_q);
    const auto nk = vsupport::draw_lengths(c.problem.batch, c.problem.seqlen_k);
    vsupport::make_varlen(c, nq, nk);
    check_gradients(c);
  });
  prop("seqlen_k = 0: no key to attend to, every gradient (dQ, dbias, dsinks) equals finite differences", [] {
    Case c = vsupport::from_inputs(*gen::inputs(fd_limits(), kKinds));
    c.problem.seqlen_k = 0;
    c.problem.variants.allow_empty = true;
    c.K = Tensor4<double>(kv_shape(c.problem));
    c.V = c.K;
    vsupport::draw_score_variants(c, 0);
    check_gradients(c);
  });
  prop("paged: gradients with shared pages (dK, dV summed per page) equal finite differences", [] {
    Case c = draw_case(0);
    const int64_t ps = *gen::pick<int64_t>({1, 2, 3, 4, 8});
    const int64_t pages = *rc::gen::inRange<int64_t>(1, 6);
    vsupport::make_paged_shared(c, ps, pages, *rc::gen::arbitrary<uint64_t>());
    check_gradients(c);
  });
}

}  // namespace
}  // namespace flashcheck
