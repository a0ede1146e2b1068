// The one registry of kernel variants. The GPU properties, the sanitizer
// driver and the benchmark iterate it; adding a variant is one file and one
// line in registry.cpp.
#pragma once
#include <string>
#include <vector>

#include "kernels/api.hpp"

namespace flashcheck::kernels {

struct Variant {
  const char* name;
  Direction direction;
  std::vector<DType> dtypes;
  std::vector<int> head_dims;  // the head dims it instantiates; empty: any in [1, max_head_dim]
  int max_head_dim;
  std::vector<MaskKind> masks;
  ScheduleDesc (*schedule)(const Problem&);
  // Yes, or why not (dtype, head dim, grid limits...). Assumes p.validate() passed.
  Support (*supports)(const Problem&);
  // Device bytes of intermediates beyond Q, K, V, O and LSE.
  std::size_t (*workspace_bytes)(const Problem&);
  // Enqueues the forward on args.stream (fwd variants; nullptr otherwise).
  void (*forward)(const Problem&, const ForwardArgs&);
  // Enqueues the backward on args.stream (bwd variants; nullptr otherwise).
  void (*backward)(const Problem&, const BackwardArgs&) = nullptr;
  // The attention variants it computes (softcap, ALiBi); supports() refuses the rest.
  VariantSet variants = {};

  bool has_dtype(DType t) const;
  bool has_mask(MaskKind k) const;
};

const std::vector<Variant>& registry();
// Throws std::invalid_argument listing the registered names when unknown.
const Variant& find_variant(const std::string& name);

// p's dtype and head dim against the registry row of `name` (its one list of
// each, and its max head dim), so a variant's supports() does not restate them:
// no, naming the lists.
Support registered_shape(const Problem& p, const std::string& name);

// The forward whose O and LSE a backward variant consumes: "<x>_bwd" ->
// "<x>_fwd", else `standard`.
const Variant& paired_forward(const Variant& bwd);

// Validates the problem, asks supports() and checks the arguments (non-null,
// 16-byte aligned, workspace large enough), then launches. Every failure is
// an exception: std::invalid_argument for the caller's mistakes, CudaError
// for CUDA's.
void run_forward(const Variant& v, const Problem& p, const ForwardArgs& args);
// The same for a backward variant.
void run_backward(const Variant& v, const Problem& p, const BackwardArgs& args);

}  // namespace flashcheck::kernels
