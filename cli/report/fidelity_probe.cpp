// Rendering and checking the L2 probe (see fidelity_probe.hpp).
#include "cli/report/fidelity_probe.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <stdexcept>
#include <vector>

namespace flashcheck::report {
namespace {

struct Mean {
  double sum = 0;
  int n = 0;
  double value() const { return n > 0 ? sum / n : std::nan(""); }
};

// Means per footprint (x to 1e-4: sweeps on one grid meet) of one mode.
std::map<int64_t, Mean> means(const FidelityData& d, const std::string& mode) {
  std::map<int64_t, Mean> out;
  for (const ProbePoint& p : d.probe)
    if (p.mode == mode) {
      Mean& m = out[std::llround(p.x * 1e4)];
      m.sum += p.miss, ++m.n;
    }
  return out;
}

std::string num_or_dash(double v) { return std::isnan(v) ? "-" : fixed2(v); }

const char* kPlot =
    "set datafile separator ','\nset datafile missing 'NaN'\nset grid\nset key bottom right\n"
    "set title 'H200 L2: share of a wave''s re-reads that miss (fc_l2_probe under ncu)'\n"
    "set xlabel 'reuse footprint / (L/2)  (read bytes + reduced bytes / 2)'\nset ylabel 'miss share'\n"
    "set xrange [0.8:1.3]\nset yrange [-0.05:1.6]\n"
    "plot 'l2probe.csv' every ::1 using 1:2 with points pt 7 title 'read only (mean of the sweeps)', \\\n"
    "     'l2probe.csv' every ::1 using 1:5 with points pt 6 title 'read + float atomics (1:1 bytes)', \\\n"
    "     'l2probe.csv' every ::1 using 1:4 with lines lw 2 title 'the H200 preset''s curve'\n";

}  // namespace

std::string probe_section(const Writer& w, const FidelityData& d, const sim::L2Reuse& curve) {
  if (d.probe.empty())
    return "## The L2 near its edge (probe)\n\nNo L2 probe in this measurement folder (l2probe/): the preset's reuse "
           "curve is not checked against a measurement here.\n\n";
  const std::map<int64_t, Mean> read = means(d, "read"), pair = means(d, "pair");
  if (read.empty()) throw std::runtime_error("fidelity: the L2 probe (l2probe/) holds no read-only sweep");
  std::set<int64_t> xs;
  for (const auto& [x, m] : read) xs.insert(x);
  for (const auto& [x, m] : pair) xs.insert(x);
  Table t;
  t.columns = {"x", "read_miss", "read_sweeps", "curve", "pair_miss", "pair_sweeps"};
  double worst = 0, worst_x = 0;
  for (const int64_t k : xs) {
    const double x = static_cast<double>(k) / 1e4, c = curve.miss(x);
    const auto r = read.find(k), p = pair.find(k);
    const double rm = r == read.end() ? std::nan("") : r->second.value();
    if (!std::isnan(rm) && std::abs(rm - c) > worst) worst = std::abs(rm - c), worst_x = x;
    t.add({num(x), std::isnan(rm) ? "NaN" : num(rm), integer(r == read.end() ? 0 : r->second.n), num(c),
           p == pair.end() ? "NaN" : num(p->second.value()), integer(p == pair.end() ? 0 : p->second.n)});
  }
  if (worst > kProbeTolerance)
    throw std::runtime_error("fidelity: the H200 preset's L2 reuse curve departs from the probe at x = " + num(worst_x) +
                             " by " + fixed2(worst) + " (allowed " + fixed2(kProbeTolerance) +
                             "): re-derive sim/hardware.cpp's knots from reports/fidelity/l2probe");
  w.csv("fidelity/l2probe.csv", t);
  w.plot("fidelity/l2probe", kPlot);
  // Where each mode's misses start and end.
  const auto first_above = [](const std::map<int64_t, Mean>& m, double level) {
    for (const auto& [x, v] : m)
      if (v.value() > level) return static_cast<double>(x) / 1e4;
    return std::nan("");
  };
  std::string sweeps;
  std::set<std::string> seen;
  for (const ProbePoint& p : d.probe) {
    const std::string s = p.pass + ": " + p.mode + ", " + integer(p.per_sm) + " CTA/SM, " + integer(p.waves) + " waves";
    if (seen.insert(s).second) sweeps += "* " + s + "\n";
  }
  std::string device;
  for (const FidelityPass& p : d.probe_passes)
    for (const std::string& line : p.device) device += "    " + p.name + ": " + line + "\n";
  const double pair_start = first_above(pair, 0.05);
  return "## The L2 near its edge (probe)\n\n"
         "`fc_l2_probe` (kernels/tools/l2_probe.cu, run by sim/fidelity/ncu_l2_probe.sh under ncu, L2 flushed before "
         "each launch) launches waves x CTAs-per-SM x 132 CTAs that each read one stream whole, in order, with "
         "L1-bypassing loads: the access pattern of a backward's Q/dO stream, with no kernel of the grid in it. In "
         "`pair` mode each 16 B read comes with a float atomic add on 16 B of a second buffer (dQaccum's "
         "pattern). From DRAM reads: miss = (DRAM reads - the stream once) / ((waves - 1) x the stream), the share "
         "of the later waves' re-reads that L2 did not serve; x = (read bytes + reduced bytes / 2) / (L/2), the "
         "footprint the GPU model's reuse rule counts. Sweeps:\n\n" + sweeps + "\n" + device +
         "\n![](l2probe.svg)\n\n"
         "Read only, the re-reads start to miss at x = " + num(first_above(read, 0.05)) + " and all miss from x = " +
         num(first_above(read, 0.98)) + ", alike at 1 and 2 CTAs per SM and 4 and 8 waves: the cliff is at half "
         "the L2 (read lines sit in both partitions), not at L, and about 10% wide. The H200 preset's curve "
         "(`sim::L2Reuse`, sim/hardware.cpp) follows the read-only means within " + fixed2(worst) +
         " (checked here: rendering fails above " + fixed2(kProbeTolerance) + "). With atomics the misses start at "
         "x = " + num_or_dash(pair_start) + " counting reduced lines at 1/2 (at " + num_or_dash(pair_start * 4 / 3) +
         " if they counted 1): the home-slice rule (`Launch::written_line_weight`) holds. Above the edge the "
         "atomic stream misses more than once per wave (a miss share above 1: CTAs that reduce into a line at "
         "different times each bring it back), which the model does not carry over: the backward rows above the "
         "edge (every-case table) read less from DRAM than all-miss, not more.\n\n" +
         t.markdown() + "\n";
}

}  // namespace flashcheck::report
