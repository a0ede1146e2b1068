#include "cli/report/table.hpp"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace flashcheck::report {

std::string num(double x) {
  if (std::isnan(x)) return "-";
  char buf[32];
  // Large values in full (no exponent): 24576 reads better than 2.458e+04.
  std::snprintf(buf, sizeof buf, std::fabs(x) >= 1e4 && std::fabs(x) < 1e15 ? "%.0f" : "%.4g", x);
  return buf;
}

std::string integer(int64_t x) { return std::to_string(x); }

std::string fixed2(double x) {
  if (std::isnan(x)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", x);
  return buf;
}

void Table::add(std::vector<std::string> row) {
  if (row.size() != columns.size())
    throw std::logic_error("report table row has " + std::to_string(row.size()) + " cells, expected " +
                           std::to_string(columns.size()));
  rows.push_back(std::move(row));
}

std::string Table::csv() const {
  std::string out;
  // RFC 4180: a cell with a comma, quote or line break is quoted, its quotes doubled.
  const auto cell = [](const std::string& c) {
    if (c.find_first_of(",\"\n") == std::string::npos) return c;
    std::string q = "\"";
    for (char ch : c) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    return q + "\"";
  };
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) out += (i ? "," : "") + cell(cells[i]);
    out += "\n";
  };
  line(columns);
  for (const auto& r : rows) line(r);
  return out;
}

std::string Table::markdown() const {
  std::string out = "|";
  for (const auto& c : columns) out += " " + c + " |";
  out += "\n|";
  for (size_t i = 0; i < columns.size(); ++i) out += "---|";
  out += "\n";
  for (const auto& r : rows) {
    out += "|";
    for (const auto& c : r) out += " " + c + " |";
    out += "\n";
  }
  return out;
}

}  // namespace flashcheck::report
