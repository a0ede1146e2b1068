// Checking the stack-frame table against the SASS listings (see fidelity_sass.hpp).
#include "cli/report/fidelity_sass.hpp"

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

}  // namespace

std::string sass_frames_section(const std::string& dir) {
  const std::vector<Listed> listed = listings(dir);
  std::string s =
      "## Stack frames (spills)\n\n"
      "Kernels that spill keep the spilled registers in their stack frame (local memory, cached in L2). The "
      "GPU model counts a floor for it with no constant: the frames of the CTAs resident at the end "
      "(min(W, CTAs) x threads x the frame per thread) are dirty then and reach DRAM after the kernel "
      "(`stack_end_pred_gb`, part of the eventual writes); a slot's CTAs share their frame's lines, so earlier "
      "CTAs add nothing to it. What spilled lines L2 writes back during the kernel is not modelled. The frame "
      "per thread of each instantiation is read off the kernel's sm_90 SASS (`cuobjdump -res-usage`, "
      "sim/fidelity/stack_frames.sh) and kept in sim/variants.cpp; every row is checked here against the "
      "committed listings (`*_sass/`).\n\n";
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
