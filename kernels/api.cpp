#include "kernels/api.hpp"

namespace flashcheck::kernels {

std::string describe_schedule(const ScheduleDesc& s) {
  std::string out = std::string(sim::schedule_name(s.kind)) + " " + sim::direction_name(s.direction) +
                    " " + sim::loop_order_name(s.order);
  if (s.order != LoopOrder::unfused)
    out += " Br=" + std::to_string(s.Br) + " Bc=" + std::to_string(s.Bc);
  return out;
}

std::string VariantSet::describe() const {
  if (!any()) return "plain attention only";
  std::string out = softcap ? "softcap" : "";
  if (alibi) out += out.empty() ? "alibi" : ", alibi";
  return out;
}

Support only_variants(const Problem& p, const char* variant, VariantSet computes) {
  Variants rest = p.variants;  // what is left after removing what the kernel computes
  if (computes.softcap) rest.softcap.reset();
  if (computes.alibi) rest.alibi = false;
  if (rest.plain()) return Support::yes();
  return Support::no(std::string(variant) + " computes " + computes.describe() +
                     ", not variants " + rest.describe());
}

}  // namespace flashcheck::kernels
