// GPU side of the kernel properties: upload generated inputs, run a variant
// with every buffer wrapped in guard regions and the outputs poisoned with
// NaN, download the results as float64 for the accuracy rule.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/device_buffer.hpp"
#include "kernels/registry.hpp"
#include "cases/generators.hpp"
#include "reference/accuracy.hpp"
#include "reference/oracle.hpp"
#include "reference/variant_attention.hpp"

namespace flashcheck::gputest {

constexpr int kSkipCode = 77;        // CTest SKIP_RETURN_CODE of the GPU suites
constexpr std::size_t kGuard = 256;  // bytes before and after every buffer (keeps 16 B alignment)
constexpr unsigned char kGuardByte = 0xA5;

// A device buffer of `bytes` with kGuard bytes of kGuardByte on each side.
class GuardedBuffer {
 public:
  explicit GuardedBuffer(std::size_t bytes);
  void* get() const { return static_cast<unsigned char*>(raw_.get()) + kGuard; }
  std::size_t bytes() const { return bytes_; }
  // Empty when both guards still hold kGuardByte, else which side and offset.
  std::string guard_damage(const char* name) const;
  std::vector<unsigned char> download() const;

 private:
  kernels::DeviceBuffer raw_;
  std::size_t bytes_;
};

struct ForwardRun {
  std::vector<double> O;            // as float64
  std::vector<double> LSE;          // as float64 (float32 on the device)
  std::vector<unsigned char> O_bits, LSE_bits;  // raw device bytes, for bitwise comparisons
  std::string damage;               // guard or input damage; empty when none
};

// Uploads in.Q, K, V in in.problem.dtype (and the ALiBi slopes of ex as
// float32), poisons O and LSE with NaN, runs the variant once and downloads
// everything. Throws what run_forward throws.
ForwardRun run_forward_guarded(const kernels::Variant& v, const gen::Inputs& in,
                               const Extras& ex = {});

struct BackwardRun {
  ForwardRun fwd;                   // the paired forward's O and LSE, as fed to the backward
  std::vector<double> dQ, dK, dV;   // as float64
  std::vector<unsigned char> dQ_bits, dK_bits, dV_bits;
  std::string damage;
};

// Runs the paired forward (guarded), then the backward variant with dQ, dK,
// dV NaN-poisoned and every buffer guarded; dO is in.dO.
BackwardRun run_backward_guarded(const kernels::Variant& bwd, const gen::Inputs& in,
                                 bool deterministic, const Extras& ex = {});
// The backward alone, fed the O and LSE of a forward run already made (the
// planted-bug checks feed it a forward of a different problem).
BackwardRun run_backward_on(const kernels::Variant& bwd, const gen::Inputs& in, const Extras& ex,
                            const ForwardRun& fwd, bool deterministic);

// The one accuracy rule (judge_case) on a run's outputs, the problem's
// variants and ex included; each tensor's verdict recorded under `name`
// (record_accuracy) unless name is empty.
CaseVerdict judge_forward(const std::string& name, const gen::Inputs& in, const Extras& ex,
                          const ForwardRun& run);
CaseVerdict judge_gradients(const std::string& name, const gen::Inputs& in, const Extras& ex,
                            const BackwardRun& run);

// Accuracy record for reports/gpu/accuracy.csv (read by `flashcheck report`):
// per (variant, direction, output, dtype, mask kind) the case count, worst
// max and mean |x - ref64|, the baseline's worst max error, the largest
// per-case ratio err(variant) / err(baseline), how many cases passed and in
// how many the check was informative (TensorVerdict::informative).
void record_accuracy(const std::string& variant, const char* direction, const char* output,
                     const Problem& p, const TensorVerdict& v);
// Writes the records as CSV with device, date and commit (FLASHCHECK_COMMIT).
void write_accuracy_csv(const std::string& path);

// Generator limits for a variant: its dtypes and head dims, lengths up to
// max_seqlen leaning to the edges of its Br and Bc (64 and 128 when unfused).
gen::ShapeLimits limits_for(const kernels::Variant& v, int64_t max_seqlen);

// The registered variants of one direction.
std::vector<const kernels::Variant*> variants(kernels::Direction d);

// A kernel run's values as a tensor of the given shape (for judge_case).
Tensor4<double> as_tensor(Shape4 shape, const std::vector<double>& values);

// Fixed (not random) problems: every shape for every dtype and head dim of
// the variant (64 and 80 when it takes any), with the given batch and heads,
// that the variant supports.
struct FixedShape {
  int64_t seqlen_q, seqlen_k;
  Mask mask;
};
std::vector<FixedShape> shapes_of(const std::vector<Mask>& masks,
                                  const std::vector<std::pair<int64_t, int64_t>>& lengths);
std::vector<Problem> fixed_problems(const kernels::Variant& v, const std::vector<FixedShape>& shapes,
                                    int64_t batch, int64_t heads_q, int64_t heads_kv);

}  // namespace flashcheck::gputest
