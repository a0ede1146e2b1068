// The generators every property suite shares (one place, as DESIGN.md asks):
// attention problems that lean towards the edges where tiled code breaks
// (length 1, tile size - 1, tile size, tile size + 1, odd lengths,
// seqlen_q != seqlen_k, odd head dims, GQA, every mask kind), input values
// from four distributions, and readable printing of every generated type.
//
// Shrinking: every choice shrinks towards the smallest, plainest problem
// (batch 1, one head, length 1, head_dim 1, no mask, default scale, normal
// values), so a failure is reported on the smallest case that still fails.
//
// Tensor values are not generated element by element: a generated 64-bit
// seed fills them deterministically (make_inputs), so a printed case can be
// rebuilt exactly and large (GPU-sized) problems cost no shrinking time.
#pragma once
#include <cmath>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <vector>

#include <rapidcheck.h>

#include "reference/problem.hpp"
#include "reference/tensor.hpp"

namespace flashcheck {

// ---- printing (RapidCheck finds these by argument-dependent lookup) -------
void showValue(DType t, std::ostream& os);
void showValue(MaskKind k, std::ostream& os);
void showValue(const Mask& m, std::ostream& os);
void showValue(const Problem& p, std::ostream& os);
void showValue(const Tensor4<double>& t, std::ostream& os);  // values when small

namespace gen {

// What a generated problem may look like. The defaults keep a float64
// reference property at well under a millisecond per case.
struct ShapeLimits {
  int64_t max_batch = 2;
  int64_t max_heads_kv = 2;
  int64_t max_group = 3;     // heads_q = heads_kv * group (1: MHA, >1: GQA/MQA)
  int64_t max_seqlen = 33;   // both seqlen_q and seqlen_k
  int64_t max_head_dim = 17;
  // Lengths lean towards 1, B-1, B, B+1, 2B-1, 2B+1 for each tile size B here.
  std::vector<int64_t> tile_edges = {8, 16};
  // Non-empty: head_dim is drawn from these only (a kernel's supported set).
  // Empty: any head_dim in [1, max_head_dim], leaning to small and odd ones.
  std::vector<int64_t> head_dims;
  std::vector<MaskKind> mask_kinds = {MaskKind::none, MaskKind::causal_top_left,
                                      MaskKind::causal_bottom_right, MaskKind::sliding_window};
  std::vector<DType> dtypes = {DType::f64};
  bool explicit_scale = true;  // sometimes an explicit softmax scale (0.5, 1, 2)
  // Cap on batch * heads_q * seqlen_q * seqlen_k * head_dim: batch and heads
  // are reduced (never the lengths, which carry the edge cases) to stay under it.
  int64_t max_work = int64_t(1) << 18;
};

// Limits for a suite whose code tiles in blocks of the given sizes (e.g. a
// kernel's Br, Bc): lengths up to max_seqlen lean to those blocks' edges.
ShapeLimits tiled_limits(const std::vector<int64_t>& block_sizes, int64_t max_seqlen,
                         std::vector<int64_t> head_dims, std::vector<DType> dtypes);

// One of values, uniformly at any size, shrinking towards values[0]
// (rc::gen::elementOf does not shrink).
template <class T>
rc::Gen<T> pick(std::vector<T> values) {
  const size_t n = values.size();
  return rc::gen::map(rc::gen::resize(100, rc::gen::inRange<size_t>(0, n)),
                      [values](size_t i) { return values[i]; });
}
// A value from one of the generators, chosen with the given weights at any
// size, shrinking towards the first generator and then within the chosen
// one (rc::gen::weightedOneOf does not shrink the choice).
template <class T>
rc::Gen<T> weighted(std::vector<std::pair<size_t, rc::Gen<T>>> choices) {
  size_t total = 0;
  for (const auto& c : choices) total += c.first;
  return rc::gen::mapcat(rc::gen::resize(100, rc::gen::inRange<size_t>(0, total)),
                         [choices](size_t w) {
                           size_t i = 0;
                           while (w >= choices[i].first) w -= choices[i++].first;
                           return choices[i].second;
                         });
}

// A sequence length in [1, max], leaning to 1, 2, 3, max and the edges of
// each tile size in tile_edges.
rc::Gen<int64_t> length(int64_t max, std::vector<int64_t> tile_edges);
// (seqlen_q, seqlen_k): mostly different, sometimes equal.
rc::Gen<std::pair<int64_t, int64_t>> lengths(int64_t max, std::vector<int64_t> tile_edges);
// A head dim in [1, max] leaning to small and odd values, or one of allowed.
rc::Gen<int64_t> head_dim(int64_t max, std::vector<int64_t> allowed = {});
// A mask of one of the kinds for lengths (sq, sk); windows lean to 0 and 1
// and reach past the sequence (unbounded).
rc::Gen<Mask> mask(std::vector<MaskKind> kinds, int64_t sq, int64_t sk);
rc::Gen<DType> dtype(std::vector<DType> dtypes);
rc::Gen<Problem> problem(ShapeLimits limits = {});

// splitmix64: tiny, fast, the same on every platform, so a printed seed
// rebuilds the same tensors anywhere (no std:: distributions).
struct Rng {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform01() { return static_cast<double>(next() >> 11) * 0x1p-53; }  // [0, 1)
  double uniform() { return 2 * uniform01() - 1; }                          // [-1, 1)
  double normal() {  // Box-Muller; 1 - u keeps the log argument in (0, 1]
    const double u = 1 - uniform01(), w = uniform01();
    return std::sqrt(-2 * std::log(u)) * std::cos(6.283185307179586 * w);
  }
  int64_t below(int64_t n) { return static_cast<int64_t>(next() % static_cast<uint64_t>(n)); }
};

// ---- values ---------------------------------------------------------------
enum class Values {
  normal,        // Q, K, V, dO ~ N(0, 1)
  uniform,       // ~ U(-1, 1)
  large_logits,  // Q, K scaled so scaled logits are about +-magnitude
  dominant_key,  // each query row has one visible key ~8 logits above the rest
  positive,      // Q, K ~ U(-1, 1); V, dO ~ U(0, 1): partial sums grow monotonically
};
const char* values_name(Values v);
void showValue(Values v, std::ostream& os);

struct ValueSpec {
  Values kind = Values::normal;
  double magnitude = 1;  // large_logits: typical |scale * q.k|
  uint64_t seed = 0;     // fills the tensors
};
void showValue(const ValueSpec& v, std::ostream& os);

rc::Gen<ValueSpec> value_spec(std::vector<Values> kinds = {Values::normal, Values::uniform,
                                                          Values::large_logits,
                                                          Values::dominant_key, Values::positive});

// Q, K, V, dO for a problem, each value representable in problem.dtype.
struct Inputs {
  Problem problem;
  ValueSpec values;
  Tensor4<double> Q, K, V, dO;
};
void showValue(const Inputs& in, std::ostream& os);

// Deterministic: the same (problem, spec) gives the same tensors on every
// platform (own PRNG, no std:: distributions). For fp16, large_logits is
// capped at 1000 so the stored scores stay below fp16's 65504.
Inputs make_inputs(const Problem& p, const ValueSpec& v);
// max |scale * q.k| over every (query, key) pair, masked or not: rounding
// errors of the scores are relative to it, and exp turns an absolute score
// error into a relative probability error, so tolerances scale with it.
double max_scaled_score(const Inputs& in);
rc::Gen<Inputs> inputs(ShapeLimits limits = {},
                       std::vector<Values> kinds = {Values::normal, Values::uniform,
                                                    Values::large_logits, Values::dominant_key,
                                                    Values::positive});

}  // namespace gen
}  // namespace flashcheck

// Arbitrary instances with the default limits, for rc::prop lambdas that take
// a Problem, Mask or DType parameter directly.
namespace rc {
template <>
struct Arbitrary<flashcheck::Problem> {
  static Gen<flashcheck::Problem> arbitrary() { return flashcheck::gen::problem(); }
};
template <>
struct Arbitrary<flashcheck::DType> {
  static Gen<flashcheck::DType> arbitrary() {
    return flashcheck::gen::dtype({flashcheck::DType::f64, flashcheck::DType::f32,
                                   flashcheck::DType::f16, flashcheck::DType::bf16});
  }
};
template <>
struct Arbitrary<flashcheck::gen::ValueSpec> {
  static Gen<flashcheck::gen::ValueSpec> arbitrary() { return flashcheck::gen::value_spec(); }
};
template <>
struct Arbitrary<flashcheck::gen::Inputs> {
  static Gen<flashcheck::gen::Inputs> arbitrary() { return flashcheck::gen::inputs(); }
};
}  // namespace rc
