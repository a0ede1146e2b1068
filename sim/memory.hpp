// The memory model: HBM read/write counters per tensor, and an SRAM of
// capacity M bytes whose buffers are allocated and freed by name, with a
// high-water mark. Capacity is checked for a whole schedule before anything
// is counted (check_capacity), so an over-sized schedule fails with a message
// naming every buffer and its size instead of half a count.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/checked.hpp"
#include "sim/tensors.hpp"

namespace flashcheck::sim {

struct Traffic {
  int64_t read = 0;   // elements read from HBM
  int64_t write = 0;  // elements written to HBM
};

struct HbmCounters {
  PerTensor<Traffic> elems{};
  void read(TensorId t, int64_t n) {
    elems[idx(t)].read = checked_add(elems[idx(t)].read, n, "HBM read count");
  }
  void write(TensorId t, int64_t n) {
    elems[idx(t)].write = checked_add(elems[idx(t)].write, n, "HBM write count");
  }
  int64_t read_elems() const;
  int64_t write_elems() const;
  HbmCounters& operator+=(const HbmCounters& o);
  bool operator==(const HbmCounters& o) const;
};

// One on-chip buffer of rows x cols elements of elem_bytes each, in shared
// memory (SRAM, counted against M) or, for accumulators and score tiles under
// the GPU block rule, in registers (counted against kAccRegisterBytes).
struct BufferSpec {
  std::string name;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t elem_bytes = 0;
  bool in_registers = false;
  bool aliased = false;  // reuses an earlier buffer's storage: counted with it, not again
  int64_t bytes() const { return checked_mul(rows, cols, elem_bytes, "SRAM buffer size"); }
};

// The buffers one kernel of a schedule keeps in SRAM at the same time
// (ThunderKittens' habit: what lives on chip is a declared list, so its bytes
// are known before the loop runs).
struct KernelPlan {
  std::string kernel;
  std::vector<BufferSpec> buffers;
  int64_t bytes() const;           // shared memory (SRAM)
  int64_t register_bytes() const;  // accumulators kept in registers
};

// Register file one thread block may fill with accumulators and score tiles:
// 3/4 of the 256 KiB (64 K x 32-bit) register file of an A100 / H100 SM; the
// rest holds operand fragments, addresses and loop state. FlashAttention-2's
// tiles fill it exactly (fwd 128 x 128 at d 64: O 32 KiB + S 64 KiB = 96 KiB;
// bwd 128 x 128 at d 64 and 64 x 128 at d 128: dK, dV + S, dP = 192 KiB).
constexpr int64_t kAccRegisterBytes = 192 * 1024;

class CapacityError : public std::invalid_argument {
 public:
  CapacityError(const std::string& msg, KernelPlan kernel)
      : std::invalid_argument(msg), kernel_(std::move(kernel)) {}
  const KernelPlan& kernel() const { return kernel_; }  // the kernel that did not fit

 private:
  KernelPlan kernel_;
};

// Throws CapacityError naming the first kernel whose buffers exceed M, its
// buffers and their sizes. `what` prefixes the message (e.g. "flash2 fwd").
void check_capacity(const std::string& what, const std::vector<KernelPlan>& kernels,
                    int64_t sram_bytes);

// SRAM with named allocations and a high-water mark.
class Sram {
 public:
  explicit Sram(int64_t capacity_bytes) : capacity_(capacity_bytes) {}
  // Returns a handle; throws std::logic_error past capacity (a schedule that
  // passed check_capacity never does).
  int alloc(const std::string& name, int64_t bytes);
  void free(int handle);
  void free_all();
  int64_t in_use() const { return in_use_; }
  int64_t peak() const { return peak_; }
  int64_t capacity() const { return capacity_; }

 private:
  struct Slot {
    std::string name;
    int64_t bytes = 0;
    bool live = false;
  };
  int64_t capacity_;
  int64_t in_use_ = 0;
  int64_t peak_ = 0;
  std::vector<Slot> slots_;
};

std::string format_bytes(int64_t bytes);  // "160 KiB", "1.5 MiB", "96 B"

}  // namespace flashcheck::sim
