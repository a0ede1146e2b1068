// Contiguous [B][H][N][d] tensors on the host. LSE and D use d = 1.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "reference/problem.hpp"

namespace flashcheck {

struct Shape4 {
  int64_t B = 0, H = 0, N = 0, D = 0;
  int64_t size() const { return B * H * N * D; }
  bool operator==(const Shape4& o) const { return B == o.B && H == o.H && N == o.N && D == o.D; }
  bool operator!=(const Shape4& o) const { return !(*this == o); }
  std::string str() const;
};

// Shapes of the tensors of a problem.
inline Shape4 q_shape(const Problem& p) { return {p.batch, p.heads_q, p.seqlen_q, p.head_dim}; }
inline Shape4 kv_shape(const Problem& p) { return {p.batch, p.heads_kv, p.seqlen_k, p.head_dim}; }
inline Shape4 lse_shape(const Problem& p) { return {p.batch, p.heads_q, p.seqlen_q, 1}; }

template <class T>
class Tensor4 {
 public:
  Tensor4() = default;
  explicit Tensor4(Shape4 s, T fill = T(0)) : shape_(checked(s)), data_(static_cast<size_t>(s.size()), fill) {}

  const Shape4& shape() const { return shape_; }
  int64_t size() const { return static_cast<int64_t>(data_.size()); }
  int64_t offset(int64_t b, int64_t h, int64_t n, int64_t i) const {
    return ((b * shape_.H + h) * shape_.N + n) * shape_.D + i;
  }
  T& operator()(int64_t b, int64_t h, int64_t n, int64_t i = 0) { return data_[offset(b, h, n, i)]; }
  const T& operator()(int64_t b, int64_t h, int64_t n, int64_t i = 0) const {
    return data_[offset(b, h, n, i)];
  }
  // First element of the (b, h) matrix of N x D values.
  T* head(int64_t b, int64_t h) { return data_.data() + offset(b, h, 0, 0); }
  const T* head(int64_t b, int64_t h) const { return data_.data() + offset(b, h, 0, 0); }
  T* data() { return data_.data(); }
  const T* data() const { return data_.data(); }
  std::vector<T>& values() { return data_; }
  const std::vector<T>& values() const { return data_; }

 private:
  static Shape4 checked(Shape4 s) {
    if (s.B < 0 || s.H < 0 || s.N < 0 || s.D < 0)
      throw std::invalid_argument("Tensor4: negative shape " + s.str());
    return s;
  }
  Shape4 shape_;
  std::vector<T> data_;
};

// Throws std::invalid_argument "<what>: shape [..] expected [..]" on mismatch.
void require_shape(const Shape4& got, const Shape4& want, const char* what);
// Validates the problem, then the shapes of Q, K and V against it.
void require_qkv(const Problem& p, const Tensor4<double>& Q, const Tensor4<double>& K,
                 const Tensor4<double>& V);

}  // namespace flashcheck
