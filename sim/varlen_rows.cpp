// Varlen rows (moved from cli/sim_cmd.cpp so that the CLI and Python share them).
#include "sim/varlen_rows.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "sim/hardware.hpp"
#include "sim/variants.hpp"

namespace flashcheck::sim {

std::vector<int64_t> parse_lengths(const std::string& what, const std::string& s) {
  std::vector<int64_t> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    size_t used = 0;
    int64_t v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || v < 1)
      throw std::invalid_argument(what + ": '" + item + "' is not a length >= 1");
    out.push_back(v);
  }
  if (out.empty()) throw std::invalid_argument(what + ": no lengths");
  return out;
}

std::vector<VarlenRow> varlen_rows(const RowsRequest& r, const std::vector<int64_t>& lengths_q,
                                   const std::vector<int64_t>& lengths_k) {
  if (r.hardware.empty()) throw std::invalid_argument("hardware: empty list");
  Problem base = r.problem;
  base.batch = 1;
  std::vector<ScheduleKind> kinds = r.schedules;
  std::vector<Direction> dirs = r.directions;
  BlockOverride blocks = r.blocks;
  if (r.variant) {  // a kernel's schedule and tiles (explicit blocks still override)
    const ScheduleDesc desc = find_kernel_variant(*r.variant).schedule(r.problem);
    kinds = {desc.kind};
    dirs = {desc.direction};
    if (!blocks.Br) blocks.Br = desc.Br;
    if (!blocks.Bc) blocks.Bc = desc.Bc;
    if (!blocks.warps) blocks.warps = desc.warps;
  }
  if (kinds.empty()) throw std::invalid_argument("schedule: empty list");
  if (dirs.empty()) throw std::invalid_argument("direction: empty list");
  std::vector<VarlenRow> rows;
  for (const Hardware& hw : r.hardware) {
    const std::vector<int64_t> ms =
        r.sram_sizes.empty() ? std::vector<int64_t>{hw.smem_per_block_bytes} : r.sram_sizes;
    for (int64_t m : ms)
      for (ScheduleKind k : kinds)
        for (Direction d : dirs) {
          if (forward_only(k) && d == Direction::bwd && dirs.size() > 1) continue;
          BlockOverride kb = blocks;
          kb.splits = k == ScheduleKind::splitkv ? r.splits : 0;
          VarlenRow row;
          row.hardware = hw.name;
          row.schedule = k;
          row.direction = d;
          row.sram_bytes = m;
          row.run = simulate_varlen(base, lengths_q, lengths_k, k, d, m, kb, BlockRule::own, r.paging);
          row.packed_time_s = roofline(row.run.packed, hw).time_s;
          row.padded_time_s = roofline(row.run.padded, hw).time_s;
          rows.push_back(std::move(row));
        }
  }
  return rows;
}

std::string format_varlen_csv(const std::vector<VarlenRow>& rows) {
  std::ostringstream out;
  out << "hardware,schedule,direction,sequences,tokens_q,tokens_k,sram_bytes,packed_bytes,padded_bytes,"
         "padded_over_packed,packed_flops,padded_flops,packed_time_s,padded_time_s\n";
  char line[400];
  for (const VarlenRow& r : rows) {
    const VarlenRun& v = r.run;
    const double a = double(v.packed.total_bytes()), b = double(v.padded.total_bytes());
    std::snprintf(line, sizeof line, "%s,%s,%s,%lld,%lld,%lld,%lld,%.0f,%.0f,%.6g,%lld,%lld,%.6g,%.6g\n",
                  r.hardware.c_str(), schedule_name(r.schedule), direction_name(r.direction),
                  (long long)v.sequences, (long long)v.tokens_q, (long long)v.tokens_k, (long long)r.sram_bytes, a,
                  b, b / a, (long long)v.packed.flops(), (long long)v.padded.flops(), r.packed_time_s,
                  r.padded_time_s);
    out << line;
  }
  return out.str();
}

std::string format_varlen_json(const std::vector<VarlenRow>& rows) {
  nlohmann::json out = nlohmann::json::array();
  for (const VarlenRow& r : rows) {
    const VarlenRun& v = r.run;
    out.push_back({{"hardware", r.hardware},
                   {"schedule", schedule_name(r.schedule)},
                   {"direction", direction_name(r.direction)},
                   {"sequences", v.sequences},
                   {"tokens_q", v.tokens_q},
                   {"tokens_k", v.tokens_k},
                   {"sram_bytes", r.sram_bytes},
                   {"packed_bytes", v.packed.total_bytes()},
                   {"padded_bytes", v.padded.total_bytes()},
                   {"padded_over_packed", double(v.padded.total_bytes()) / double(v.packed.total_bytes())},
                   {"packed_flops", v.packed.flops()},
                   {"padded_flops", v.padded.flops()},
                   {"packed_time_s", r.packed_time_s},
                   {"padded_time_s", r.padded_time_s}});
  }
  return out.dump(2) + "\n";
}

}  // namespace flashcheck::sim
