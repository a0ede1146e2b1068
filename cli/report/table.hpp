// A small table that renders as CSV (for plots and the drift test) and as
// Markdown (for people). Numbers are formatted here, once, deterministically,
// so a regenerated report differs from the committed one only when a number
// really changed.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace flashcheck::report {

// %.4g, or whole numbers from 1e4 up; "-" for NaN: the one number format of reports.
std::string num(double x);
std::string integer(int64_t x);
std::string fixed2(double x);  // ratios: two decimals, "-" for NaN

struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;

  void add(std::vector<std::string> row);
  std::string csv() const;
  std::string markdown() const;
};

}  // namespace flashcheck::report
