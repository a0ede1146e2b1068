// GPU properties of the attention variants the kernels compute (softcap,
// ALiBi, varlen: Variant::variants in the registry), forward and backward, judged
// against the float64 variant oracle by the one accuracy rule (judge_case:
// the same rule as plain attention, the baseline being the same variant in
// the dtype). Varlen packs a generated batch (properties/reference's
// make_varlen) into per-sequence lengths drawn from 0 to the longest, off the
// tiles, so sequences of length 0 and rows that see no key occur; and
// planted bugs those judgements must catch, made from the
// real kernels: the backward fed the forward of the problem without softcap
// ("softcap dropped in the backward") and ALiBi run with the slopes' sign
// flipped.
#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

#include "cases/generators.hpp"
#include "kernels/registry.hpp"
#include "properties/kernels/gpu_harness.hpp"
#include "properties/prop.hpp"
#include "properties/reference/variant_support.hpp"

using namespace flashcheck;
using kernels::Variant;

namespace {

// Softcap, ALiBi, varlen (bits), only those the variant computes.
enum Which : unsigned { kSoftcap = 1, kAlibi = 2, kVarlen = 4 };

// ALiBi slopes drawn per query head, exact in float32 (the kernels' type):
// u * 2^-e with u uniform in [0, 1) and e in {0, 4, 8}, so long rows see
// slopes from strong (most keys negligible) to weak (all keys count).
std::vector<double> draw_slopes(int64_t heads_q, uint64_t seed, int e) {
  gen::Rng r{seed};
  std::vector<double> s;
  for (int64_t h = 0; h < heads_q; ++h)
    s.push_back(static_cast<float>(std::ldexp(r.uniform01(), -e)));
  return s;
}

void add_variants(gen::Inputs& in, Extras& ex, unsigned which, double cap, uint64_t seed, int e) {
  if (which & kSoftcap) in.problem.variants.softcap = cap;
  if (which & kAlibi) {
    in.problem.variants.alibi = true;
    ex.alibi_slopes = draw_slopes(in.problem.heads_q, seed, e);
  }
}

int64_t sum(const std::vector<int64_t>& n) {
  int64_t s = 0;
  for (int64_t x : n) s += x;
  return s;
}

// The dense case packed into varlen: sequence b keeps its first nq[b]
// queries and nk[b] keys (vsupport::make_varlen, the reference suites' packing).
void pack_varlen(gen::Inputs& in, Extras& ex, const std::vector<int64_t>& nq,
                 const std::vector<int64_t>& nk) {
  vsupport::Case c{in.problem, ex, in.Q, in.K, in.V, in.dO};
  vsupport::make_varlen(c, nq, nk);
  in.problem = c.problem;
  ex = c.extras;
  in.Q = std::move(c.Q);
  in.K = std::move(c.K);
  in.V = std::move(c.V);
  in.dO = std::move(c.dO);
}

// What a variant may be asked for, as Which bits.
std::vector<unsigned> choices(const Variant& v) {
  std::vector<unsigned> out;
  for (unsigned w : std::vector<unsigned>{kSoftcap, kAlibi, kSoftcap | kAlibi, kVarlen, kVarlen | kAlibi,
                                          kVarlen | kSoftcap})
    if ((!(w & kSoftcap) || v.variants.softcap) && (!(w & kAlibi) || v.variants.alibi) &&
        (!(w & kVarlen) || v.variants.varlen))
      out.push_back(w);
  return out;
}

// A generated case with softcap and/or ALiBi drawn on top.
struct VCase {
  gen::Inputs in;
  Extras ex;
};
VCase draw_case(const Variant& v, const gen::ShapeLimits& limits) {
  VCase c{*gen::inputs(limits, {gen::Values::normal, gen::Values::uniform, gen::Values::large_logits,
                                gen::Values::dominant_key}),
          {}};
  const unsigned which = *gen::pick<unsigned>(choices(v));
  const double cap = *gen::pick<double>({5.0, 1.0, 30.0, 50.0});
  const int e = *gen::pick<int>({0, 4, 8});
  add_variants(c.in, c.ex, which, cap, *rc::gen::arbitrary<uint64_t>(), e);
  if (which & kVarlen) {
    const Problem& p = c.in.problem;
    const auto nq = vsupport::draw_lengths(p.batch, p.seqlen_q);
    const auto nk = vsupport::draw_lengths(p.batch, p.seqlen_k);
    RC_PRE(sum(nq) > 0 && sum(nk) > 0);  // the kernels take at least one query and one key
    pack_varlen(c.in, c.ex, nq, nk);
  }
  return c;
}

std::string reasons(const CaseVerdict& cv) {
  std::string s;
  for (const TensorVerdict& t : cv.tensors) s += t.reason + "\n";
  return s;
}

// Accuracy records per variant and feature, e.g. "flash2_fwd softcap+alibi".
std::string record_name(const std::string& base, const Problem& p) {
  std::string f = p.variants.softcap ? "softcap" : "";
  if (p.variants.alibi) f += f.empty() ? "alibi" : "+alibi";
  if (p.variants.varlen) f += f.empty() ? "varlen" : "+varlen";
  return base + " " + f;
}

std::vector<const Variant*> with_variants(kernels::Direction d) {
  std::vector<const Variant*> out;
  for (const Variant* v : gputest::variants(d))
    if (v->variants.any()) out.push_back(v);
  return out;
}

int cases_run = 0;

// A problem of 2 query heads sharing one KV head (MQA 2/1) for the fixed cases.
Problem two_heads(int64_t batch, int64_t sq, int64_t sk, int d, DType t, Mask m) {
  Problem p;
  p.batch = batch;
  p.heads_q = 2;
  p.seqlen_q = sq;
  p.seqlen_k = sk;
  p.head_dim = d;
  p.dtype = t;
  p.mask = m;
  return p;
}

}  // namespace

TEST_CASE("softcap, ALiBi, varlen: forward variants agree with the float64 oracle", "[gpu]") {
  const auto vs = with_variants(kernels::Direction::fwd);
  CHECK(!vs.empty());
  for (const Variant* v : vs) {
    auto limits = gputest::limits_for(*v, 700);
    limits.max_batch = 4;  // varlen: up to 4 sequences
    const std::string name = std::string(v->name) +
                             ": softcap / ALiBi / varlen O and LSE within the accuracy rule, lengths 1..700";
    cases_run = 0;
    prop(name, [v, limits] {
      const VCase c = draw_case(*v, limits);
      RC_PRE(v->supports(c.in.problem).ok);
      RC_LOG() << c.in.problem.describe() << "\n";
      const gputest::ForwardRun run = gputest::run_forward_guarded(*v, c.in, c.ex);
      RC_ASSERT(run.damage == "");
      const CaseVerdict cv = gputest::judge_forward(record_name(v->name, c.in.problem), c.in, c.ex, run);
      RC_LOG() << reasons(cv);
      RC_ASSERT(cv.pass);
      ++cases_run;
    });
    if (cases_run > 0) std::printf("property '%s': %d cases passed\n", name.c_str(), cases_run);
  }
}

TEST_CASE("softcap, ALiBi, varlen: backward variants agree with the float64 oracle", "[gpu]") {
  const auto vs = with_variants(kernels::Direction::bwd);
  CHECK(!vs.empty());
  for (const Variant* v : vs)
    for (bool deterministic : {false, true}) {
      auto limits = gputest::limits_for(*v, 400);
      limits.max_batch = 4;
      const std::string mode = std::string(v->name) + (deterministic ? " deterministic" : "");
      const std::string name = mode + ": softcap / ALiBi / varlen dQ, dK, dV within the accuracy rule, lengths 1..400";
      cases_run = 0;
      prop(name, [v, limits, deterministic, mode] {
        const VCase c = draw_case(*v, limits);
        RC_PRE(v->supports(c.in.problem).ok && kernels::paired_forward(*v).supports(c.in.problem).ok);
        RC_LOG() << c.in.problem.describe() << "\n";
        const gputest::BackwardRun run = gputest::run_backward_guarded(*v, c.in, deterministic, c.ex);
        RC_ASSERT(run.damage == "");
        const CaseVerdict cv = gputest::judge_gradients(record_name(mode, c.in.problem), c.in, c.ex, run);
        RC_LOG() << reasons(cv);
        RC_ASSERT(cv.pass);
        ++cases_run;
      });
      if (cases_run > 0) std::printf("property '%s': %d cases passed\n", name.c_str(), cases_run);
    }
}

namespace {

// Fixed awkward shapes (off the tiles, rows that see no key, GQA 2/1) with
// softcap 5 on large logits (tanh saturated), ALiBi with FlashAttention-like
// slopes, and both; every dtype and head dim of the variant.
std::vector<VCase> fixed_cases(const Variant& v) {
  const auto shapes = gputest::shapes_of(
      {Mask::none(), Mask::causal_top_left(), Mask::causal_bottom_right(), Mask::sliding_window(5, 2)},
      {{1, 1}, {130, 1}, {70, 200}, {200, 70}, {129, 129}});
  std::vector<VCase> out;
  uint64_t seed = 21;
  for (const Problem& p : gputest::fixed_problems(v, shapes, 1, 2, 1))
    for (unsigned which : choices(v)) {
      const gen::ValueSpec values = which == kSoftcap ? gen::ValueSpec{gen::Values::large_logits, 300, seed}
                                                      : gen::ValueSpec{gen::Values::normal, 1, seed};
      VCase c{gen::make_inputs(p, values), {}};
      add_variants(c.in, c.ex, which, 5.0, seed, 2);
      ++seed;
      if (v.supports(c.in.problem).ok) out.push_back(std::move(c));
    }
  // Varlen: 4 sequences of lengths off the tiles, one with no queries, one
  // with no keys (its rows see nothing), plain and with ALiBi.
  if (v.variants.varlen)
    for (const Mask& m : {Mask::none(), Mask::causal_bottom_right(), Mask::sliding_window(5, 2)})
      for (unsigned which : {0u, unsigned(kAlibi)}) {
        if ((which & kAlibi) && !v.variants.alibi) continue;
        for (DType t : v.dtypes)
          for (int d : v.head_dims) {
            const Problem p = two_heads(4, 130, 200, d, t, m);
            VCase c{gen::make_inputs(p, {gen::Values::normal, 1, seed}), {}};
            add_variants(c.in, c.ex, which, 0, seed, 3);
            ++seed;
            pack_varlen(c.in, c.ex, {0, 1, 130, 97}, {65, 0, 200, 129});
            if (v.supports(c.in.problem).ok) out.push_back(std::move(c));
          }
      }
  return out;
}

}  // namespace

TEST_CASE("softcap, ALiBi, varlen: fixed awkward shapes, forward and backward", "[gpu]") {
  for (const Variant* v : with_variants(kernels::Direction::bwd)) {
    const Variant& f = kernels::paired_forward(*v);
    int cases = 0, passed = 0;
    for (const VCase& c : fixed_cases(*v)) {
      if (!f.supports(c.in.problem).ok) continue;
      INFO(v->name << " " << c.in.problem.describe());
      for (bool deterministic : {false, true}) {
        const gputest::BackwardRun run = gputest::run_backward_guarded(*v, c.in, deterministic, c.ex);
        REQUIRE(run.damage == "");
        const CaseVerdict fv = gputest::judge_forward(record_name(f.name, c.in.problem), c.in, c.ex, run.fwd);
        const std::string mode = std::string(v->name) + (deterministic ? " deterministic" : "");
        const CaseVerdict gv = gputest::judge_gradients(record_name(mode, c.in.problem), c.in, c.ex, run);
        INFO(reasons(fv) << reasons(gv));
        CHECK(fv.pass);
        CHECK(gv.pass);
        ++cases;
        passed += fv.pass && gv.pass;
      }
    }
    std::printf("softcap/ALiBi/varlen fixed shapes: %s with %s: %d runs, %d passed\n", v->name, f.name, cases,
                passed);
    CHECK(cases > 0);
  }
}

// Planted bugs, from the real kernels, that the judgements above must
// catch: (1) softcap dropped in the backward (the backward run as plain
// attention on the softcap forward's O and LSE), (2) the ALiBi slopes' sign
// flipped (the kernels run on -slopes, judged against +slopes). Each is
// checked on a few cases; every one must fail the accuracy rule. (3) below.
TEST_CASE("softcap, ALiBi, varlen: planted bugs are caught", "[gpu]") {
  for (const Variant* v : with_variants(kernels::Direction::bwd)) {
    const Variant& f = kernels::paired_forward(*v);
    int caught_softcap = 0, caught_alibi = 0, tried_softcap = 0, tried_alibi = 0;
    for (DType t : v->dtypes)
      for (int d : v->head_dims)
        for (const Mask& m : {Mask::none(), Mask::causal_bottom_right()}) {
          const Problem p = two_heads(1, 97, 150, d, t, m);
          gen::Inputs plain = gen::make_inputs(p, {gen::Values::large_logits, 8, 5});
          if (v->variants.softcap && v->supports(p).ok && f.supports(p).ok) {
            gen::Inputs capped = plain;
            capped.problem.variants.softcap = 5.0;
            const gputest::ForwardRun fwd = gputest::run_forward_guarded(f, capped, {});
            // The mutant: the backward that forgot softcap (plain P from the capped LSE).
            const gputest::BackwardRun bad = gputest::run_backward_on(*v, plain, {}, fwd, false);
            const CaseVerdict cv = gputest::judge_gradients("", capped, {}, bad);
            INFO("softcap dropped: " << capped.problem.describe() << "\n" << reasons(cv));
            CHECK_FALSE(cv.pass);
            ++tried_softcap;
            caught_softcap += !cv.pass;
          }
          if (v->variants.alibi) {
            gen::Inputs alibi = plain;
            Extras ex, flipped;
            add_variants(alibi, ex, kAlibi, 0, 77, 4);
            if (!v->supports(alibi.problem).ok || !f.supports(alibi.problem).ok) continue;
            flipped.alibi_slopes = ex.alibi_slopes;
            for (double& s : flipped.alibi_slopes) s = -s;
            const gputest::BackwardRun bad = gputest::run_backward_guarded(*v, alibi, false, flipped);
            const CaseVerdict fv = gputest::judge_forward("", alibi, ex, bad.fwd);
            const CaseVerdict gv = gputest::judge_gradients("", alibi, ex, bad);
            INFO("ALiBi sign flipped: " << alibi.problem.describe() << "\n" << reasons(fv) << reasons(gv));
            CHECK_FALSE(fv.pass);
            CHECK_FALSE(gv.pass);
            ++tried_alibi;
            caught_alibi += !fv.pass && !gv.pass;
          }
        }
    // (3) varlen offsets off by one row: the kernels run with every inner
    // sequence boundary of cu_seqlens_k one key later, judged against the
    // true boundaries.
    int caught_varlen = 0, tried_varlen = 0;
    if (v->variants.varlen)
      for (DType t : v->dtypes)
        for (int d : v->head_dims) {
          const Problem p = two_heads(3, 129, 150, d, t, Mask::none());
          gen::Inputs in = gen::make_inputs(p, {gen::Values::normal, 1, 6});
          Extras ex;
          pack_varlen(in, ex, {100, 70, 129}, {90, 150, 64});
          if (!v->supports(in.problem).ok || !f.supports(in.problem).ok) continue;
          Extras shifted = ex;
          for (size_t b = 1; b + 1 < shifted.cu_seqlens_k.size(); ++b) ++shifted.cu_seqlens_k[b];
          const gputest::BackwardRun bad = gputest::run_backward_guarded(*v, in, false, shifted);
          const CaseVerdict fv = gputest::judge_forward("", in, ex, bad.fwd);
          const CaseVerdict gv = gputest::judge_gradients("", in, ex, bad);
          INFO("varlen offset off by one: " << in.problem.describe() << "\n" << reasons(fv) << reasons(gv));
          CHECK_FALSE(fv.pass);
          CHECK_FALSE(gv.pass);
          ++tried_varlen;
          caught_varlen += !fv.pass && !gv.pass;
        }
    std::printf("planted bugs: %s: softcap dropped in the backward caught %d/%d, ALiBi sign flipped "
                "caught %d/%d, varlen offsets off by one caught %d/%d\n",
                v->name, caught_softcap, tried_softcap, caught_alibi, tried_alibi, caught_varlen,
                tried_varlen);
    CHECK(tried_softcap + tried_alibi + tried_varlen > 0);
  }
}
