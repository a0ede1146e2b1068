// GPU property: rows that see no key and keys that no query sees give exact
// zeros (O, dQ, dK, dV = 0; LSE = -inf) in every registered variant, the
// backward in both modes (default and deterministic). The shapes below are
// chosen so such rows and keys exist; a variant for which none of them ran
// fails, so the property cannot pass by running nothing.
//
//   bottom-right causal, Nq > Nk     rows q < Nq - Nk see no key
//   window (0, 0), Nq > Nk           the band misses rows q < Nq - Nk
//   top-left causal, Nk > Nq         keys k >= Nq are seen by no query
//   window (3, 2), Nk > Nq           keys k < Nk - Nq - 3 are seen by no query
//
// The check itself (exact_zeros.hpp) is shown to fail on planted bugs of the
// CPU candidate (mutants/): a row with no key returning the mean of V, and
// top-left / bottom-right causal swapped.
#include <catch2/catch.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "cases/generators.hpp"
#include "kernels/registry.hpp"
#include "mutants/candidate.hpp"
#include "properties/kernels/exact_zeros.hpp"
#include "properties/kernels/gpu_harness.hpp"

using namespace flashcheck;
using kernels::Variant;

namespace {

// Lengths on and off tile multiples (64, 128) on both sides.
const std::vector<gputest::FixedShape>& shapes() {
  static const std::vector<gputest::FixedShape> s = {
      {200, 70, Mask::causal_bottom_right()},    {130, 1, Mask::causal_bottom_right()},
      {257, 129, Mask::causal_bottom_right()},   {200, 70, Mask::sliding_window(0, 0)},
      {129, 64, Mask::sliding_window(0, 0)},     {70, 200, Mask::causal_top_left()},
      {1, 130, Mask::causal_top_left()},         {97, 300, Mask::causal_top_left()},
      {70, 200, Mask::sliding_window(3, 2)},     {64, 257, Mask::sliding_window(3, 2)},
  };
  return s;
}

// Every supported (shape, dtype, head dim) of the variant: B = 2, Hq = 4,
// Hkv = 2 (GQA), so batch and head indexing are exercised too.
template <class F>
void for_each_problem(const Variant& v, F f) {
  for (const Problem& p : gputest::fixed_problems(v, shapes(), 2, 4, 2)) f(p);
}

const gen::ValueSpec kValues[] = {{gen::Values::normal, 1, 21}, {gen::Values::large_logits, 300, 22}};

}  // namespace

TEST_CASE("rows that see no key give O = 0 and LSE = -inf exactly (forward variants)", "[gpu]") {
  for (const Variant* v : gputest::variants(kernels::Direction::fwd)) {
    int cases = 0;
    int64_t rows = 0;
    for_each_problem(*v, [&](const Problem& p) {
      for (const gen::ValueSpec& val : kValues) {
        const gen::Inputs in = gen::make_inputs(p, val);
        INFO(v->name << " " << p.describe() << " values " << gen::values_name(val.kind));
        const gputest::ForwardRun run = gputest::run_forward_guarded(*v, in);
        REQUIRE(run.damage == "");
        Outputs out;
        out.O = gputest::as_tensor(q_shape(p), run.O);
        out.LSE = gputest::as_tensor(lse_shape(p), run.LSE);
        const gputest::ExactZeroReport r = gputest::check_exact_zeros(p, out);
        INFO(r.first);
        CHECK(r.pass());
        rows += r.empty_rows;
        ++cases;
      }
    });
    std::printf("exact zeros: %s: %d cases, %lld rows that see no key, all exact\n", v->name,
                cases, static_cast<long long>(rows));
    CHECK(rows > 0);  // not vacuous
  }
}

TEST_CASE("rows that see no key and keys no query sees give exact zero gradients "
          "(backward variants, both modes)", "[gpu]") {
  for (const Variant* v : gputest::variants(kernels::Direction::bwd))
    for (bool deterministic : {false, true}) {
      int cases = 0;
      int64_t rows = 0, keys = 0;
      for_each_problem(*v, [&](const Problem& p) {
        if (!kernels::paired_forward(*v).supports(p).ok) return;
        for (const gen::ValueSpec& val : kValues) {
          const gen::Inputs in = gen::make_inputs(p, val);
          INFO(v->name << (deterministic ? " (deterministic)" : "") << " " << p.describe()
                       << " values " << gen::values_name(val.kind));
          const gputest::BackwardRun run = gputest::run_backward_guarded(*v, in, deterministic);
          REQUIRE(run.damage == "");
          Outputs out;
          out.O = gputest::as_tensor(q_shape(p), run.fwd.O);
          out.LSE = gputest::as_tensor(lse_shape(p), run.fwd.LSE);
          out.dQ = gputest::as_tensor(q_shape(p), run.dQ);
          out.dK = gputest::as_tensor(kv_shape(p), run.dK);
          out.dV = gputest::as_tensor(kv_shape(p), run.dV);
          const gputest::ExactZeroReport r = gputest::check_exact_zeros(p, out);
          INFO(r.first);
          CHECK(r.pass());
          rows += r.empty_rows;
          keys += r.unseen_keys;
          ++cases;
        }
      });
      std::printf("exact zeros: %s%s: %d cases, %lld rows that see no key, %lld keys no query "
                  "sees, all exact\n",
                  v->name, deterministic ? " (deterministic)" : "", cases,
                  static_cast<long long>(rows), static_cast<long long>(keys));
      CHECK(rows > 0);  // not vacuous
      CHECK(keys > 0);
    }
}

// The check can fail: the CPU candidate with a planted bug (no GPU needed,
// but it lives with the property it proves).
TEST_CASE("the exact-zero check catches planted bugs", "[gpu]") {
  auto run = [](const Problem& p, mutants::Bug bug) {
    const gen::Inputs in = gen::make_inputs(p, {gen::Values::normal, 1, 5});
    return gputest::check_exact_zeros(
        p, mutants::flash2_candidate(p, OracleInputs{in.Q, in.K, in.V, in.dO}, bug));
  };
  Problem p;
  p.batch = 1;
  p.heads_q = 2;
  p.heads_kv = 1;
  p.head_dim = 16;
  p.dtype = DType::f32;
  p.seqlen_q = 40;
  p.seqlen_k = 13;
  p.mask = Mask::causal_bottom_right();  // rows 0..26 see no key
  const auto ok_rows = run(p, mutants::Bug::none);
  CHECK(ok_rows.pass());
  CHECK(ok_rows.empty_rows == 2 * 27);
  const auto mean_v = run(p, mutants::Bug::empty_row_mean_v);
  INFO(mean_v.first);
  CHECK_FALSE(mean_v.pass());
  p.seqlen_q = 13;
  p.seqlen_k = 40;
  p.mask = Mask::causal_top_left();  // keys 13..39 seen by no query
  const auto ok_keys = run(p, mutants::Bug::none);
  CHECK(ok_keys.pass());
  CHECK(ok_keys.unseen_keys == 27);
  const auto swapped = run(p, mutants::Bug::causal_swapped);
  INFO(swapped.first);
  CHECK_FALSE(swapped.pass());
}
