#include "kernels/api.hpp"

namespace flashcheck::kernels {

std::string describe_schedule(const ScheduleDesc& s) {
  std::string out = std::string(sim::schedule_name(s.kind)) + " " + sim::direction_name(s.direction) +
                    " " + sim::loop_order_name(s.order);
  if (s.order != LoopOrder::unfused)
    out += " Br=" + std::to_string(s.Br) + " Bc=" + std::to_string(s.Bc);
  return out;
}

Extent extent(const Problem& p, const Varlen& v) {
  if (!p.variants.varlen) return {p.q_elems(), p.kv_elems(), p.lse_elems()};
  return {p.heads_q * v.total_q * p.head_dim, p.heads_kv * v.total_k * p.head_dim, p.heads_q * v.total_q};
}

std::string VariantSet::describe() const {
  if (!any()) return "plain attention only";
  std::string out = softcap ? "softcap" : "";
  if (alibi) out += out.empty() ? "alibi" : ", alibi";
  if (varlen) out += out.empty() ? "varlen" : ", varlen";
  return out;
}

Support only_variants(const Problem& p, const char* variant, VariantSet computes) {
  Variants rest = p.variants;  // what is left after removing what the kernel computes
  if (computes.softcap) rest.softcap.reset();
  if (computes.alibi) rest.alibi = false;
  if (computes.varlen) rest.varlen = false;
  if (rest.plain()) return Support::yes();
  return Support::no(std::string(variant) + " computes " + computes.describe() +
                     ", not variants " + rest.describe());
}

}  // namespace flashcheck::kernels
