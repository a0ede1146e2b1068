// Bad input (issue 2, item 9): every validation rule of Problem::validate
// throws a ProblemError naming the bad field; the reference functions reject
// tensors of the wrong shape before writing anything; the parsers reject
// unknown spellings with the accepted ones in the message.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "reference/accuracy.hpp"
#include "reference/oracle.hpp"
#include "reference/attention.hpp"
#include "reference/baseline.hpp"

namespace flashcheck {
namespace {

Problem good() {
  Problem p;
  p.batch = 2;
  p.heads_q = 4;
  p.heads_kv = 2;
  p.seqlen_q = 5;
  p.seqlen_k = 7;
  p.head_dim = 3;
  p.dtype = DType::f64;
  return p;
}

// The field named by the ProblemError that p.validate() throws ("" if none).
std::string bad_field(const Problem& p) {
  try {
    p.validate();
  } catch (const ProblemError& e) {
    INFO(e.what());
    CHECK(std::string(e.what()).find(e.field()) != std::string::npos);  // the message names it too
    return e.field();
  }
  return "";
}

TEST_CASE("validate: a good problem passes") { CHECK(bad_field(good()) == ""); }

TEST_CASE("validate: sizes must be >= 1") {
  const std::pair<const char*, int64_t Problem::*> fields[] = {
      {"batch", &Problem::batch},       {"heads_q", &Problem::heads_q},
      {"heads_kv", &Problem::heads_kv}, {"seqlen_q", &Problem::seqlen_q},
      {"seqlen_k", &Problem::seqlen_k}, {"head_dim", &Problem::head_dim}};
  for (const auto& f : fields)
    for (int64_t v : {int64_t(0), int64_t(-1), std::numeric_limits<int64_t>::min()}) {
      Problem p = good();
      p.*f.second = v;
      INFO(f.first << " = " << v);
      CHECK(bad_field(p) == f.first);
    }
}

TEST_CASE("validate: heads_q must be a multiple of heads_kv") {
  Problem p = good();
  p.heads_q = 5;
  p.heads_kv = 2;
  CHECK(bad_field(p) == "heads_kv");
  p.heads_q = 1;  // fewer query heads than KV heads
  CHECK(bad_field(p) == "heads_kv");
}

TEST_CASE("validate: window sides must be >= 0") {
  Problem p = good();
  p.mask = Mask::sliding_window(-1, 2);
  CHECK(bad_field(p) == "mask.window_left");
  p.mask = Mask::sliding_window(3, -4);
  CHECK(bad_field(p) == "mask.window_right");
  p.mask = parse_mask("window:-2:0");  // parses; validation catches it
  CHECK(bad_field(p) == "mask.window_left");
}

TEST_CASE("validate: scale must be finite and > 0") {
  for (double s : {0.0, -0.0, -1.0, std::numeric_limits<double>::infinity(),
                   -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN()}) {
    Problem p = good();
    p.scale = s;
    INFO("scale = " << s);
    CHECK(bad_field(p) == "scale");
  }
}

TEST_CASE("validate: element counts that overflow 64 bits") {
  Problem p = good();
  p.seqlen_q = p.seqlen_k = int64_t(1) << 31;  // S has 2^62 * B * H elements
  CHECK(bad_field(p) == "seqlen_k");
  p = good();
  p.head_dim = int64_t(1) << 60;  // Q has 2^60 * 40 elements
  CHECK(bad_field(p) == "head_dim");
  p = good();
  p.batch = p.heads_q = p.heads_kv = int64_t(1) << 40;  // B * Hq alone overflows
  CHECK(bad_field(p) == "heads_q");
}

TEST_CASE("reference functions reject wrong tensor shapes before writing") {
  const Problem p = good();
  const Tensor4<double> q(q_shape(p), 0.5), kv(kv_shape(p), 0.25), lse(lse_shape(p));
  const Tensor4<double> wrong_q({p.batch, p.heads_q, p.seqlen_q + 1, p.head_dim});
  const Tensor4<double> wrong_kv({p.batch, p.heads_q, p.seqlen_k, p.head_dim});  // MHA shape, GQA problem
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(reference_forward(p, wrong_q, kv, kv), Contains("Q: shape"));
  CHECK_THROWS_WITH(reference_forward(p, q, wrong_kv, kv), Contains("K: shape"));
  CHECK_THROWS_WITH(reference_forward(p, q, kv, wrong_kv), Contains("V: shape"));
  CHECK_THROWS_WITH(backward_D(p, wrong_q, q), Contains("O: shape"));
  CHECK_THROWS_WITH(backward_D(p, q, wrong_q), Contains("dO: shape"));
  CHECK_THROWS_WITH(backward_main(p, q, kv, kv, q, q, lse), Contains("LSE: shape"));
  CHECK_THROWS_WITH(backward_main(p, q, kv, kv, lse, q, q), Contains("D: shape"));
  CHECK_THROWS_WITH(reference_backward(p, q, kv, kv, q, lse, wrong_q), Contains("dO: shape"));
  CHECK_THROWS_WITH(baseline_forward(Problem(p), q, kv, wrong_kv), Contains("V: shape"));
  Problem half = p;
  half.dtype = DType::f16;
  CHECK_THROWS_WITH(baseline_forward(half, q, kv, wrong_kv), Contains("V: shape"));
  CHECK_THROWS_WITH(baseline_backward(half, q, kv, kv, q, lse, wrong_q), Contains("dO: shape"));
  CHECK_THROWS_WITH(baseline_backward(half, q, kv, kv, q, q, q), Contains("LSE: shape"));
  BackwardMain bad{Tensor4<double>(q_shape(p)), Tensor4<double>(kv_shape(p)), Tensor4<double>(kv_shape(p))};
  CHECK_THROWS_WITH(backward_finalise(p, std::move(bad)), Contains("dK_per_qhead: shape"));
}

TEST_CASE("reference functions reject invalid problems") {
  Problem p = good();
  const Tensor4<double> q(q_shape(p)), kv(kv_shape(p));
  p.head_dim = 0;
  CHECK_THROWS_AS(reference_forward(p, q, kv, kv), ProblemError);
  p = good();
  p.scale = -1.0;
  CHECK_THROWS_AS(baseline_forward(p, q, kv, kv), ProblemError);
}

TEST_CASE("accuracy functions reject mismatched sizes") {
  const std::vector<double> a(3), b(4);
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(judge_tensor("o", a, a, b, b, kOutputFactor), Contains("sizes differ"));
  CHECK_THROWS_WITH(judge_tensor("o", a, b, a, a, kOutputFactor), Contains("sizes differ"));
  CHECK_THROWS_WITH(judge_tensor("o", a, a, a, b, kOutputFactor), Contains("sizes differ"));
  CHECK_THROWS_AS(error_stats(a.data(), a.data(), -1), std::invalid_argument);
  Problem p;
  p.seqlen_q = 3, p.seqlen_k = 3, p.head_dim = 1, p.dtype = DType::bf16;
  const Tensor4<double> x(q_shape(p), 0.5), y({1, 1, 1, 3});
  const Oracle o = make_oracle(p, OracleInputs{x, x, x, x});
  CHECK_THROWS_WITH(judge_case(p, o, Outputs{y, {}, {}, {}, {}}, {"o"}), Contains("o: shape"));
  CHECK_THROWS_WITH(judge_case(p, o, Outputs{x, {}, {}, {}, {}}, {"dx"}), Contains("unknown tensor"));
  const Oracle fwd_only = make_oracle(p, OracleInputs{x, x, x, {}});
  CHECK_THROWS_WITH(judge_case(p, fwd_only, Outputs{}, {"dq"}), Contains("no dO"));
}

TEST_CASE("parse_dtype: accepted spellings and errors") {
  CHECK(parse_dtype("bf16") == DType::bf16);
  CHECK(parse_dtype("half") == DType::f16);
  CHECK(parse_dtype("float32") == DType::f32);
  CHECK(parse_dtype("fp64") == DType::f64);
  using Catch::Matchers::Contains;
  for (const char* s : {"", "f8", "BF16", "float 16", "f16 "})
    CHECK_THROWS_WITH(parse_dtype(s), Contains("unknown dtype") && Contains("f16"));
}

TEST_CASE("parse_mask: accepted spellings and errors") {
  CHECK(parse_mask("causal").kind == MaskKind::causal_top_left);
  CHECK(parse_mask("causal_bottom_right").kind == MaskKind::causal_bottom_right);
  const Mask w = parse_mask("window:3:0");
  CHECK((w.kind == MaskKind::sliding_window && w.window_left == 3 && w.window_right == 0));
  using Catch::Matchers::Contains;
  for (const char* s : {"", "Causal", "window", "window:", "window:1", "window:1:", "window:a:b",
                        "window:1:2:3", "window:1:2x", "window:1;2", "window: 1:2x"})
    CHECK_THROWS_WITH(parse_mask(s), Contains("unknown mask") && Contains("window:LEFT:RIGHT"));
}

}  // namespace
}  // namespace flashcheck
