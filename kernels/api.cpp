#include "kernels/api.hpp"

namespace flashcheck::kernels {

const char* direction_name(Direction d) { return d == Direction::fwd ? "fwd" : "bwd"; }

const char* loop_order_name(LoopOrder o) {
  switch (o) {
    case LoopOrder::unfused: return "unfused";
    case LoopOrder::q_outer: return "q_outer";
    case LoopOrder::kv_outer: return "kv_outer";
  }
  return "?";
}

std::string Schedule::describe() const {
  if (order == LoopOrder::unfused) return "unfused (S, P in HBM)";
  return std::string(loop_order_name(order)) + " Br=" + std::to_string(Br) +
         " Bc=" + std::to_string(Bc);
}

}  // namespace flashcheck::kernels
