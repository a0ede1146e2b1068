// flashcheck.simulate: the simulator's rows (sim/rows.hpp, the builder behind
// `flashcheck sim`) in the JSON contract of `flashcheck sim --format json`;
// with varlen, the rows of `flashcheck sim --varlen` (sim/varlen_rows.hpp).
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "sim/report.hpp"
#include "sim/rows.hpp"
#include "sim/units.hpp"
#include "sim/varlen_rows.hpp"

namespace flashcheck::py {

void bind_sim(nb::module_& m) {
  m.def(
      "_simulate_json",
      [](const Problem& p, const std::vector<std::string>& schedules,
         const std::vector<std::string>& directions, const std::string& preset,
         const std::vector<std::string>& sram, std::optional<std::string> l2,
         std::optional<int64_t> sms, std::optional<double> hbm_gbps,
         std::optional<double> matmul_tflops, std::optional<double> vector_tflops,
         std::optional<std::string> variant, int64_t block_r, int64_t block_c, std::optional<int64_t> splits,
         std::optional<int64_t> page_size, const std::string& page_read, std::optional<std::string> varlen,
         std::optional<std::string> varlen_k, const std::string& l2_edge) {
        sim::RowsRequest q;
        q.problem = p;
        q.schedules.clear();
        for (const std::string& s : schedules) q.schedules.push_back(sim::parse_schedule(s));
        q.directions.clear();
        for (const std::string& d : directions) q.directions.push_back(sim::parse_direction(d));
        sim::HardwareChoice c;
        c.preset = preset;
        c.l2 = l2;
        c.l2_edge = l2_edge;
        c.sms = sms;
        c.hbm_gbps = hbm_gbps;
        c.matmul_tflops = matmul_tflops;
        c.vector_tflops = vector_tflops;
        q.hardware = sim::hardware_of(c);
        for (const std::string& s : sram) q.sram_sizes.push_back(sim::parse_bytes(s));
        if (preset == "custom" && q.sram_sizes.empty())
          throw std::invalid_argument("sram: required with preset='custom'");
        if (block_r < 0 || block_c < 0) throw std::invalid_argument("block_r, block_c: must be >= 0");
        q.blocks = sim::BlockOverride{block_r, block_c};
        q.variant = variant;
        q.splits = sim::checked_splits(splits, q.schedules);
        q.paging = sim::checked_paging(page_size, page_read);
        if (varlen_k && !varlen) throw std::invalid_argument("varlen_k: needs varlen");
        if (varlen) {
          const std::vector<int64_t> lq = sim::parse_lengths("varlen", *varlen);
          const std::vector<int64_t> lk = varlen_k ? sim::parse_lengths("varlen_k", *varlen_k) : std::vector<int64_t>{};
          std::vector<sim::VarlenRow> rows;
          {
            nb::gil_scoped_release nogil;
            rows = sim::varlen_rows(q, lq, lk);
          }
          return sim::format_varlen_json(rows);
        }
        std::vector<sim::ReportRow> rows;
        {
          nb::gil_scoped_release nogil;
          rows = sim::simulate_rows(q);
        }
        return sim::format_json(rows);
      },
      nb::arg("problem"), nb::arg("schedules"), nb::arg("directions"), nb::arg("preset"),
      nb::arg("sram"), nb::arg("l2").none(), nb::arg("sms").none(), nb::arg("hbm_gbps").none(),
      nb::arg("matmul_tflops").none(), nb::arg("vector_tflops").none(), nb::arg("variant").none(),
      nb::arg("block_r"), nb::arg("block_c"), nb::arg("splits").none(), nb::arg("page_size").none(),
      nb::arg("page_read"), nb::arg("varlen").none(), nb::arg("varlen_k").none(), nb::arg("l2_edge"),
      "The rows of `flashcheck sim --format json` as a JSON string (flashcheck.simulate parses it).");
}

}  // namespace flashcheck::py
