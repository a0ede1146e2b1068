// flash2_tune: times candidate configurations of the flash2_fwd kernel
// template (warps, rows per warp, Bc, pipeline stages, Q in registers) on the
// benchmark grid shapes, after checking each against the registered
// flash2_fwd. Built only with -DFLASHCHECK_TUNING=ON (CI never compiles it);
// its CSV goes to reports/gpu/, so losing configurations are recorded there
// rather than kept as code.
//
//   flash2_tune [--repeats N] > tune.csv
#include "kernels/flash2_fwd_kernel.cuh"
#include "kernels/tools/tune_harness.cuh"

using namespace flashcheck;
using namespace flashcheck::kernels;
using tune::Candidate;

namespace {

template <class Tr>
Candidate make(const char* name) {
  return tune::candidate(name, Tr::kHeadDim, flash2::flash2_fwd_kernel<Tr, __nv_bfloat16, false>,
                         flash2::launch<Tr, __nv_bfloat16, false>);
}

using flash2::Flash2FwdTraits;
// <head_dim, Bc, warps, m16 tiles per warp, stages, Q in registers, min blocks>
std::vector<Candidate> candidates() {
  return {
      make<Flash2FwdTraits<64, 64, 4, 2, 2, true, 2>>("d64 Bc64 w4 m2 s2 qreg mb2"),
      make<Flash2FwdTraits<64, 128, 8, 1, 2, true>>("d64 Bc128 w8 m1 s2 qreg"),
      make<Flash2FwdTraits<64, 128, 8, 1, 2, false>>("d64 Bc128 w8 m1 s2 qsmem"),
      make<Flash2FwdTraits<64, 64, 4, 2, 3, true>>("d64 Bc64 w4 m2 s3 qreg"),
      make<Flash2FwdTraits<64, 64, 8, 1, 2, true, 2>>("d64 Bc64 w8 m1 s2 qreg mb2"),
      make<Flash2FwdTraits<128, 128, 8, 1, 2, false>>("d128 Bc128 w8 m1 s2 qsmem"),
      make<Flash2FwdTraits<128, 64, 8, 1, 2, true>>("d128 Bc64 w8 m1 s2 qreg"),
      make<Flash2FwdTraits<128, 128, 8, 1, 3, false>>("d128 Bc128 w8 m1 s3 qsmem"),
      make<Flash2FwdTraits<128, 96, 8, 1, 2, false>>("d128 Bc96 w8 m1 s2 qsmem"),
      make<Flash2FwdTraits<128, 64, 8, 1, 3, true>>("d128 Bc64 w8 m1 s3 qreg"),
      make<Flash2FwdTraits<128, 64, 4, 2, 2, false>>("d128 Bc64 w4 m2 s2 qsmem"),
  };
}

}  // namespace

int main(int argc, char** argv) {
  return tune::run(argc, argv, "flash2_tune", "flash2_fwd", candidates());
}
