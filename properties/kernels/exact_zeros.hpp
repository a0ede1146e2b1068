// The exact-zero convention, checked on its own (no CUDA here, so the check
// itself can be shown to fail on a planted bug): a query row that sees no
// key has O = 0, LSE = -inf and dQ = 0; a key that no query sees has
// dK = 0 and dV = 0. Exact, not within a bound: no arithmetic touches these
// elements in a correct kernel, so anything else is a value that leaked in
// (stale memory, a mean of V, a NaN from 0/0, a wrong mask).
// The accuracy rule demands the same where the allowance is 0 (reference/
// accuracy.hpp); this states it per row and key, readably, and counts how
// many such rows and keys a case had so a test can refuse to pass vacuously.
#pragma once
#include <cstdint>
#include <string>

#include "reference/oracle.hpp"

namespace flashcheck::gputest {

struct ExactZeroReport {
  int64_t empty_rows = 0;    // (b, h, q) rows that see no key
  int64_t unseen_keys = 0;   // (b, hkv, k) keys that no query of the group sees
  int64_t violations = 0;    // elements that are not exactly 0 (or -inf for LSE)
  std::string first;         // the first few violations, one per line
  bool pass() const { return violations == 0; }
};

// Checks the tensors present in out (O, LSE, dQ, dK, dV; absent ones are
// skipped). -0.0 counts as zero. Throws std::invalid_argument for a tensor
// whose size does not match the problem.
ExactZeroReport check_exact_zeros(const Problem& p, const Outputs& out);

}  // namespace flashcheck::gputest
