// Checking the stack-frame table against the SASS listings (see fidelity_sass.hpp).
#include "cli/report/fidelity_sass.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

#include "cli/report/table.hpp"
#include "sim/variants.hpp"

namespace flashcheck::report {
namespace {

struct Listed {
  std::string file, kernel;
  int64_t bytes = 0;
};

// Every row of every <dir>/*_sass/*.tsv: stack_bytes, registers, demangled kernel ('#' lines and the header skipped).
std::vector<Listed> listings(const std::string& dir) {
  std::vector<Listed> out;
  if (!std::filesystem::is_directory(dir)) return out;
  for (const auto& sub : std::filesystem::directory_iterator(dir)) {
    const std::string name = sub.path().filename().string();
    if (!sub.is_directory() || name.size() < 5 || name.compare(name.size() - 5, 5, "_sass") != 0) continue;
    for (const auto& f : std::filesystem::directory_iterator(sub.path())) {
      if (f.path().extension() != ".tsv") continue;
      std::ifstream in(f.path());
      std::string line;
      while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#' || line.rfind("stack_bytes", 0) == 0) continue;
        const size_t a = line.find('\t'), b = a == std::string::npos ? a : line.find('\t', a + 1);
        if (b == std::string::npos) throw std::runtime_error(f.path().string() + ": not stack<TAB>registers<TAB>kernel: " + line);
        out.push_back({name + "/" + f.path().filename().string(), line.substr(b + 1), std::stoll(line.substr(0, a))});
      }
    }
  }
  return out;
}

std::string which(int v, const char* yes, const char* no) { return v < 0 ? "any" : v ? yes : no; }

// The floor's premise, measured: the spill probe's frames dirty at each launch's end against
// min(W, CTAs) x threads x frame, and what it wrote back while it ran.
std::string spill_probe(const FidelityData& d) {
  if (d.spill.empty()) return "No spill probe in this measurement folder (spillprobe/): the floor's premise is not measured here.\n\n";
  double slack = 0;  // a drain after a drain still writes back this much (the method's floor)
  for (double x : d.idle_drain_writes) slack = std::max(slack, x);
  Table t;
  t.columns = {"sweep", "frame_bytes_per_thread", "waves", "fill_over_l2", "floor_mb", "end_mb", "in_kernel_mb",
               "per_cta_rule_mb"};
  double lo = 1e300, hi = 0, in_hi = 0;
  for (const SpillPoint& p : d.spill) {
    const double floor = double(std::min(p.ctas_per_sm * p.sms, p.grid) * p.threads * p.frame_bytes);
    if (std::abs(p.end_writes - floor) > 0.1 * floor + slack)
      throw std::runtime_error("fidelity: the spill probe (" + p.pass + "/" + p.sweep + ", fill " + num(p.fill_over_l2) +
                               " L2) left " + num(p.end_writes / 1e6) + " MB of frames dirty at its end, not the floor's " +
                               num(floor / 1e6) + " MB: the stack-frame floor's premise fails");
    lo = std::min(lo, p.end_writes / floor), hi = std::max(hi, p.end_writes / floor);
    in_hi = std::max(in_hi, p.in_kernel_writes / floor);
    t.add({p.pass + "/" + p.sweep, integer(p.frame_bytes), integer(p.waves), num(p.fill_over_l2), num(floor / 1e6),
           num(p.end_writes / 1e6), num(p.in_kernel_writes / 1e6), num(double(p.grid * p.threads * p.frame_bytes) / 1e6)});
  }
  std::string device;
  for (const FidelityPass& p : d.spill_passes)
    for (const std::string& line : p.device) device += "    " + p.name + ": " + line + "\n";
  return "The floor's premise, measured: `fc_spill_probe` (kernels/tools/spill_probe.cu, run by "
         "sim/fidelity/ncu_spill_probe.sh: ncu with L2 left alone, a read-only drain after each launch) runs waves "
         "x 2 x 132 CTAs of 128 threads that each keep writing one word of a local array a step (its SASS frame: "
         "64, 128 or 256 B a thread) while streaming their share of a read-only buffer once (`fill_over_l2` times "
         "the L2; sweeps `_s16`, `_s256`: CTA b streams b % S + 1 units, so CTAs end at different times, as a causal "
         "forward's do). At every fill, wave count and stagger the drain after a launch wrote back " + fixed2(lo) + "-" + fixed2(hi) +
         "x the floor (checked here: rendering fails beyond 10% plus the method's floor); a per-CTA rule (each "
         "CTA's frame written back once, `per_cta_rule_mb`) is off by the number of waves. While the launches "
         "ran, at most " + fixed2(in_hi) + "x the floor came back (`in_kernel_mb`): L2 keeps hot frames. PyTorch's "
         "forward writes back more than its floor during the kernel (the every-case table), which this probe's "
         "spill pattern does not show: its written-once part is the cold part above.\n\n" +
         device + "\n" + t.markdown() + "\n";
}

}  // namespace

std::string sass_frames_section(const std::string& dir, const FidelityData& d) {
  const std::vector<Listed> listed = listings(dir);
  std::string s =
      "## Stack frames (spills)\n\n"
      "Kernels that spill keep the spilled registers in their stack frame (local memory, cached in L2). The "
      "GPU model counts a floor for it with no constant: the frames of the CTAs resident at the end "
      "(min(W, CTAs) x threads x the frame per thread) are dirty then and reach DRAM after the kernel "
      "(`stack_end_pred_gb`, part of the eventual writes); a slot's CTAs share their frame's lines. The part "
      "of a frame stored every KV step stays in L2 (its lines are hot); the part stored only outside every "
      "loop (prologue spills: the `cold` bytes of sim/variants.cpp, read off the SASS by "
      "sim/fidelity/sass_frame_slots.py into spillstudy/s24/torch_fwd_frame_slots_sm90.tsv for PyTorch's "
      "forward, whole tiles only, and off the SM-side stores beyond O and LSE for flashcheck's d 128 forward, "
      "44 of its 48 B, checked against every such row) is rewritten by each later CTA of a slot, and L2 writes it back in between "
      "with the aging share (`Hardware::spill_aging`) at the distinct bytes that CTA's lifetime sees (the "
      "CTAs launched from it until W times its work is done, plus the resident frames, over L/2): "
      "`spill_pred_gb`, part of the predicted DRAM writes. The aging curve is the isotonic fit "
      "sim/fidelity/spill_aging.py computes from the spill probe's launches with a written-once part "
      "(spillstudy/s24/spillprobe_p5, s25/spillprobe_p6; a ctest checks the knots against it). The frame "
      "per thread of each instantiation is read off the kernel's sm_90 SASS (`cuobjdump -res-usage`, "
      "sim/fidelity/stack_frames.sh) and kept in sim/variants.cpp; every row is checked here against the "
      "committed listings (`*_sass/`).\n\n";
  s += spill_probe(d);
  if (listed.empty()) return s + "No SASS listing in this measurement folder: the frame table is not checked here.\n\n";
  Table t;
  t.columns = {"variant", "head_dim", "mask", "tile divides N", "frame_bytes_per_thread", "listing"};
  for (const sim::KernelVariant& v : sim::kernel_variants())
    for (const sim::KernelTile& tile : v.tiles) {
      if (tile.frames.empty()) {
        t.add({v.name, integer(tile.head_dim), "-", "-", "not read off (floor 0)", "-"});
        continue;
      }
      for (const sim::StackFrame& f : tile.frames) {
        const Listed* hit = nullptr;
        for (const Listed& l : listed)
          if (l.kernel.find(f.sass + "(") != std::string::npos) {
            if (hit && hit->bytes != l.bytes)
              throw std::runtime_error("fidelity: " + v.name + " d " + integer(tile.head_dim) + ": " + f.sass +
                                       " is listed twice with different frames (" + hit->file + ", " + l.file + ")");
            hit = &l;
          }
        if (!hit)
          throw std::runtime_error("fidelity: " + v.name + " d " + integer(tile.head_dim) + ": " + f.sass +
                                   " is in no SASS listing under " + dir + "/*_sass/");
        if (hit->bytes != f.bytes)
          throw std::runtime_error("fidelity: " + v.name + " d " + integer(tile.head_dim) + ": the frame table says " +
                                   integer(f.bytes) + " B per thread, " + hit->file + " " + integer(hit->bytes) +
                                   " B for " + f.sass + ": re-read sim/variants.cpp's frames off the listing");
        t.add({v.name, integer(tile.head_dim), which(f.causal, "causal", "none"), which(f.even, "yes", "no"),
               integer(f.bytes), hit->file});
      }
    }
  return s + t.markdown() + "\n";
}

}  // namespace flashcheck::report
