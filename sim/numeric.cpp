// Numeric mode: the schedules run on NumericExecutor<double> or <float>.
#include <cmath>

#include "sim/numeric_executor.hpp"
#include "sim/run_schedule.hpp"
#include "sim/simulate.hpp"

namespace flashcheck::sim {
namespace {

template <class T>
NumericForward forward_as(const Plan& plan, const Tensor4<double>& Q, const Tensor4<double>& K,
                          const Tensor4<double>& V) {
  const Problem& p = plan.problem;
  NumericExecutor<T> ex(p, plan.sram_bytes, plan.desc.splits);
  ex.counts().set_warps(plan.desc.warps);
  ex.counts().set_paging(Paging{}, dtype_bytes(p.dtype));  // the staged tiles' dtype; numeric reads unpaged
  ex.set(TensorId::Q, Q);
  ex.set(TensorId::K, K);
  ex.set(TensorId::V, V);
  run_schedule(ex, plan);
  NumericForward out{ex.get(TensorId::O), Tensor4<double>(lse_shape(p)), {}, {}, result_of(plan, ex.counts())};
  if (plan.desc.kind == ScheduleKind::flash1) {
    out.l = ex.get(TensorId::l);
    out.m = ex.get(TensorId::m);
    for (int64_t n = 0; n < out.l.size(); ++n)
      out.LSE.data()[n] = out.l.data()[n] > 0 ? out.m.data()[n] + std::log(out.l.data()[n]) : -INFINITY;
  } else {
    out.LSE = ex.get(TensorId::LSE);
  }
  return out;
}

template <class T>
NumericBackward backward_as(const Plan& plan, const Tensor4<double>& Q, const Tensor4<double>& K,
                            const Tensor4<double>& V, const Tensor4<double>& O,
                            const Tensor4<double>& LSE, const Tensor4<double>& dO,
                            const NumericForward* fwd_state) {
  const Problem& p = plan.problem;
  NumericExecutor<T> ex(p, plan.sram_bytes);
  ex.counts().set_warps(plan.desc.warps);
  ex.counts().set_paging(Paging{}, dtype_bytes(p.dtype));  // the staged tiles' dtype; numeric reads unpaged
  ex.set(TensorId::Q, Q);
  ex.set(TensorId::K, K);
  ex.set(TensorId::V, V);
  ex.set(TensorId::O, O);
  ex.set(TensorId::dO, dO);
  switch (plan.desc.kind) {
    case ScheduleKind::flash2: ex.set(TensorId::LSE, LSE); break;
    case ScheduleKind::flash1:
      if (fwd_state && fwd_state->l.size() > 0) {
        ex.set(TensorId::m, fwd_state->m);
        ex.set(TensorId::l, fwd_state->l);
      } else {
        ex.set(TensorId::m, LSE);
        ex.set(TensorId::l, Tensor4<double>(lse_shape(p), 1.0));
      }
      break;
    case ScheduleKind::standard: {
      // P as the forward leaves it in HBM (same tiles); its traffic and SRAM
      // belong to the forward, so it runs uncounted with room to spare.
      const Plan fwd = make_plan(p, ScheduleKind::standard, Direction::fwd, int64_t(1) << 40,
                                 {plan.Br(), plan.Bc()});
      NumericExecutor<T> f(p, fwd.sram_bytes);
      f.set(TensorId::Q, Q);
      f.set(TensorId::K, K);
      f.set(TensorId::V, V);
      run_schedule(f, fwd);
      ex.set(TensorId::P, f.get(TensorId::P));
      break;
    }
    case ScheduleKind::square:
    case ScheduleKind::splitkv: break;  // forward only: make_plan refused the backward plan
  }
  run_schedule(ex, plan);
  return {ex.get(TensorId::dQ), ex.get(TensorId::dK), ex.get(TensorId::dV), result_of(plan, ex.counts())};
}

void require_direction(const Plan& plan, Direction d) {
  if (plan.desc.direction != d)
    throw std::invalid_argument(std::string("numeric_") + direction_name(d) + " given a " +
                                direction_name(plan.desc.direction) + " plan");
}

}  // namespace

NumericForward numeric_forward(const Plan& plan, Precision prec, const Tensor4<double>& Q,
                               const Tensor4<double>& K, const Tensor4<double>& V) {
  require_direction(plan, Direction::fwd);
  return prec == Precision::f64 ? forward_as<double>(plan, Q, K, V) : forward_as<float>(plan, Q, K, V);
}

NumericBackward numeric_backward(const Plan& plan, Precision prec, const Tensor4<double>& Q,
                                 const Tensor4<double>& K, const Tensor4<double>& V,
                                 const Tensor4<double>& O, const Tensor4<double>& LSE,
                                 const Tensor4<double>& dO) {
  require_direction(plan, Direction::bwd);
  return prec == Precision::f64 ? backward_as<double>(plan, Q, K, V, O, LSE, dO, nullptr)
                                : backward_as<float>(plan, Q, K, V, O, LSE, dO, nullptr);
}

NumericBackward numeric_backward(const Plan& plan, Precision prec, const Tensor4<double>& Q,
                                 const Tensor4<double>& K, const Tensor4<double>& V,
                                 const NumericForward& fwd, const Tensor4<double>& dO) {
  require_direction(plan, Direction::bwd);
  return prec == Precision::f64 ? backward_as<double>(plan, Q, K, V, fwd.O, fwd.LSE, dO, &fwd)
                                : backward_as<float>(plan, Q, K, V, fwd.O, fwd.LSE, dO, &fwd);
}

}  // namespace flashcheck::sim
