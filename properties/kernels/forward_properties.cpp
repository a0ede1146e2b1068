// GPU properties of every registered forward variant (CTest label gpu).
//
// Accuracy: O and LSE by the one accuracy rule (reference/oracle.hpp,
// derived in reference/README.md): per element, k = 2 times the error of the
// standard algorithm in the same dtype plus the rounding allowance of a
// correct implementation. A row that sees no key must give O = 0 and
// LSE = -inf exactly.
//
// Hygiene: outputs are NaN-filled before every run (an unwritten element
// fails), every buffer has guard regions that are checked after the run, and
// the inputs must come back unchanged.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "kernels/registry.hpp"
#include "cases/generators.hpp"
#include "properties/kernels/gpu_harness.hpp"
#include "properties/prop.hpp"
#include "reference/accuracy.hpp"
#include "reference/attention.hpp"
#include "reference/oracle.hpp"

using namespace flashcheck;
using kernels::Variant;

namespace {

constexpr int64_t kMaxSeqlen = 2049;


// What the generated cases covered, printed after each property so the log
// shows the case count and the spread (RapidCheck prints nothing on success).
struct Coverage {
  int cases = 0, gqa = 0, unequal = 0, empty_rows = 0;
  int64_t max_sq = 0, max_sk = 0;
  std::map<std::string, int> masks, dtypes, dims;
  void add(const Problem& p, const std::vector<double>& lse) {
    ++cases;
    gqa += p.heads_q != p.heads_kv;
    unequal += p.seqlen_q != p.seqlen_k;
    empty_rows += std::any_of(lse.begin(), lse.end(), [](double x) { return std::isinf(x); });
    max_sq = std::max(max_sq, p.seqlen_q);
    max_sk = std::max(max_sk, p.seqlen_k);
    ++masks[mask_kind_name(p.mask.kind)];
    ++dtypes[dtype_name(p.dtype)];
    ++dims[std::to_string(p.head_dim)];
  }
  std::string str() const {
    std::ostringstream o;
    o << cases << " cases; max seqlen_q " << max_sq << ", max seqlen_k " << max_sk
      << "; seqlen_q != seqlen_k " << unequal << "; GQA/MQA " << gqa
      << "; with rows that see no key " << empty_rows << "; masks";
    for (const auto& [k, n] : masks) o << " " << k << ":" << n;
    o << "; dtypes";
    for (const auto& [k, n] : dtypes) o << " " << k << ":" << n;
    o << "; head dims";
    for (const auto& [k, n] : dims) o << " " << k << ":" << n;
    return o.str();
  }
};
Coverage coverage;

// Runs one property and prints its coverage.
template <class F>
void prop_with_coverage(const std::string& name, F f) {
  coverage = Coverage{};
  prop(name, f);
  // Catch runs one SECTION per pass over the test case: print only the pass
  // that ran this property.
  if (coverage.cases > 0)
    std::printf("property '%s': %s\n", name.c_str(), coverage.str().c_str());
}

void check_accuracy(const Variant& v, const gen::Inputs& in) {
  const gputest::ForwardRun run = gputest::run_forward_guarded(v, in);
  RC_LOG() << in.problem.describe() << "\n";
  RC_ASSERT(run.damage == "");
  const CaseVerdict cv = gputest::judge_forward(v.name, in, {}, run);
  for (const TensorVerdict& t : cv.tensors) RC_LOG() << t.reason << "\n";
  RC_ASSERT(cv.pass);
  coverage.add(in.problem, run.LSE);
}

// The accuracy property on inputs drawn from `inputs`.
void accuracy_property(const Variant& v, const rc::Gen<gen::Inputs>& inputs) {
  const gen::Inputs in = *inputs;
  RC_PRE(v.supports(in.problem).ok);
  check_accuracy(v, in);
}

}  // namespace

TEST_CASE("forward variants agree with the float64 reference", "[gpu]") {
  for (const Variant* v : gputest::variants(kernels::Direction::fwd)) {
    const auto limits = gputest::limits_for(*v, kMaxSeqlen);
    prop_with_coverage(std::string(v->name) +
             ": O and LSE within the accuracy rule, on lengths 1..2049",
         [v, limits] {
           accuracy_property(*v, gen::inputs(limits, {gen::Values::normal, gen::Values::uniform,
                                                      gen::Values::dominant_key}));
         });
  }
}

TEST_CASE("forward variants stay finite and accurate for large logits", "[gpu]") {
  for (const Variant* v : gputest::variants(kernels::Direction::fwd)) {
    const auto limits = gputest::limits_for(*v, 300);
    prop_with_coverage(std::string(v->name) + ": no NaN or Inf and the accuracy rule holds for logits up to 1e4",
         [v, limits] { accuracy_property(*v, gen::inputs(limits, {gen::Values::large_logits})); });
  }
}

// The lengths FlashAttention's own tests use (off tile multiples), plus the
// extremes, for every mask, dtype and head dim of each variant; not random.
TEST_CASE("forward variants pass fixed awkward shapes", "[gpu]") {
  const auto shapes = gputest::shapes_of(
      {Mask::none(), Mask::causal_top_left(), Mask::causal_bottom_right(),
       Mask::sliding_window(100, 0), Mask::sliding_window(3, 17)},
      {{1, 1}, {1, 2049}, {2049, 1}, {97, 97}, {113, 203}, {203, 113}, {1023, 1025}});
  for (const Variant* v : gputest::variants(kernels::Direction::fwd)) {
    int cases = 0, passed = 0;
    for (const Problem& p : gputest::fixed_problems(*v, shapes, 1, 2, 1)) {
      const gen::Inputs in = gen::make_inputs(p, {gen::Values::normal, 1, 7});
      INFO(v->name << " " << p.describe());
      const gputest::ForwardRun run = gputest::run_forward_guarded(*v, in);
      REQUIRE(run.damage == "");
      const CaseVerdict cv = gputest::judge_forward(v->name, in, {}, run);
      for (const TensorVerdict& t : cv.tensors) {
        INFO(t.reason);
        CHECK(t.pass);
      }
      ++cases;
      passed += cv.pass;
    }
    std::printf("fixed shapes: %s: %d cases, %d passed\n", v->name, cases, passed);
    CHECK(cases > 0);
  }
}

TEST_CASE("forward variants are deterministic", "[gpu]") {
  for (const Variant* v : gputest::variants(kernels::Direction::fwd)) {
    const auto limits = gputest::limits_for(*v, 600);
    prop(std::string(v->name) + ": 20 reruns give bitwise identical O and LSE", [v, limits] {
      const gen::Inputs in = *gen::inputs(limits);
      RC_PRE(v->supports(in.problem).ok);
      RC_LOG() << in.problem.describe() << "\n";
      const gputest::ForwardRun first = gputest::run_forward_guarded(*v, in);
      RC_ASSERT(first.damage == "");
      for (int i = 1; i < 20; ++i) {
        const gputest::ForwardRun again = gputest::run_forward_guarded(*v, in);
        RC_ASSERT(again.O_bits == first.O_bits);
        RC_ASSERT(again.LSE_bits == first.LSE_bits);
      }
    });
  }
}

// Forward and backward variants; a backward also refuses each head dim its
// paired forward instantiates and it does not (none today: flash2_bwd runs
// every head dim of flash2_fwd, d 256 included, and the backward properties
// judge each against the float64 oracle), with a reason naming the head dim.
TEST_CASE("unsupported problems are reported as errors, never run", "[gpu]") {
  for (const Variant& v : kernels::registry()) {
    const bool fwd = v.direction == kernels::Direction::fwd;
    auto run = [&](const Problem& p) {
      fwd ? kernels::run_forward(v, p, {}) : kernels::run_backward(v, p, {});
    };
    Problem p;
    p.dtype = DType::f64;  // no GPU variant runs float64
    CHECK_THROWS_AS(run(p), std::invalid_argument);
    if (v.head_dims.empty()) continue;
    auto listed = [&](const Variant& w, int d) {
      return std::find(w.head_dims.begin(), w.head_dims.end(), d) != w.head_dims.end();
    };
    std::vector<int> refused;
    for (int d = 80; refused.empty(); d += 16)  // a multiple of 16 the variant does not instantiate
      if (!listed(v, d)) refused.push_back(d);
    if (!fwd)
      for (int d : kernels::paired_forward(v).head_dims)
        if (!listed(v, d)) refused.push_back(d);
    for (int d : refused) {
      p.dtype = v.dtypes.front();
      p.head_dim = d;
      INFO(v.name << " head dim " << d);
      const kernels::Support s = v.supports(p);
      CHECK_FALSE(s.ok);
      CHECK(s.reason.find(std::to_string(d)) != std::string::npos);
      CHECK_THROWS_AS(run(p), std::invalid_argument);
    }
  }
}

// A problem asking for an attention variant a kernel does not compute (its
// registry line's `variants`) is refused, never run without the variant;
// one it computes is accepted. Probed one variant at a time: softcap, ALiBi,
// sinks, dropout, bias, boolean mask, varlen, paged K/V.
TEST_CASE("problems with attention variants a kernel does not compute are refused", "[gpu]") {
  int refused = 0, accepted = 0;
  for (const kernels::Variant& v : kernels::registry()) {
    Problem base;
    base.seqlen_q = base.seqlen_k = 64;
    base.dtype = v.dtypes.front();
    base.head_dim = v.head_dims.empty() ? 64 : v.head_dims.front();
    base.validate();
    if (!v.supports(base).ok) continue;  // e.g. hopper_fwd off sm_90a
    struct Probe {
      const char* what;
      bool computed;
      void (*set)(Variants&);
    };
    const Probe probes[] = {
        {"softcap", v.variants.softcap, [](Variants& x) { x.softcap = 30.0; }},
        {"alibi", v.variants.alibi, [](Variants& x) { x.alibi = true; }},
        {"sinks", false, [](Variants& x) { x.sinks = true; }},
        {"dropout", false, [](Variants& x) { x.dropout_p = 0.1; }},
        {"bias", false, [](Variants& x) { x.bias = true; }},
        {"mask", false, [](Variants& x) { x.bool_mask = true; }},
        {"varlen", v.variants.varlen, [](Variants& x) { x.varlen = true; }},
        {"paged", false, [](Variants& x) { x.page_size = 16; x.num_pages = 4; }},
    };
    for (const Probe& pr : probes) {
      Problem p = base;
      pr.set(p.variants);
      p.validate();
      INFO(v.name << " " << pr.what << " " << p.describe());
      const kernels::Support s = v.supports(p);
      if (pr.computed) {
        CHECK(s.ok);
        ++accepted;
        continue;
      }
      CHECK_FALSE(s.ok);
      CHECK(s.reason.find(std::string("not variants ") + pr.what) != std::string::npos);
      if (v.direction == kernels::Direction::fwd)
        CHECK_THROWS_AS(kernels::run_forward(v, p, {}), std::invalid_argument);
      else
        CHECK_THROWS_AS(kernels::run_backward(v, p, {}), std::invalid_argument);
      ++refused;
    }
  }
  std::printf("variant refusal: %d refused, %d accepted\n", refused, accepted);
  CHECK(refused >= 4 * 6);
  CHECK(accepted >= 2 * 3);  // flash2_fwd, flash2_bwd: softcap, ALiBi, varlen
}
