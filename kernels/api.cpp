#include "kernels/api.hpp"

namespace flashcheck::kernels {

std::string describe_schedule(const ScheduleDesc& s) {
  std::string out = std::string(sim::schedule_name(s.kind)) + " " + sim::direction_name(s.direction) +
                    " " + sim::loop_order_name(s.order);
  if (s.order != LoopOrder::unfused)
    out += " Br=" + std::to_string(s.Br) + " Bc=" + std::to_string(s.Bc);
  return out;
}

Support plain_only(const Problem& p, const char* variant) {
  if (p.variants.plain()) return Support::yes();
  return Support::no(std::string(variant) + " computes plain attention only, not variants " +
                     p.variants.describe());
}

}  // namespace flashcheck::kernels
