// Host API of the CUDA kernels: the types every variant speaks. Functions take
// the shared Problem and raw device pointers to contiguous [B][H][N][d]
// tensors of the problem's dtype (LSE: float32 [B][heads_q][seqlen_q]).
// Plain C++ (no CUDA syntax) so the CLI and the tests include it with g++.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>

#include "reference/problem.hpp"

namespace flashcheck::kernels {

enum class Direction { fwd, bwd };
// Loop order of a tiled schedule (shared/DESIGN.md "one schedule description").
// unfused: S and P are materialised in HBM (the standard algorithm).
enum class LoopOrder { unfused, q_outer, kv_outer };

struct Schedule {
  LoopOrder order = LoopOrder::unfused;
  int Br = 0;  // rows of Q per block (0 when unfused)
  int Bc = 0;  // rows of K, V per block (0 when unfused)
  std::string describe() const;
};

// supports(problem): ok, or the reason it is not supported.
struct Support {
  bool ok = true;
  std::string reason;
  static Support yes() { return {}; }
  static Support no(std::string why) { return {false, std::move(why)}; }
  explicit operator bool() const { return ok; }
};

// Device pointers of one forward call. workspace must hold at least the
// variant's workspace_bytes(problem) (intermediates such as S and P).
struct ForwardArgs {
  const void* Q = nullptr;
  const void* K = nullptr;
  const void* V = nullptr;
  void* O = nullptr;
  float* LSE = nullptr;
  void* workspace = nullptr;
  std::size_t workspace_bytes = 0;
  cudaStream_t stream = nullptr;
};

const char* direction_name(Direction d);
const char* loop_order_name(LoopOrder o);

}  // namespace flashcheck::kernels
