// Checked int64 arithmetic for every byte, element and FLOP count of the
// simulator: a count that would leave int64 is an OverflowError naming the
// quantity (the CLI turns it into a one-line error and exit code 2), never a
// wrapped number.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace flashcheck::sim {

// An input too large to count: std::invalid_argument, so every face treats it
// as bad input (the CLI: exit code 2).
class OverflowError : public std::invalid_argument {
 public:
  explicit OverflowError(const std::string& what)
      : std::invalid_argument(what + " overflows int64 (more than 9.2e18): too large to count "
                                   "exactly; reduce batch, heads or sequence length") {}
};

inline int64_t checked_mul(int64_t a, int64_t b, const char* what) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) throw OverflowError(what);
  return r;
}
inline int64_t checked_add(int64_t a, int64_t b, const char* what) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) throw OverflowError(what);
  return r;
}
inline int64_t checked_mul(int64_t a, int64_t b, int64_t c, const char* what) {
  return checked_mul(checked_mul(a, b, what), c, what);
}

}  // namespace flashcheck::sim
