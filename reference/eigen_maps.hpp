// Eigen views of one (b, h) head of a [B][H][N][d] tensor (row-major N x d).
#pragma once
#include <Eigen/Dense>
#include <cmath>

#include "reference/tensor.hpp"

namespace flashcheck {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using HeadMap = Eigen::Map<RowMatrix>;
using ConstHeadMap = Eigen::Map<const RowMatrix>;

// Element-wise std::exp. Eigen's vectorised exp clamps its argument near
// -709 and returns a denormal (~1e-308) where the true value underflows to 0
// (or is far smaller): the oracle must not invent such values.
template <class A>
auto exact_exp(const A& x) {
  return x.unaryExpr([](double v) { return std::exp(v); });
}

inline ConstHeadMap head_of(const Tensor4<double>& t, int64_t b, int64_t h) {
  return ConstHeadMap(t.head(b, h), t.shape().N, t.shape().D);
}
inline HeadMap head_of(Tensor4<double>& t, int64_t b, int64_t h) {
  return HeadMap(t.head(b, h), t.shape().N, t.shape().D);
}

}  // namespace flashcheck
