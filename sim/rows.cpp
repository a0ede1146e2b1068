// The row builder of `flashcheck sim` (moved from cli/ so that the CLI and the
// Python package call the same code).
#include "sim/rows.hpp"

#include <algorithm>
#include <stdexcept>

#include "sim/gpu_model.hpp"
#include "sim/simulate.hpp"
#include "sim/units.hpp"
#include "sim/variants.hpp"

namespace flashcheck::sim {

std::vector<Hardware> hardware_of(const HardwareChoice& o) {
  std::vector<Hardware> hws;
  if (o.l2_edge != "measured" && o.l2_edge != "lru")
    throw std::invalid_argument("l2 edge: expected measured or lru, not '" + o.l2_edge + "'");
  const bool lru = o.l2_edge == "lru";
  const bool custom_values = o.hbm_gbps || o.matmul_tflops || o.vector_tflops || o.sms || o.l2 || lru;
  if (o.preset == "custom") {
    if (!o.hbm_gbps || !o.matmul_tflops)
      throw std::invalid_argument("--preset custom needs at least --hbm-gbps and --matmul-tflops");
    Hardware h;
    h.name = "custom";
    h.vector_flops = h.matmul_flops_16 / 16;
    h.sm_count = 1;
    hws.push_back(h);
  } else if (o.preset == "all") {
    hws = hardware_presets();
  } else {
    hws.push_back(find_preset(o.preset));
  }
  for (Hardware& h : hws) {
    if (o.hbm_gbps) h.hbm_bytes_per_s = *o.hbm_gbps * 1e9;
    if (o.matmul_tflops)
      h.matmul_flops_16 = h.matmul_flops_32 = h.matmul_flops_64 = *o.matmul_tflops * 1e12;
    if (o.vector_tflops) h.vector_flops = *o.vector_tflops * 1e12;
    else if (o.preset == "custom") h.vector_flops = h.matmul_flops_16 / 16;
    if (o.sms) h.sm_count = *o.sms;
    if (o.l2) h.l2_bytes = *o.l2 == "0" ? 0 : parse_bytes(*o.l2);
    if (lru) h.l2_reuse = {};
    if (custom_values && o.preset != "custom") h.name += "*";
    if (!(h.hbm_bytes_per_s > 0) || !(h.matmul_flops_16 > 0) || !(h.vector_flops > 0) || h.sm_count < 1)
      throw std::invalid_argument("hardware values must be positive");
  }
  return hws;
}

int64_t checked_splits(const std::optional<int64_t>& splits, const std::vector<ScheduleKind>& schedules) {
  if (!splits) return 0;
  if (std::find(schedules.begin(), schedules.end(), ScheduleKind::splitkv) == schedules.end())
    throw std::invalid_argument("splits: applies to the splitkv schedule");
  if (*splits < 1) throw std::invalid_argument("splits: must be >= 1");
  return *splits;
}

Paging checked_paging(const std::optional<int64_t>& page_rows, const std::string& read) {
  Paging pg;
  pg.read = parse_page_read(read);
  if (page_rows) {
    if (*page_rows < 1) throw std::invalid_argument("page size: must be >= 1 row");
    pg.page_rows = *page_rows;
  } else if (read != "sector") {
    throw std::invalid_argument("page read '" + read + "' needs a page size");
  }
  return pg;
}

std::vector<ReportRow> simulate_rows(const RowsRequest& q) {
  if (q.schedules.empty()) throw std::invalid_argument("schedule: empty list");
  if (q.directions.empty()) throw std::invalid_argument("direction: empty list");
  if (q.hardware.empty()) throw std::invalid_argument("hardware: empty list");
  const Problem& p = q.problem;
  p.validate();
  BlockOverride blocks = q.blocks;
  std::vector<ScheduleKind> run_kinds = q.schedules;
  std::vector<Direction> run_dirs = q.directions;
  Launch launch;
  if (q.variant) {
    const KernelVariant& variant = find_kernel_variant(*q.variant);
    const ScheduleDesc desc = variant.schedule(p);
    run_kinds = {desc.kind};
    run_dirs = {desc.direction};
    if (!blocks.Br) blocks.Br = desc.Br;
    if (!blocks.Bc) blocks.Bc = desc.Bc;
    if (!blocks.warps) blocks.warps = desc.warps;
    launch = variant.launch_for(p);
  }
  std::vector<ReportRow> rows;
  for (const Hardware& hw : q.hardware) {
    const std::vector<int64_t> ms =
        q.sram_sizes.empty() ? std::vector<int64_t>{hw.smem_per_block_bytes} : q.sram_sizes;
    for (size_t n = 0; n < ms.size(); ++n) {
      if (q.progress) q.progress(hw, ms[n], n, ms.size());
      for (ScheduleKind k : run_kinds)
        for (Direction d : run_dirs) {
          // Forward-only schedules (square, splitkv) have no backward row under both directions.
          if (forward_only(k) && d == Direction::bwd && run_dirs.size() > 1) continue;
          BlockOverride kb = blocks;
          kb.splits = k == ScheduleKind::splitkv ? q.splits : 0;
          // A run depends on M, not on the hardware: reuse the previous hardware's runs.
          const ReportRow* same = nullptr;
          for (const ReportRow& r : rows)
            if (r.run.sram_bytes == ms[n] && r.run.desc.kind == k && r.run.desc.direction == d) same = &r;
          rows.push_back(
              make_row(same ? same->run : count(with_paging(make_plan(p, k, d, ms[n], kb), q.paging)), hw, launch));
        }
    }
  }
  return rows;
}

}  // namespace flashcheck::sim
