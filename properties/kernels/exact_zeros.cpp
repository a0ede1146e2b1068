// Exact zeros of rows that see no key and keys no query sees (exact_zeros.hpp).
#include "properties/kernels/exact_zeros.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace flashcheck::gputest {
namespace {

constexpr int kListed = 5;  // violations spelled out in ExactZeroReport::first

void require_size(const std::optional<Tensor4<double>>& t, Shape4 s, const char* name) {
  if (t && !(t->shape() == s))
    throw std::invalid_argument(std::string("check_exact_zeros: ") + name +
                                " does not have the problem's shape");
}

void note(ExactZeroReport& r, const char* tensor, int64_t b, int64_t h, int64_t n, int64_t i,
          double x, const char* want) {
  if (r.violations++ >= kListed) return;
  r.first += std::string(tensor) + "[b=" + std::to_string(b) + ", h=" + std::to_string(h) +
             ", n=" + std::to_string(n) + ", i=" + std::to_string(i) + "] = " +
             format_number(x) + ", want " + want + "\n";
}

// Every element of row (b, h, n) of t must be exactly zero.
void zero_row(ExactZeroReport& r, const std::optional<Tensor4<double>>& t, const char* name,
              int64_t b, int64_t h, int64_t n) {
  if (!t) return;
  for (int64_t i = 0; i < t->shape().D; ++i) {
    const double x = (*t)(b, h, n, i);
    if (x != 0.0) note(r, name, b, h, n, i, x, "0");
  }
}

}  // namespace

ExactZeroReport check_exact_zeros(const Problem& p, const Outputs& out) {
  require_size(out.O, q_shape(p), "O");
  require_size(out.dQ, q_shape(p), "dQ");
  require_size(out.LSE, lse_shape(p), "LSE");
  require_size(out.dK, kv_shape(p), "dK");
  require_size(out.dV, kv_shape(p), "dV");
  ExactZeroReport r;
  const double minus_inf = -std::numeric_limits<double>::infinity();
  for (int64_t q = 0; q < p.seqlen_q; ++q) {
    if (!p.key_range(q).empty()) continue;
    for (int64_t b = 0; b < p.batch; ++b)
      for (int64_t h = 0; h < p.heads_q; ++h) {
        ++r.empty_rows;
        zero_row(r, out.O, "O", b, h, q);
        zero_row(r, out.dQ, "dQ", b, h, q);
        if (out.LSE && (*out.LSE)(b, h, q) != minus_inf)
          note(r, "LSE", b, h, q, 0, (*out.LSE)(b, h, q), "-inf");
      }
  }
  // The mask is the same for every head, so a key no query row sees is
  // unseen by the whole group of its KV head.
  for (int64_t k = 0; k < p.seqlen_k; ++k) {
    if (!p.mask.query_range(k, p.seqlen_q, p.seqlen_k).empty()) continue;
    for (int64_t b = 0; b < p.batch; ++b)
      for (int64_t h = 0; h < p.heads_kv; ++h) {
        ++r.unseen_keys;
        zero_row(r, out.dK, "dK", b, h, k);
        zero_row(r, out.dV, "dV", b, h, k);
      }
  }
  if (r.violations > kListed)
    r.first += "... " + std::to_string(r.violations - kListed) + " more\n";
  return r;
}

}  // namespace flashcheck::gputest
