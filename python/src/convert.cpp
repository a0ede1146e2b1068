#include "convert.hpp"

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace flashcheck::py {

Tensor4<double> to_tensor(const InArray& a, const Shape4& want, const char* what) {
  std::vector<int64_t> got;
  for (size_t i = 0; i < a.ndim(); ++i) got.push_back(static_cast<int64_t>(a.shape(i)));
  const bool as_lse = want.D == 1 && got.size() == 3;
  const std::vector<int64_t> expect =
      as_lse ? std::vector<int64_t>{want.B, want.H, want.N}
             : std::vector<int64_t>{want.B, want.H, want.N, want.D};
  if (got != expect) {
    std::string s = std::string(what) + ": shape (";
    for (size_t i = 0; i < got.size(); ++i) s += (i ? ", " : "") + std::to_string(got[i]);
    s += ") expected (";
    for (size_t i = 0; i < expect.size(); ++i) s += (i ? ", " : "") + std::to_string(expect[i]);
    throw std::invalid_argument(s + ")");
  }
  Tensor4<double> t(want);
  if (t.size() > 0) std::memcpy(t.data(), a.data(), sizeof(double) * static_cast<size_t>(t.size()));
  return t;
}

OutArray to_numpy(Tensor4<double> t, bool drop_d) {
  const Shape4 s = t.shape();
  auto* owned = new std::vector<double>(std::move(t.values()));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<std::vector<double>*>(p); });
  size_t shape[4] = {size_t(s.B), size_t(s.H), size_t(s.N), size_t(s.D)};
  return OutArray(owned->data(), drop_d ? 3 : 4, shape, owner);
}

}  // namespace flashcheck::py
