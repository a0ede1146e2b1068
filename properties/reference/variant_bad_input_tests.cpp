// Variant problems that make no sense are ProblemErrors naming the field;
// seqlen_k = 0 and empty batches are defined results, not errors, once
// variants.allow_empty says so.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "properties/reference/variant_support.hpp"

namespace flashcheck {
namespace {

using vsupport::Case;

Case small_case() {
  gen::ValueSpec v;
  v.seed = 7;
  Problem p;
  p.batch = 2, p.heads_q = 4, p.heads_kv = 2, p.seqlen_q = 5, p.seqlen_k = 6, p.head_dim = 3;
  p.dtype = DType::f64;
  return vsupport::from_inputs(gen::make_inputs(p, v));
}

// The field named by the ProblemError the variant forward throws ("" if none).
std::string bad_field(const Case& c) {
  try {
    variant_forward(c.problem, c.extras, c.Q, c.K, c.V);
  } catch (const ProblemError& e) {
    return e.field();
  }
  return "";
}

TEST_CASE("variant problems: nonsense is a ProblemError naming the field") {
  Case c = small_case();
  CHECK(bad_field(c) == "");
  {
    Case x = c;
    x.problem.variants.softcap = 0.0;
    CHECK(bad_field(x) == "variants.softcap");
    x.problem.variants.softcap = std::numeric_limits<double>::infinity();
    CHECK(bad_field(x) == "variants.softcap");
  }
  {
    Case x = c;
    vsupport::add_dropout(x, 0.5, 1);
    x.problem.variants.dropout_p = 1.0;
    CHECK(bad_field(x) == "variants.dropout_p");
    x.problem.variants.dropout_p.reset();
    CHECK(bad_field(x) == "extras.keep");  // a keep mask without dropout
  }
  {
    Case x = c;
    x.problem.variants.dropout_p = 0.1;  // dropout without a keep mask
    CHECK(bad_field(x) == "extras.keep");
  }
  {
    Case x = c;
    vsupport::add_alibi(x, 1);
    x.extras.alibi_slopes.pop_back();
    CHECK(bad_field(x) == "extras.alibi_slopes");
  }
  {
    Case x = c;
    x.extras.sinks = {0, 0, 0, 0};
    CHECK(bad_field(x) == "extras.sinks");  // given, variants.sinks off
    x.problem.variants.sinks = true;
    x.extras.sinks[1] = std::numeric_limits<double>::infinity();
    CHECK(bad_field(x) == "extras.sinks");
  }
  {
    Case x = c;
    vsupport::add_bias(x, 1);
    x.extras.bias = Tensor4<double>({2, 4, 5, 5});
    CHECK(bad_field(x) == "extras.bias");
    x.extras.bias = Tensor4<double>({2, 4, 5, 6}, NAN);
    CHECK(bad_field(x) == "extras.bias");
  }
  {
    Case x = c;
    x.problem.variants.bool_mask = true;
    CHECK(bad_field(x) == "extras.mask");
  }
  {
    Case x = c;
    vsupport::make_varlen(x, {5, 2}, {6, 0});
    CHECK(bad_field(x) == "");
    x.extras.cu_seqlens_q = {0, 6, 7};  // a sequence longer than seqlen_q
    CHECK(bad_field(x) == "extras.cu_seqlens_q");
    x.extras.cu_seqlens_q = {0, 5};
    CHECK(bad_field(x) == "extras.cu_seqlens_q");
    x.extras.cu_seqlens_q = {0, 5, 7};
    x.extras.cu_seqlens_k = {1, 6, 6};
    CHECK(bad_field(x) == "extras.cu_seqlens_k");
    x.extras.cu_seqlens_k = {0, 6, 6};
    x.problem.variants.page_size = 4;
    x.problem.variants.num_pages = 4;
    CHECK(bad_field(x) == "variants.page_size");  // paged + varlen
  }
  {
    Case x = c;
    vsupport::make_paged(x, 4, 1, 3);
    CHECK(bad_field(x) == "");
    x.extras.block_table[0] = x.problem.variants.num_pages;
    CHECK(bad_field(x) == "extras.block_table");
    x.extras.block_table.pop_back();
    CHECK(bad_field(x) == "extras.block_table");
    x.problem.variants.num_pages = 0;
    CHECK(bad_field(x) == "variants.num_pages");
    x.problem.variants.page_size.reset();
    x.problem.variants.num_pages = 3;
    CHECK(bad_field(x) == "variants.num_pages");
  }
  {
    Case x = c;
    x.problem.seqlen_k = 0;
    CHECK(bad_field(x) == "seqlen_k");  // 0 only with allow_empty
  }
}

TEST_CASE("the plain paths refuse problems with variants") {
  Case c = small_case();
  c.problem.variants.softcap = 30.0;
  try {
    reference_forward(c.problem, c.Q, c.K, c.V);
    FAIL("reference_forward accepted a softcap problem");
  } catch (const ProblemError& e) {
    CHECK(e.field() == "variants");
  }
  CHECK(c.problem.describe().find("variants=softcap=30") != std::string::npos);
}

TEST_CASE("seqlen_k = 0 and empty batches: defined results") {
  const double ninf = -std::numeric_limits<double>::infinity();
  Case c = small_case();
  c.problem.variants.allow_empty = true;
  c.problem.seqlen_k = 0;
  c.K = Tensor4<double>(kv_shape(c.problem));
  c.V = c.K;
  auto r = vsupport::run(c);
  CHECK(support::max_abs(r.fwd.O) == 0.0);
  for (double x : r.fwd.LSE.values()) CHECK(x == ninf);
  CHECK(support::max_abs(r.grad.dQ) == 0.0);
  CHECK(r.grad.dK.size() == 0);
  // With a sink, a row with no key has LSE = sink and O = 0.
  vsupport::add_sinks(c, 5);
  r = vsupport::run(c);
  CHECK(support::max_abs(r.fwd.O) == 0.0);
  for (int64_t h = 0; h < c.problem.heads_q; ++h) CHECK(r.fwd.LSE(1, h, 2) == c.extras.sinks[h]);
  for (double x : r.grad.dsinks) CHECK(x == 0.0);  // D = dO . O = 0

  Case e = small_case();
  e.problem.variants.allow_empty = true;
  e.problem.batch = 0;
  e.Q = Tensor4<double>(q_shape(e.problem));
  e.dO = e.Q;
  e.K = Tensor4<double>(kv_shape(e.problem));
  e.V = e.K;
  r = vsupport::run(e);
  CHECK(r.fwd.O.size() == 0);
  CHECK(r.grad.dK.size() == 0);

  Case v = small_case();  // varlen with every sequence empty
  vsupport::make_varlen(v, {0, 0}, {0, 0});
  r = vsupport::run(v);
  CHECK(r.fwd.O.size() == 0);
}

}  // namespace
}  // namespace flashcheck
