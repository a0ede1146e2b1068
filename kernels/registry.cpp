// The one registry: one line per variant. See README.md, "Adding a variant".
#include "kernels/registry.hpp"

#include <algorithm>
#include <cstdint>
#include <stdexcept>

#include "kernels/variants.hpp"

namespace flashcheck::kernels {

namespace {
const std::vector<MaskKind> kAllMasks = {MaskKind::none, MaskKind::causal_top_left,
                                         MaskKind::causal_bottom_right, MaskKind::sliding_window};
}  // namespace

const std::vector<Variant>& registry() {
  static const std::vector<Variant> variants = {
      // name, direction, dtypes, head dims (empty: any up to max), max head dim, masks,
      // schedule, supports, workspace bytes, forward, backward, attention variants computed
      {"standard", Direction::fwd, {DType::f32, DType::f16, DType::bf16}, {}, 256, kAllMasks,
       standard_fwd_schedule, standard_fwd_supports, standard_fwd_workspace_bytes,
       standard_fwd_forward},
      {"standard_bwd", Direction::bwd, {DType::f32, DType::f16, DType::bf16}, {}, 256, kAllMasks,
       standard_bwd_schedule, standard_bwd_supports, standard_bwd_workspace_bytes, nullptr,
       standard_bwd_backward},
      {"flash2_fwd", Direction::fwd, {DType::f16, DType::bf16}, {32, 64, 96, 128, 256}, 256, kAllMasks,
       flash2_fwd_schedule, flash2_fwd_supports, flash2_fwd_workspace_bytes, flash2_fwd_forward,
       nullptr, kFlash2Variants},
      {"flash2_fwd_tuned", Direction::fwd, {DType::f16, DType::bf16}, {64, 128}, 128, kAllMasks,
       flash2_fwd_tuned_schedule, flash2_fwd_tuned_supports, flash2_fwd_tuned_workspace_bytes,
       flash2_fwd_tuned_forward},
      {"hopper_fwd", Direction::fwd, {DType::f16, DType::bf16}, {64, 128}, 128, kAllMasks,
       hopper_fwd_schedule, hopper_fwd_supports, hopper_fwd_workspace_bytes, hopper_fwd_forward},
      {"flash2_bwd", Direction::bwd, {DType::f16, DType::bf16}, {32, 64, 96, 128, 256}, 256, kAllMasks,
       flash2_bwd_schedule, flash2_bwd_supports, flash2_bwd_workspace_bytes, nullptr,
       flash2_bwd_backward, kFlash2Variants},
  };
  return variants;
}

bool Variant::has_dtype(DType t) const {
  return std::find(dtypes.begin(), dtypes.end(), t) != dtypes.end();
}
bool Variant::has_mask(MaskKind k) const {
  return std::find(masks.begin(), masks.end(), k) != masks.end();
}

const Variant& find_variant(const std::string& name) {
  std::string names;
  for (const Variant& v : registry()) {
    if (name == v.name) return v;
    names += names.empty() ? v.name : std::string(", ") + v.name;
  }
  throw std::invalid_argument("unknown kernel variant '" + name + "' (registered: " + names + ")");
}

Support registered_shape(const Problem& p, const std::string& name) {
  const Variant& v = find_variant(name);
  const auto join = [](const auto& items, const auto& text) {
    std::string out;
    for (size_t i = 0; i < items.size(); ++i)
      out += (i == 0 ? "" : i + 1 == items.size() ? " and " : ", ") + text(items[i]);
    return out;
  };
  if (!v.has_dtype(p.dtype))
    return Support::no(name + " runs " + join(v.dtypes, [](DType t) { return std::string(dtype_name(t)); }) +
                       " only, not " + dtype_name(p.dtype));
  if (!v.head_dims.empty() &&
      std::find(v.head_dims.begin(), v.head_dims.end(), p.head_dim) == v.head_dims.end())
    return Support::no(name + " instantiates head dims " + join(v.head_dims, [](int d) { return std::to_string(d); }) +
                       ", not " + std::to_string(p.head_dim));
  if (p.head_dim > v.max_head_dim)
    return Support::no(name + " supports head dims up to " + std::to_string(v.max_head_dim) + ", not " +
                       std::to_string(p.head_dim));
  return Support::yes();
}

const Variant& paired_forward(const Variant& bwd) {
  const std::string name = bwd.name;
  if (name == "standard_bwd") return find_variant("standard");
  if (name.size() > 4 && name.compare(name.size() - 4, 4, "_bwd") == 0)
    return find_variant(name.substr(0, name.size() - 4) + "_fwd");
  return find_variant("standard");
}

namespace {
void require_pointer(const void* ptr, const char* what, const Variant& v) {
  if (ptr == nullptr)
    throw std::invalid_argument(std::string(v.name) + ": " + what + " is a null pointer");
  if (reinterpret_cast<std::uintptr_t>(ptr) % 16 != 0)
    throw std::invalid_argument(std::string(v.name) + ": " + what + " is not 16-byte aligned");
}

// The checks every run shares: problem, dtype, mask, supports().
void require_supported(const Variant& v, const Problem& p) {
  p.validate();
  if (!v.has_dtype(p.dtype))
    throw std::invalid_argument(std::string(v.name) + " does not run dtype " + dtype_name(p.dtype));
  if (!v.has_mask(p.mask.kind))
    throw std::invalid_argument(std::string(v.name) + " does not run mask " + p.mask.describe());
  const Support s = v.supports(p);
  if (!s) throw std::invalid_argument(std::string(v.name) + " does not support " + p.describe() +
                                      ": " + s.reason);
}

// Varlen: the cu_seqlens pointers and totals between 1 and batch x the
// longest sequence (the kernels' grids and workspaces are sized by those).
void require_varlen(const Variant& v, const Problem& p, const Varlen& a) {
  if (!p.variants.varlen) return;
  require_pointer(a.cu_seqlens_q, "cu_seqlens_q", v);
  require_pointer(a.cu_seqlens_k, "cu_seqlens_k", v);
  if (a.total_q < 1 || a.total_q > p.batch * p.seqlen_q || a.total_k < 1 ||
      a.total_k > p.batch * p.seqlen_k)
    throw std::invalid_argument(std::string(v.name) + ": varlen totals " + std::to_string(a.total_q) +
                                ", " + std::to_string(a.total_k) +
                                " not in [1, batch x seqlen_q], [1, batch x seqlen_k]");
}

void require_workspace(const Variant& v, const Problem& p, const void* ptr, std::size_t bytes) {
  const std::size_t need = v.workspace_bytes(p);
  if (bytes < need)
    throw std::invalid_argument(std::string(v.name) + ": workspace of " + std::to_string(bytes) +
                                " bytes, needs " + std::to_string(need));
  if (need > 0) require_pointer(ptr, "workspace", v);
}
}  // namespace

void run_forward(const Variant& v, const Problem& p, const ForwardArgs& a) {
  if (v.direction != Direction::fwd || v.forward == nullptr)
    throw std::invalid_argument(std::string(v.name) + " is not a forward variant");
  require_supported(v, p);
  require_pointer(a.Q, "Q", v);
  require_pointer(a.K, "K", v);
  require_pointer(a.V, "V", v);
  require_pointer(a.O, "O", v);
  require_pointer(a.LSE, "LSE", v);
  require_workspace(v, p, a.workspace, a.workspace_bytes);
  if (p.variants.alibi) require_pointer(a.alibi_slopes, "alibi_slopes", v);
  require_varlen(v, p, a.varlen);
  v.forward(p, a);
}

void run_backward(const Variant& v, const Problem& p, const BackwardArgs& a) {
  if (v.direction != Direction::bwd || v.backward == nullptr)
    throw std::invalid_argument(std::string(v.name) + " is not a backward variant");
  require_supported(v, p);
  require_pointer(a.Q, "Q", v);
  require_pointer(a.K, "K", v);
  require_pointer(a.V, "V", v);
  require_pointer(a.O, "O", v);
  require_pointer(a.dO, "dO", v);
  require_pointer(a.LSE, "LSE", v);
  require_pointer(a.dQ, "dQ", v);
  require_pointer(a.dK, "dK", v);
  require_pointer(a.dV, "dV", v);
  require_workspace(v, p, a.workspace, a.workspace_bytes);
  if (p.variants.alibi) require_pointer(a.alibi_slopes, "alibi_slopes", v);
  require_varlen(v, p, a.varlen);
  v.backward(p, a);
}

}  // namespace flashcheck::kernels
