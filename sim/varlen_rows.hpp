// The rows of `flashcheck sim --varlen` and flashcheck.simulate(varlen=...):
// a packed variable-length batch against padding to its longest sequence,
// per hardware x SRAM size x schedule x direction. One builder, two callers.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sim/rows.hpp"
#include "sim/varlen.hpp"

namespace flashcheck::sim {

struct VarlenRow {
  std::string hardware;
  ScheduleKind schedule = ScheduleKind::flash2;
  Direction direction = Direction::fwd;
  int64_t sram_bytes = 0;
  VarlenRun run;
  double packed_time_s = 0, padded_time_s = 0;  // roofline
};

// Comma-separated lengths ("100,2000,517"), each >= 1; `what` names the
// argument in the std::invalid_argument thrown otherwise.
std::vector<int64_t> parse_lengths(const std::string& what, const std::string& s);

// r.problem gives heads, head dim, dtype and mask per sequence (its batch and
// lengths are replaced); r.variant, blocks, splits, paging and SRAM sizes
// apply as in simulate_rows. lengths_k empty: the same as lengths_q.
std::vector<VarlenRow> varlen_rows(const RowsRequest& r, const std::vector<int64_t>& lengths_q,
                                   const std::vector<int64_t>& lengths_k);

std::string format_varlen_csv(const std::vector<VarlenRow>& rows);
std::string format_varlen_json(const std::vector<VarlenRow>& rows);  // the CSV's fields, one object a row

}  // namespace flashcheck::sim
