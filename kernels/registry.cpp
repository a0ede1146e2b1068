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
      // schedule, supports, workspace bytes, forward
      {"standard", Direction::fwd, {DType::f32, DType::f16, DType::bf16}, {}, 256, kAllMasks,
       standard_fwd_schedule, standard_fwd_supports, standard_fwd_workspace_bytes,
       standard_fwd_forward},
      {"flash2_fwd", Direction::fwd, {DType::f16, DType::bf16}, {64, 128}, 128, kAllMasks,
       flash2_fwd_schedule, flash2_fwd_supports, flash2_fwd_workspace_bytes, flash2_fwd_forward},
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

namespace {
void require_pointer(const void* ptr, const char* what, const Variant& v) {
  if (ptr == nullptr)
    throw std::invalid_argument(std::string(v.name) + ": " + what + " is a null pointer");
  if (reinterpret_cast<std::uintptr_t>(ptr) % 16 != 0)
    throw std::invalid_argument(std::string(v.name) + ": " + what + " is not 16-byte aligned");
}
}  // namespace

void run_forward(const Variant& v, const Problem& p, const ForwardArgs& a) {
  p.validate();
  if (v.direction != Direction::fwd || v.forward == nullptr)
    throw std::invalid_argument(std::string(v.name) + " is not a forward variant");
  if (!v.has_dtype(p.dtype))
    throw std::invalid_argument(std::string(v.name) + " does not run dtype " + dtype_name(p.dtype));
  if (!v.has_mask(p.mask.kind))
    throw std::invalid_argument(std::string(v.name) + " does not run mask " + p.mask.describe());
  const Support s = v.supports(p);
  if (!s) throw std::invalid_argument(std::string(v.name) + " does not support " + p.describe() +
                                      ": " + s.reason);
  require_pointer(a.Q, "Q", v);
  require_pointer(a.K, "K", v);
  require_pointer(a.V, "V", v);
  require_pointer(a.O, "O", v);
  require_pointer(a.LSE, "LSE", v);
  const std::size_t need = v.workspace_bytes(p);
  if (a.workspace_bytes < need)
    throw std::invalid_argument(std::string(v.name) + ": workspace of " +
                                std::to_string(a.workspace_bytes) + " bytes, needs " +
                                std::to_string(need));
  if (need > 0) require_pointer(a.workspace, "workspace", v);
  v.forward(p, a);
}

}  // namespace flashcheck::kernels
