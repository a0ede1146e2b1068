// Fuzz target for the problem.json loader (cases::problem_from_json). Its
// contract: any JSON either gives a Problem that validates, round-trips
// through problem_to_json and can be used (describe, key ranges of the
// first and last rows), or throws std::invalid_argument naming the field.
// Anything else escaping (a JSON type error, UB in a conversion) is a bug.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "cases/case_files.hpp"

using namespace flashcheck;

namespace {
[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "problem.json fuzz invariant broken: %s\n", what);
  std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;  // not JSON: the JSON parser's job
  Problem p;
  try {
    p = cases::problem_from_json(j);
  } catch (const std::invalid_argument&) {
    return 0;  // rejected with a message: fine
  }
  p.validate();  // a loaded problem is valid (throws -> uncaught -> reported)
  (void)p.describe();
  for (int64_t q : {int64_t(0), p.seqlen_q - 1}) {
    const Range r = p.key_range(q);
    if (r.begin < 0 || r.begin > p.seqlen_k || r.end < 0 || r.end > p.seqlen_k) broken("key range out of bounds");
  }
  const Problem back = cases::problem_from_json(cases::problem_to_json(p));
  if (back.describe() != p.describe()) broken("problem_to_json -> problem_from_json changed the problem");
  return 0;
}
