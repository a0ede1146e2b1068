// hopper_tune: times candidate configurations of the hopper_fwd kernel
// template (Bc, pipeline stages, ping-pong of the two consumer warpgroups on
// or off) on the benchmark grid shapes, after checking each against the
// registered hopper_fwd. Built only with -DFLASHCHECK_TUNING=ON (CI never
// compiles it); its CSV goes to reports/gpu/, so losing configurations are
// recorded there rather than kept as code. The same harness as flash2_tune.
//
//   hopper_tune [--repeats N] > hopper_tune.csv
#include "kernels/hopper_fwd_kernel.cuh"
#include "kernels/tools/tune_harness.cuh"

using namespace flashcheck;
using namespace flashcheck::kernels;
using tune::Candidate;

namespace {

template <class Tr>
Candidate make(const char* name) {
  return tune::candidate(name, Tr::kHeadDim, hopper::hopper_fwd_kernel<Tr, __nv_bfloat16>,
                         hopper::launch<Tr, __nv_bfloat16>);
}

using hopper::HopperFwdTraits;
// <head_dim, Bc, stages, ping-pong>; the first of each head dim is hopper_fwd's.
std::vector<Candidate> candidates() {
  return {
      make<HopperFwdTraits<64, 128, 2, true>>("d64 Bc128 s2 pingpong"),
      make<HopperFwdTraits<64, 128, 2, false>>("d64 Bc128 s2 no-pingpong"),
      make<HopperFwdTraits<64, 128, 3, true>>("d64 Bc128 s3 pingpong"),
      make<HopperFwdTraits<64, 64, 2, true>>("d64 Bc64 s2 pingpong"),
      make<HopperFwdTraits<128, 128, 2, true>>("d128 Bc128 s2 pingpong"),
      make<HopperFwdTraits<128, 128, 2, false>>("d128 Bc128 s2 no-pingpong"),
      make<HopperFwdTraits<128, 128, 3, true>>("d128 Bc128 s3 pingpong"),
      make<HopperFwdTraits<128, 64, 2, true>>("d128 Bc64 s2 pingpong"),
  };
}

}  // namespace

int main(int argc, char** argv) {
  return tune::run(argc, argv, "hopper_tune", "hopper_fwd", candidates());
}
