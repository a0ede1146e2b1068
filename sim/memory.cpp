#include "sim/memory.hpp"

#include <cstdio>

namespace flashcheck::sim {

const char* tensor_name(TensorId t) {
  static const char* const names[kTensorCount] = {"Q",  "K",  "V",  "O",  "LSE", "l",    "m",
                                                  "dO", "D",  "dQ", "dK", "dV",  "S",    "P",
                                                  "dP", "dS", "Oacc", "LSEacc", "PT"};
  return names[idx(t)];
}

int64_t tensor_elems(TensorId t, const Problem& p, int64_t splits, int64_t page_rows) {
  switch (t) {
    case TensorId::Oacc: return checked_mul(splits, p.q_elems(), "split-KV workspace");
    case TensorId::LSEacc: return checked_mul(splits, p.lse_elems(), "split-KV workspace");
    case TensorId::PT:  // [batch][pages per sequence], as FlashAttention's block_table
      return page_rows > 0 ? checked_mul(p.batch, (p.seqlen_k + page_rows - 1) / page_rows, "block table") : 0;
    case TensorId::Q: case TensorId::O: case TensorId::dO: case TensorId::dQ: return p.q_elems();
    case TensorId::K: case TensorId::V: case TensorId::dK: case TensorId::dV: return p.kv_elems();
    case TensorId::LSE: case TensorId::l: case TensorId::m: case TensorId::D: return p.lse_elems();
    case TensorId::S: case TensorId::P: case TensorId::dP: case TensorId::dS: return p.score_elems();
  }
  return 0;
}

int64_t HbmCounters::read_elems() const {
  int64_t n = 0;
  for (const Traffic& t : elems) n = checked_add(n, t.read, "HBM read count");
  return n;
}
int64_t HbmCounters::write_elems() const {
  int64_t n = 0;
  for (const Traffic& t : elems) n = checked_add(n, t.write, "HBM write count");
  return n;
}
HbmCounters& HbmCounters::operator+=(const HbmCounters& o) {
  for (int i = 0; i < kTensorCount; ++i) {
    elems[i].read = checked_add(elems[i].read, o.elems[i].read, "HBM read count");
    elems[i].write = checked_add(elems[i].write, o.elems[i].write, "HBM write count");
  }
  return *this;
}
bool HbmCounters::operator==(const HbmCounters& o) const {
  for (int i = 0; i < kTensorCount; ++i)
    if (elems[i].read != o.elems[i].read || elems[i].write != o.elems[i].write) return false;
  return true;
}

int64_t KernelPlan::bytes() const {
  int64_t n = 0;
  for (const BufferSpec& b : buffers)
    if (!b.in_registers && !b.aliased) n = checked_add(n, b.bytes(), "SRAM kernel size");
  return n;
}
int64_t KernelPlan::register_bytes() const {
  int64_t n = 0;
  for (const BufferSpec& b : buffers)
    if (b.in_registers && !b.aliased) n = checked_add(n, b.bytes(), "register kernel size");
  return n;
}

std::string format_bytes(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  char buf[32];
  if (u == 0 || v == static_cast<int64_t>(v))
    std::snprintf(buf, sizeof buf, "%lld %s", static_cast<long long>(v), units[u]);
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

void check_capacity(const std::string& what, const std::vector<KernelPlan>& kernels,
                    int64_t sram_bytes) {
  for (const KernelPlan& k : kernels) {
    const bool smem_ok = k.bytes() <= sram_bytes, regs_ok = k.register_bytes() <= kAccRegisterBytes;
    if (smem_ok && regs_ok) continue;
    std::string msg =
        what + ": kernel '" + k.kernel + "' needs " +
        (smem_ok ? std::to_string(k.register_bytes()) + " B of registers for accumulators but " +
                       "the budget is " + std::to_string(kAccRegisterBytes) + " B"
                 : std::to_string(k.bytes()) + " B of SRAM but M = " + std::to_string(sram_bytes) +
                       " B (" + format_bytes(sram_bytes) + ")") +
        "; buffers:";
    const char* sep = " ";
    for (const BufferSpec& b : k.buffers) {
      msg += sep + b.name + " " + std::to_string(b.rows) + "x" + std::to_string(b.cols) + "x" +
             std::to_string(b.elem_bytes) + "B = " + std::to_string(b.bytes()) + " B" +
             (b.in_registers ? " (registers)" : "");
      sep = ", ";
    }
    throw CapacityError(msg, k);
  }
}

int Sram::alloc(const std::string& name, int64_t bytes) {
  if (in_use_ + bytes > capacity_)
    throw std::logic_error("SRAM overflow allocating " + name + " (" + std::to_string(bytes) +
                           " B, " + std::to_string(in_use_) + " of " + std::to_string(capacity_) +
                           " B in use)");
  slots_.push_back({name, bytes, true});
  in_use_ += bytes;
  if (in_use_ > peak_) peak_ = in_use_;
  return static_cast<int>(slots_.size()) - 1;
}

void Sram::free(int handle) {
  Slot& s = slots_.at(static_cast<size_t>(handle));
  if (!s.live) throw std::logic_error("SRAM buffer " + s.name + " freed twice");
  s.live = false;
  in_use_ -= s.bytes;
}

void Sram::free_all() {
  for (Slot& s : slots_)
    if (s.live) s.live = false;
  in_use_ = 0;
  slots_.clear();
}

}  // namespace flashcheck::sim
