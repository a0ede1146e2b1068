// Case files for validating an implementation that lives elsewhere (PyTorch,
// Triton, JAX, another repository): one folder per case, written by
// `flashcheck check gen`, judged by `flashcheck check verify`.
//
//   suite.json                     the command, the seed, the case names
//   case_NNN/problem.json          the Problem, its seed, the value
//                                  distribution, the baseline's errors
//   case_NNN/{q,k,v,do}.npy        inputs in the case's dtype
//   case_NNN/ref/{o,lse,dq,dk,dv}.npy       float64 reference (informative:
//                                  verify recomputes it from the inputs)
//   case_NNN/baseline/{o,lse,dq,dk,dv}.npy  standard attention in the dtype,
//                                  written as a candidate would (LSE float32)
//   case_NNN/<extra>.npy           --variants: the variants' tensors, named
//                                  in problem.json (cases/variant_files.hpp)
//   candidate: {o,lse,dq,dk,dv}.npy in the case folder (and dbias.npy,
//   dsinks.npy where the case has a bias / sinks) (or in the same
//   case_NNN folder under a separate --candidate root); every output is
//   required unless VerifyOptions::outputs narrows the set, or the folder
//   holds skip.txt, whose first line says why the implementation declined
//   the case (reported as skipped).
// Shapes: q, o, do, dq [B][Hq][Nq][d]; k, v, dk, dv [B][Hkv][Nk][d];
// lse [B][Hq][Nq]; with variants the layouts of reference/variants.hpp
// (varlen: [1][H][total][d]; paged K/V: [num_pages][Hkv][page_size][d]),
// dbias [B][Hq][Nq][Nk], dsinks [Hq]. Every file holds the case's dtype (bf16 as '<u2' raw
// bits, npy.hpp); lse may also be float32, as kernels store it.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cases/generators.hpp"
#include "cases/variant_inputs.hpp"
#include "reference/accuracy.hpp"
#include "reference/oracle.hpp"
#include "reference/problem.hpp"

namespace flashcheck::cases {

nlohmann::json problem_to_json(const Problem& p);
// Reads what problem_to_json writes; also the entries of a --spec file:
// seqlen_q, seqlen_k, head_dim and dtype are required; batch, heads_q
// (default 1), heads_kv (default heads_q), scale (default 1/sqrt(d)) and
// mask (default none; an object as written, or a string such as "causal"
// or "window:3:0") are optional. Integers must be JSON integers of at most
// 2^62. Throws std::invalid_argument naming the missing or bad field.
Problem problem_from_json(const nlohmann::json& j);

// Writes one case folder (inputs, problem.json, ref/, baseline/) for `in`;
// `name` is recorded in problem.json. generate() and flashcheck.check (the
// shrunk counterexample) both write through it.
void write_case(const std::string& dir, const std::string& name, const gen::Inputs& in);
// A case with variants: their fields in problem.json ("variants"), their
// tensors as .npy files it names ("extras"; cases/variant_files.hpp), and
// dbias / dsinks in ref/ and baseline/ where the variant has them.
void write_case(const std::string& dir, const std::string& name, const gen::VariantInputs& in,
                const gen::ValueSpec& values, uint64_t variant_seed);
// The inputs of a case folder as check verify reads them (problem.json, q,
// k, v, do and the extras it names), checked; throws std::invalid_argument
// naming the file.
gen::VariantInputs read_case(const std::string& dir);
// Writes a candidate's outputs into dir as check verify reads them: O, dQ,
// dK, dV, dbias in the case's dtype, LSE and dsinks in float32 (float64 for
// f64); absent outputs are not written.
void write_outputs(const std::string& dir, const Problem& p, const Outputs& out);
// A comma-free name list parsed from the CLI: "f16", "causal", "dominant_key".
MaskKind parse_mask_kind(const std::string& s);  // none, causal_top_left (causal), causal_bottom_right, sliding_window (window)
gen::Values parse_values(const std::string& s);

struct GenOptions {
  std::string out_dir;
  uint64_t seed = 1;
  int count = 24;
  int max_seqlen = 300;
  int max_head_dim = 128;
  bool force = false;  // clear a folder holding an earlier suite (else refuse)
  // Targeted suites (empty: the default choice of each).
  std::vector<DType> dtypes;           // default f16, bf16, f32
  std::vector<MaskKind> mask_kinds;    // default all four
  std::vector<int64_t> head_dims;      // default 16 32 59 64 96 111 128 (<= max_head_dim)
  std::vector<int64_t> seqlens;        // seqlen_q and seqlen_k drawn from these
  std::vector<gen::Values> values;     // default all five regimes
  std::string spec_file;  // JSON: exact problems; replaces count and the lists
  // Attention variants (empty: plain cases): case c gets
  // gen::suite_variants(variants, c) on top of the case the plain suite draws.
  std::vector<gen::CaseVariant> variants;
};
// Writes the cases; prints one line per case to log. Returns the count.
// Throws std::invalid_argument for bad options, a bad spec file, or an
// output folder that is not empty (unless force) or holds files gen did not
// write (even with force: it never deletes what it did not write).
int generate(const GenOptions& o, std::ostream& log);

struct VerifyOptions {
  std::string dir;
  std::string candidate_dir;         // empty: candidates live in the case folders
  std::vector<std::string> outputs;  // empty: every output the suite has a reference for
  int64_t tile_q = 0, tile_kv = 0;   // > 0: attribute errors to Br x Bc tiles
};

// The first Br (or Bc) row block holding an element over its bound.
struct TileAttribution {
  bool any = false;
  int64_t b = 0, h = 0, tile = 0, row_begin = 0, row_end = 0;
  bool kv = false;  // rows are keys (dk, dv): a KV tile; else a Q tile
  int64_t tiles_over = 0;  // row blocks with at least one element over the bound
};

struct TensorResult {
  TensorVerdict verdict;
  int64_t b = 0, h = 0, row = 0, col = 0;  // the worst element
  std::string empty_row_note;              // set when that row sees no key
  TileAttribution tile;                    // when a tile shape was given
};

enum class CaseStatus { pass, fail, skipped, error };
const char* case_status_name(CaseStatus s);

struct CaseResult {
  std::string name;
  CaseStatus status = CaseStatus::error;
  std::string problem;   // Problem::describe() + value regime, when readable
  std::string message;   // skip reason, or the error
  std::vector<TensorResult> tensors;
  std::vector<std::string> missing;  // required outputs the candidate did not write
  std::vector<std::string> notes;    // e.g. unexpected files (dQ.npy)
};

struct InformativeCount {
  std::string name;
  int judged = 0, informative = 0;
};

enum class SuiteStatus { pass, fail, bad_input, nothing_tested };
const char* suite_status_name(SuiteStatus s);

struct VerifyReport {
  std::string dir;
  std::vector<std::string> outputs;  // the outputs required of every case
  bool narrowed = false;             // outputs narrowed by VerifyOptions::outputs
  std::vector<CaseResult> cases;
  int passed = 0, failed = 0, skipped = 0, errors = 0;
  std::vector<InformativeCount> informative;  // per output, over the judged cases
  bool gradients_uninformative = false;       // gradients judged, none informative
  SuiteStatus status() const;
  std::string summary() const;  // the last line of the text report
};

// Judges every case; a bad file in one case is an error of that case and
// the others are still judged. Throws std::invalid_argument only for a bad
// suite (not a folder, no cases, unknown output names, stale case folders).
// When progress is given, the text report is printed to it case by case.
VerifyReport verify(const VerifyOptions& o, std::ostream* progress);

void print_case(const CaseResult& c, std::ostream& out);
void print_summary(const VerifyReport& r, std::ostream& out);
nlohmann::json report_json(const VerifyReport& r);
// JUnit XML (one testcase per case) for CI systems.
void write_junit(const VerifyReport& r, const std::string& path);

}  // namespace flashcheck::cases
