// GPU properties of every registered backward variant (CTest label gpu).
//
// Each case runs the variant's paired forward (registry: "<x>_bwd" ->
// "<x>_fwd") and feeds its O and LSE to the backward, as training does.
// Accuracy: dQ, dK, dV by the one accuracy rule (reference/oracle.hpp,
// derived in reference/README.md), k = 3, against the float64 reference
// backward. The rule's allowance already carries what a FlashAttention-style
// backward adds: P recomputed from LSE (score error through exp) and
// D = rowsum(dO * O) from the O the forward stored in the dtype.
// Hygiene as in the forward suite: gradients NaN-poisoned before the run,
// guard regions around every buffer, inputs unchanged.
// Every accuracy property runs twice per variant: in the default mode and in
// deterministic mode (BackwardArgs::deterministic: flash2_bwd's Q-outer dQ
// kernel instead of its atomic dQ accumulation; variants whose dQ is always
// reproducible ignore the flag and must pass the same). Its accuracy records
// carry the variant name with " deterministic" appended.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>

#include "kernels/registry.hpp"
#include "cases/generators.hpp"
#include "properties/kernels/gpu_harness.hpp"
#include "properties/prop.hpp"
#include "reference/accuracy.hpp"
#include "reference/attention.hpp"
#include "reference/oracle.hpp"
#include "reference/baseline.hpp"

using namespace flashcheck;
using kernels::Variant;

namespace {

// The reference backward is about three forwards: 1025 keeps a case well
// under a second.
constexpr int64_t kMaxSeqlen = 1025;

std::string mode_name(const Variant& v, bool deterministic) {
  return std::string(v.name) + (deterministic ? " deterministic" : "");
}

CaseVerdict judge_gradients(const std::string& name, const gen::Inputs& in,
                            const gputest::BackwardRun& run) {
  return gputest::judge_gradients(name, in, {}, run);
}

std::string reasons(const CaseVerdict& cv) {
  std::string s;
  for (const TensorVerdict& t : cv.tensors) s += t.reason + "\n";
  return s;
}

int cases_run = 0;

}  // namespace

TEST_CASE("backward variants agree with the float64 reference", "[gpu]") {
  for (const Variant* v : gputest::variants(kernels::Direction::bwd))
    for (bool deterministic : {false, true}) {
      const auto limits = gputest::limits_for(*v, kMaxSeqlen);
      const std::string mode = mode_name(*v, deterministic);
      const std::string name = mode + ": dQ, dK, dV within the accuracy rule (k = 3), lengths 1..1025";
      cases_run = 0;
      prop(name, [v, limits, deterministic, mode] {
        const gen::Inputs in = *gen::inputs(limits);
        RC_PRE(v->supports(in.problem).ok && kernels::paired_forward(*v).supports(in.problem).ok);
        RC_LOG() << in.problem.describe() << "\n";
        const gputest::BackwardRun run = gputest::run_backward_guarded(*v, in, deterministic);
        RC_ASSERT(run.damage == "");
        const CaseVerdict g = judge_gradients(mode, in, run);
        RC_LOG() << reasons(g);
        RC_ASSERT(g.pass);
        ++cases_run;
      });
      if (cases_run > 0) std::printf("property '%s': %d cases passed\n", name.c_str(), cases_run);
    }
}

namespace {

// Length 1 on either side, rows that see no key (bottom-right causal with
// seqlen_q > seqlen_k, a window that misses), large logits: no NaN, and the
// accuracy rule still holds. Fixed, not random: every mask x length pair of
// every dtype and head dim of the variant, in one mode.
void edge_shapes(const Variant& v, bool deterministic) {
  const auto shapes = gputest::shapes_of(
      {Mask::none(), Mask::causal_top_left(), Mask::causal_bottom_right(),
       Mask::sliding_window(0, 0), Mask::sliding_window(5, 2)},
      {{1, 1}, {1, 130}, {130, 1}, {200, 70}, {70, 200}, {129, 129}});
  const gen::ValueSpec values[] = {{gen::Values::normal, 1, 3}, {gen::Values::large_logits, 300, 4},
                                   {gen::Values::large_logits, 3000, 5}};
  const std::string mode = mode_name(v, deterministic);
  int cases = 0, passed = 0;
  std::map<int64_t, std::pair<int, int>> by_dim;  // head dim -> (passed, cases), for the log
  for (const Problem& p : gputest::fixed_problems(v, shapes, 1, 2, 1))
    for (const auto& val : values) {
      const gen::Inputs in = gen::make_inputs(p, val);
      INFO(mode << " " << p.describe() << " values " << gen::values_name(val.kind) << " "
                << val.magnitude);
      const gputest::BackwardRun run = gputest::run_backward_guarded(v, in, deterministic);
      REQUIRE(run.damage == "");
      const CaseVerdict g = judge_gradients(mode, in, run);
      INFO(reasons(g));
      for (const TensorVerdict& t : g.tensors) CHECK(t.candidate.nan_count == 0);
      CHECK(g.pass);
      ++cases;
      passed += g.pass;
      by_dim[p.head_dim].first += g.pass;
      ++by_dim[p.head_dim].second;
    }
  std::string dims;
  for (const auto& [d, n] : by_dim)
    dims += (dims.empty() ? "" : ", ") + ("d " + std::to_string(d)) + " " + std::to_string(n.first) +
            "/" + std::to_string(n.second);
  std::printf("edge shapes: %s: %d cases, %d passed (%s)\n", mode.c_str(), cases, passed, dims.c_str());
  CHECK(cases > 0);
}

}  // namespace

TEST_CASE("backward variants give finite, accurate gradients on edge shapes", "[gpu]") {
  for (const Variant* v : gputest::variants(kernels::Direction::bwd))
    for (bool deterministic : {false, true}) edge_shapes(*v, deterministic);
}

namespace {

// GQA groups that flash2_bwd runs whole, split evenly, or split unevenly over
// its dK/dV blocks (gqa_splits in kernels/flash2_bwd.cu aims at 2048 blocks of
// 64 keys: many batches and KV heads reach each case, while the random
// properties, with few blocks, mostly give each query head its own block).
// Four queries keep the float64 reference cheap. Every backward variant,
// bf16, both modes: accurate, and a rerun gives the same dK, dV bits.
struct GroupCase {
  int64_t batch, heads_q, heads_kv, seqlen_k;
  Mask mask;
  const char* what;
};
const GroupCase kGroupCases[] = {
    {8, 32, 16, 1024, Mask::causal_bottom_right(), "2048 dK/dV blocks: whole groups of 2"},
    {8, 64, 8, 1024, Mask::none(), "1024 dK/dV blocks: 2 sub-groups of 4 heads"},
    {2, 64, 2, 1088, Mask::sliding_window(500, 20), "68 dK/dV blocks: 31 sub-groups of 1 or 2 heads"},
};

}  // namespace

TEST_CASE("backward variants handle GQA groups whole and split over blocks", "[gpu]") {
  for (const Variant* v : gputest::variants(kernels::Direction::bwd))
    for (bool deterministic : {false, true}) {
      const std::string mode = mode_name(*v, deterministic);
      int cases = 0;
      for (const GroupCase& g : kGroupCases)
        for (Problem p : gputest::fixed_problems(*v, gputest::shapes_of({g.mask}, {{4, g.seqlen_k}}),
                                                  g.batch, g.heads_q, g.heads_kv)) {
          if (p.dtype != DType::bf16) continue;
          const gen::Inputs in = gen::make_inputs(p, {gen::Values::normal, 1, 9});
          INFO(mode << " " << p.describe() << " (" << g.what << ")");
          const gputest::BackwardRun run = gputest::run_backward_guarded(*v, in, deterministic);
          REQUIRE(run.damage == "");
          const CaseVerdict cv = judge_gradients(mode, in, run);
          INFO(reasons(cv));
          CHECK(cv.pass);
          const gputest::BackwardRun again = gputest::run_backward_guarded(*v, in, deterministic);
          CHECK(again.dK_bits == run.dK_bits);
          CHECK(again.dV_bits == run.dV_bits);
          ++cases;
        }
      std::printf("GQA groups: %s: %d cases\n", mode.c_str(), cases);
      CHECK(cases > 0);
    }
}

TEST_CASE("backward variants are deterministic", "[gpu]") {
  for (const Variant* v : gputest::variants(kernels::Direction::bwd)) {
    const auto limits = gputest::limits_for(*v, 400);
    for (bool deterministic : {false, true}) {
      const std::string name =
          std::string(v->name) + (deterministic ? ": deterministic mode: 20 reruns give bitwise "
                                                  "identical dQ, dK, dV"
                                                : ": 20 reruns give bitwise identical dK, dV");
      prop(name, [v, limits, deterministic] {
        const gen::Inputs in = *gen::inputs(limits);
        RC_PRE(v->supports(in.problem).ok && kernels::paired_forward(*v).supports(in.problem).ok);
        RC_LOG() << in.problem.describe() << "\n";
        const gputest::BackwardRun first = gputest::run_backward_guarded(*v, in, deterministic);
        RC_ASSERT(first.damage == "");
        for (int i = 1; i < 20; ++i) {
          const gputest::BackwardRun again = gputest::run_backward_guarded(*v, in, deterministic);
          RC_ASSERT(again.dK_bits == first.dK_bits);
          RC_ASSERT(again.dV_bits == first.dV_bits);
          if (deterministic) RC_ASSERT(again.dQ_bits == first.dQ_bits);
        }
      });
    }
  }
}
