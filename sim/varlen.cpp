#include "sim/varlen.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>

#include "sim/simulate.hpp"

namespace flashcheck::sim {
namespace {

// into += times x r (traffic, FLOPs, thread blocks; the SRAM peak is the largest).
void accumulate(RunResult& into, const RunResult& r, int64_t times) {
  for (int t = 0; t < kTensorCount; ++t) {
    into.hbm.elems[t].read = checked_add(into.hbm.elems[t].read, checked_mul(r.hbm.elems[t].read, times, "varlen count"), "varlen count");
    into.hbm.elems[t].write = checked_add(into.hbm.elems[t].write, checked_mul(r.hbm.elems[t].write, times, "varlen count"), "varlen count");
  }
  into.matmul_flops = checked_add(into.matmul_flops, checked_mul(r.matmul_flops, times, "varlen FLOPs"), "varlen FLOPs");
  into.other_flops = checked_add(into.other_flops, checked_mul(r.other_flops, times, "varlen FLOPs"), "varlen FLOPs");
  into.work_units = checked_add(into.work_units, checked_mul(r.work_units, times, "varlen thread blocks"), "varlen thread blocks");
  into.smem_read_bytes = checked_add(into.smem_read_bytes, checked_mul(r.smem_read_bytes, times, "varlen bytes"), "varlen bytes");
  into.smem_write_bytes = checked_add(into.smem_write_bytes, checked_mul(r.smem_write_bytes, times, "varlen bytes"), "varlen bytes");
  into.exps = checked_add(into.exps, checked_mul(r.exps, times, "varlen count"), "varlen count");
  into.sram_peak_bytes = std::max(into.sram_peak_bytes, r.sram_peak_bytes);
}

}  // namespace

VarlenRun simulate_varlen(const Problem& base, const std::vector<int64_t>& lq,
                          const std::vector<int64_t>& lk_in, ScheduleKind k, Direction d,
                          int64_t M, BlockOverride blocks, BlockRule rule, Paging paging) {
  const std::vector<int64_t>& lk = lk_in.empty() ? lq : lk_in;
  if (lq.empty()) throw std::invalid_argument("varlen: no sequence lengths");
  if (lk.size() != lq.size())
    throw std::invalid_argument("varlen: " + std::to_string(lq.size()) + " query lengths but " +
                                std::to_string(lk.size()) + " key lengths");
  VarlenRun out;
  out.sequences = static_cast<int64_t>(lq.size());
  std::map<std::pair<int64_t, int64_t>, int64_t> counts;  // distinct (Lq, Lk) -> sequences
  for (size_t s = 0; s < lq.size(); ++s) {
    if (lq[s] < 1 || lk[s] < 1)
      throw std::invalid_argument("varlen: sequence " + std::to_string(s) + " has a length < 1");
    ++counts[{lq[s], lk[s]}];
    out.tokens_q = checked_add(out.tokens_q, lq[s], "varlen tokens");
    out.tokens_k = checked_add(out.tokens_k, lk[s], "varlen tokens");
  }
  Problem padded = base;
  padded.batch = checked_mul(base.batch, out.sequences, "varlen batch");
  padded.seqlen_q = *std::max_element(lq.begin(), lq.end());
  padded.seqlen_k = *std::max_element(lk.begin(), lk.end());
  const Plan pad_plan = with_paging(make_plan(padded, k, d, M, blocks, rule), paging);
  out.padded = count(pad_plan);
  // Every sequence with the padded plan's tiles (clamped to its lengths).
  BlockOverride tiles{pad_plan.Br(), pad_plan.Bc(), k == ScheduleKind::splitkv ? pad_plan.desc.splits : 0,
                      pad_plan.desc.warps};
  out.packed = out.padded;
  out.packed.hbm = HbmCounters{};
  out.packed.matmul_flops = out.packed.other_flops = out.packed.work_units = out.packed.sram_peak_bytes = 0;
  out.packed.smem_read_bytes = out.packed.smem_write_bytes = out.packed.exps = 0;
  for (const auto& [len, n] : counts) {
    Problem one = base;
    one.seqlen_q = len.first;
    one.seqlen_k = len.second;
    accumulate(out.packed, count(with_paging(make_plan(one, k, d, M, tiles, rule), paging)), n);
  }
  return out;
}

}  // namespace flashcheck::sim
