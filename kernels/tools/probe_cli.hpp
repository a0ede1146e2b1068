// What the probe tools (l2_probe.cu, spill_probe.cu) share: reading a numeric
// argument, and main()'s turning an exception into one line and exit code 2.
#pragma once
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace flashcheck::kernels::tools {

inline double probe_number(const char* s, const char* what) {
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  if (end == s || *end != '\0' || !std::isfinite(v)) throw std::invalid_argument(std::string("bad ") + what + ": " + s);
  return v;
}

inline int probe_main(const char* tool, int (*run)(int, char**), int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", tool, e.what());
    return 2;
  }
}

}  // namespace flashcheck::kernels::tools
