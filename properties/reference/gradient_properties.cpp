// The reference backward against central finite differences of the scalar
// loss L(Q, K, V) = <dO, O(Q, K, V)>, whose gradients are exactly dQ, dK, dV.
//
// Stencil: the fourth-order central difference
//   dL/dx ~ (-L(x+2h) + 8 L(x+h) - 8 L(x-h) + L(x-2h)) / 12h,
// with h = 2^-10, scaled down so one step moves any logit by at most ~2^-10
// (step_for): truncation error O(h^4 * fifth derivative) ~ 1e-12 and
// rounding error ~ 1e-16 |L| / h, so a relative error of 1e-6 is far above
// the noise and far below any real bug.
// Because the step follows the logits' sensitivity, large-logit inputs
// (up to ~1e4) are checked too.
#include <catch2/catch.hpp>
#include <rapidcheck.h>

#include "cases/generators.hpp"
#include "properties/prop.hpp"
#include "properties/reference/support.hpp"

namespace flashcheck {
namespace {

constexpr double kStep = 0x1p-10;
constexpr double kMaxRelErr = 1e-6;

long double loss(const gen::Inputs& in) {
  const auto f = reference_forward(in.problem, in.Q, in.K, in.V);
  long double l = 0;
  for (int64_t i = 0; i < f.O.size(); ++i) l += (long double)in.dO.values()[i] * f.O.values()[i];
  return l;
}

// Finite-difference gradient of the loss with respect to one input tensor,
// with step h (a power of two, so x +- h and x +- 2h are exact).
Tensor4<double> finite_difference(gen::Inputs in, Tensor4<double> gen::Inputs::*x, double h) {
  Tensor4<double> grad((in.*x).shape());
  for (int64_t i = 0; i < grad.size(); ++i) {
    double& v = (in.*x).values()[i];
    const double v0 = v;
    long double l[4];
    const double steps[4] = {2, 1, -1, -2};
    for (int s = 0; s < 4; ++s) {
      v = v0 + steps[s] * h;
      l[s] = loss(in);
    }
    v = v0;
    grad.values()[i] = static_cast<double>((-l[0] + 8 * l[1] - 8 * l[2] + l[3]) / (12 * h));
  }
  return grad;
}

// The step for Q (K): kStep divided by how fast a logit moves per unit of a
// Q (K) element, scale * max|K| (scale * max|Q|), rounded down to a power of
// two, so every stencil moves the logits by at most ~2 kStep whatever the
// inputs' size. The loss is linear in V: any step is exact there.
double step_for(double scale, double partner_max) {
  const double h = kStep / std::max(1.0, scale * partner_max);
  return std::ldexp(1.0, std::ilogb(h));
}

gen::ShapeLimits fd_limits() {
  gen::ShapeLimits l;
  l.max_batch = 2;
  l.max_heads_kv = 2;
  l.max_group = 2;
  l.max_seqlen = 9;
  l.max_head_dim = 5;
  l.tile_edges = {4};
  l.max_work = 1500;
  return l;
}

TEST_CASE("reference backward: finite differences") {
  prop("dQ, dK, dV equal central finite differences of <dO, O(Q, K, V)> (rel err <= 1e-6)", [] {
    const auto in = *gen::inputs(fd_limits(), {gen::Values::normal, gen::Values::uniform, gen::Values::large_logits,
                                               gen::Values::dominant_key});
    const auto r = support::run_reference(in);
    const double G = std::max({support::max_abs(r.grad.dQ), support::max_abs(r.grad.dK),
                               support::max_abs(r.grad.dV)});
    const double scale = in.problem.softmax_scale();
    struct Wrt {
      const char* name;
      const Tensor4<double>* analytic;
      Tensor4<double> gen::Inputs::*input;
      double h;
    };
    const Wrt wrt[] = {{"dQ", &r.grad.dQ, &gen::Inputs::Q, step_for(scale, support::max_abs(in.K))},
                       {"dK", &r.grad.dK, &gen::Inputs::K, step_for(scale, support::max_abs(in.Q))},
                       {"dV", &r.grad.dV, &gen::Inputs::V, kStep}};
    for (const Wrt& w : wrt) {
      const Tensor4<double>& analytic = *w.analytic;
      const Tensor4<double> fd = finite_difference(in, w.input, w.h);
      // Relative to the tensor's own size, but never below 1e-3 of the largest
      // gradient: a tensor that is nearly 0 is still checked to 1e-9 of G.
      const double denom = std::max({support::max_abs(analytic), 1e-3 * G, 1e-12});
      const double rel = support::max_abs_diff(fd, analytic) / denom;
      RC_LOG() << w.name << ": max|fd - analytic| / scale = " << rel << " (h = " << w.h << ")\n";
      RC_ASSERT(rel <= kMaxRelErr);
    }
  });
}

}  // namespace
}  // namespace flashcheck
