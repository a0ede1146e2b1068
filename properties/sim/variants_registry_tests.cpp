// The simulator's table of kernel launches (sim/variants.cpp) restates
// flashcheck's kernel tiles because CPU builds do not link the CUDA registry;
// with CUDA on, this checks the table against kernels::registry() (host code
// only: no GPU needed).
#include <catch2/catch.hpp>

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

}  // namespace
}  // namespace flashcheck
