// Entry points of every variant, one group per variant file; registry.cpp
// puts them in the one registry. Nothing else should call them directly.
#pragma once
#include <string>

#include "kernels/api.hpp"

namespace flashcheck::kernels {

// standard_fwd.cu
ScheduleDesc standard_fwd_schedule(const Problem& p);
Support standard_fwd_supports(const Problem& p);
// What standard and standard_bwd (same cuBLAS limits) support, refusals named `name`.
Support standard_supports_as(const Problem& p, const std::string& name);
std::size_t standard_fwd_workspace_bytes(const Problem& p);
void standard_fwd_forward(const Problem& p, const ForwardArgs& a);

// What flash2_fwd and flash2_bwd compute beyond plain attention (their
// supports() and their registry lines share it).
inline constexpr VariantSet kFlash2Variants{true, true, true};

// flash2_fwd.cu
ScheduleDesc flash2_fwd_schedule(const Problem& p);
Support flash2_fwd_supports(const Problem& p);
std::size_t flash2_fwd_workspace_bytes(const Problem& p);
void flash2_fwd_forward(const Problem& p, const ForwardArgs& a);

// flash2_fwd_tuned.cu
ScheduleDesc flash2_fwd_tuned_schedule(const Problem& p);
Support flash2_fwd_tuned_supports(const Problem& p);
std::size_t flash2_fwd_tuned_workspace_bytes(const Problem& p);
void flash2_fwd_tuned_forward(const Problem& p, const ForwardArgs& a);

// hopper_fwd.cu (sm_90a)
ScheduleDesc hopper_fwd_schedule(const Problem& p);
Support hopper_fwd_supports(const Problem& p);
std::size_t hopper_fwd_workspace_bytes(const Problem& p);
void hopper_fwd_forward(const Problem& p, const ForwardArgs& a);

// standard_bwd.cu
ScheduleDesc standard_bwd_schedule(const Problem& p);
Support standard_bwd_supports(const Problem& p);
std::size_t standard_bwd_workspace_bytes(const Problem& p);
void standard_bwd_backward(const Problem& p, const BackwardArgs& a);

// flash2_bwd.cu
ScheduleDesc flash2_bwd_schedule(const Problem& p);
Support flash2_bwd_supports(const Problem& p);
std::size_t flash2_bwd_workspace_bytes(const Problem& p);
void flash2_bwd_backward(const Problem& p, const BackwardArgs& a);

}  // namespace flashcheck::kernels
