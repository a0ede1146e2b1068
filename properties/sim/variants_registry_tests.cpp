// The simulator's table of kernel launches (sim/variants.cpp) restates
// flashcheck's kernel tiles because CPU builds do not link the CUDA registry;
// with CUDA on, this checks the table against kernels::registry() (host code
// only: no GPU needed).
#include <catch2/catch.hpp>

#include <algorithm>

#include "kernels/registry.hpp"
#include "sim/variants.hpp"

namespace flashcheck {
namespace {

TEST_CASE("sim variants: flashcheck's tiles are the registry's") {
  for (const char* name : {"flash2_fwd", "flash2_bwd"}) {
    const auto& dims = kernels::find_variant(name).head_dims;
    REQUIRE(!dims.empty());
    // The same head dims on both sides: the loop below covers each of the registry's, and the
    // simulator instantiates no head dim the kernel lacks.
    CHECK(sim::find_kernel_variant(name).tiles.size() == dims.size());
    for (int64_t d : dims) {
      Problem p;
      p.seqlen_q = p.seqlen_k = 4096;
      p.head_dim = d;
      p.dtype = DType::bf16;
      const sim::ScheduleDesc want = kernels::find_variant(name).schedule(p);
      const sim::ScheduleDesc got = sim::find_kernel_variant(name).schedule(p);
      CAPTURE(name, d);
      CHECK(got.kind == want.kind);
      CHECK(got.direction == want.direction);
      CHECK(got.Br == want.Br);
      CHECK(got.Bc == want.Bc);
    }
  }
}

// Each variant's supports() takes its dtypes and head dims from its registry row
// (kernels::registered_shape): whatever the row does not list is refused, naming the lists.
TEST_CASE("kernels registry: supports() refuses the dtypes and head dims its row does not list") {
  for (const kernels::Variant& v : kernels::registry()) {
    for (DType t : {DType::f32, DType::f16, DType::bf16, DType::f64})
      for (int64_t d = 16; d <= 256; d += 16) {
        Problem p;
        p.seqlen_q = p.seqlen_k = 256;
        p.head_dim = d;
        p.dtype = t;
        const bool listed = v.has_dtype(t) && (v.head_dims.empty() ||
                            std::find(v.head_dims.begin(), v.head_dims.end(), d) != v.head_dims.end());
        CAPTURE(v.name, dtype_name(t), d);
        CHECK(static_cast<bool>(kernels::registered_shape(p, v.name)) == listed);
        if (!listed) {
          const kernels::Support s = v.supports(p);
          CHECK_FALSE(s.ok);
          CHECK_THAT(s.reason, Catch::Contains(v.name));
        }
      }
  }
  Problem p;
  p.head_dim = 80;
  p.dtype = DType::bf16;
  CHECK(kernels::registered_shape(p, "flash2_bwd").reason ==
        "flash2_bwd instantiates head dims 32, 64, 96, 128 and 256, not 80");
  p.head_dim = 64;
  p.dtype = DType::f32;
  CHECK(kernels::registered_shape(p, "hopper_fwd").reason == "hopper_fwd runs f16 and bf16 only, not f32");
}

}  // namespace
}  // namespace flashcheck
