// Case files for validating an implementation that lives elsewhere (PyTorch,
// Triton, JAX, another repository): one folder per case, written by
// `flashcheck check gen`, judged by `flashcheck check verify`.
//
//   case_NNN/problem.json          the Problem, its seed, the value
//                                  distribution, the baseline's errors
//   case_NNN/{q,k,v,do}.npy        inputs in the case's dtype
//   case_NNN/ref/{o,lse,dq,dk,dv}.npy       float64 reference
//   case_NNN/baseline/{o,lse,dq,dk,dv}.npy  low-precision baseline (float64
//                                  holding the dtype's values; LSE float32)
//   candidate: {o,lse,dq,dk,dv}.npy in the case folder (or in the same
//   case_NNN folder under a separate --candidate root); o is required
//   unless the folder holds skip.txt, whose first line says why the
//   implementation declined the case (reported as skipped).
// Shapes: q, o, do, dq [B][Hq][Nq][d]; k, v, dk, dv [B][Hkv][Nk][d];
// lse [B][Hq][Nq]. bf16 is stored as '<u2' raw bits (npy.hpp).
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>

#include <nlohmann/json.hpp>

#include "reference/problem.hpp"

namespace flashcheck::gen {
struct Inputs;
}

namespace flashcheck::cases {

nlohmann::json problem_to_json(const Problem& p);
// Throws std::invalid_argument naming the missing or bad field.
Problem problem_from_json(const nlohmann::json& j);

// Writes one case folder (inputs, problem.json, ref/, baseline/) for `in`;
// `name` is recorded in problem.json. generate() and flashcheck.check (the
// shrunk counterexample) both write through it.
void write_case(const std::string& dir, const std::string& name, const gen::Inputs& in);

struct GenOptions {
  std::string out_dir;
  uint64_t seed = 1;
  int count = 24;
  int max_seqlen = 300;
  int max_head_dim = 128;
};
// Writes `count` cases; prints one line per case to log. Returns the count.
int generate(const GenOptions& o, std::ostream& log);

struct VerifyOptions {
  std::string dir;
  std::string candidate_dir;  // empty: candidates live in the case folders
};
struct VerifySummary {
  int passed = 0;
  int failed = 0;
  int skipped = 0;  // cases with a skip.txt (first line: the reason) instead of outputs
};
// Throws std::invalid_argument on bad input (missing or malformed files,
// wrong shapes, wrong dtypes). Prints per-case, per-tensor statistics.
VerifySummary verify(const VerifyOptions& o, std::ostream& out);

}  // namespace flashcheck::cases
