// How the benchmark clears the L2 between timed calls (BenchOptions::flush,
// `flashcheck bench --l2-flush`). Header-only and CUDA-free, so the option's
// parsing is tested on machines without a GPU.
#pragma once
#include <stdexcept>
#include <string>

namespace flashcheck::kernels {

// write: a 256 MiB memset before each call; its own dirty lines are written
//        back during the call (fine for timing, wrong for counting a call's
//        DRAM writes).
// read:  before and after each call, a kernel (`fc_l2_flush`, l2_drain.hpp)
//        reads a never-written buffer of 4x the L2: it evicts every line and
//        leaves none dirty, so the lines the call left dirty are written back
//        during the drain right after it, where ncu (--cache-control none)
//        can add them to the call's own writes.
// off:   nothing (ncu's default --cache-control all flushes by itself).
enum class L2Flush { write, read, off };

inline const char* l2_flush_name(L2Flush f) {
  switch (f) {
    case L2Flush::write: return "write";
    case L2Flush::read: return "read";
    case L2Flush::off: return "off";
  }
  return "?";
}

// "write", "read" or "off"; anything else is an error naming the choices.
inline L2Flush parse_l2_flush(const std::string& s) {
  for (L2Flush f : {L2Flush::write, L2Flush::read, L2Flush::off})
    if (s == l2_flush_name(f)) return f;
  throw std::invalid_argument("L2 flush mode '" + s + "' is not one of write, read, off");
}

}  // namespace flashcheck::kernels
