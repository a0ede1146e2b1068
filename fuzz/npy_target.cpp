// Fuzz target for the .npy reader (reference/npy.hpp). The reader's contract:
// any byte string either parses or throws NpyError, never reads outside the
// buffer, and what parses survives serialise -> parse unchanged. Built as a
// libFuzzer target with clang (fuzz/run_fuzz.sh) and, with replay_main.cpp,
// as a plain program CI uses to replay the corpus and past crashes.
#include <cstdint>
#include <cstdlib>
#include <cstdio>

#include "reference/npy.hpp"

using namespace flashcheck;

namespace {
[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "npy fuzz invariant broken: %s\n", what);
  std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  NpyArray a;
  try {
    a = parse_npy(data, size, "fuzz.npy");
  } catch (const NpyError&) {
    return 0;  // rejected with the documented error: fine
  }
  // Every dtype decode either works or throws NpyError (wrong descr).
  for (DType t : {DType::f64, DType::f32, DType::f16, DType::bf16}) {
    try {
      const std::vector<double> v = npy_to_doubles(a, t, "fuzz.npy");
      if (static_cast<int64_t>(v.size()) != a.elements()) broken("decoded count != shape's count");
    } catch (const NpyError&) {
    }
  }
  const std::string s = serialize_npy(a);
  NpyArray b;
  try {
    b = parse_npy(reinterpret_cast<const uint8_t*>(s.data()), s.size(), "roundtrip.npy");
  } catch (const NpyError&) {
    broken("a parsed array does not parse after serialize_npy");
  }
  if (b.descr != a.descr || b.shape != a.shape || b.bytes != a.bytes) broken("round trip changed the array");
  return 0;
}
