#include "sim/units.hpp"

#include <cctype>
#include <cmath>
#include <stdexcept>

namespace flashcheck::sim {

int64_t parse_bytes(const std::string& text) {
  const auto bad = [&](const std::string& why) {
    return std::invalid_argument("bad size '" + text + "': " + why +
                                 " (expected e.g. 96KiB, 160KB, 1MiB or 4096; units B, KB, KiB, "
                                 "MB, MiB, GB, GiB)");
  };
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  const std::string number = text.substr(0, i);
  if (number.empty() || number.find('.') != number.rfind('.') || number == ".")
    throw bad("no number");
  size_t j = i;
  while (j < text.size() && text[j] == ' ') ++j;
  std::string unit;
  for (; j < text.size(); ++j) unit += static_cast<char>(std::tolower(static_cast<unsigned char>(text[j])));
  double scale = 0;
  if (unit.empty() || unit == "b") scale = 1;
  else if (unit == "kb") scale = 1e3;
  else if (unit == "kib") scale = 1024.0;
  else if (unit == "mb") scale = 1e6;
  else if (unit == "mib") scale = 1024.0 * 1024;
  else if (unit == "gb") scale = 1e9;
  else if (unit == "gib") scale = 1024.0 * 1024 * 1024;
  else throw bad("unknown unit '" + text.substr(i) + "'");
  const double v = std::stod(number) * scale;
  if (!(v >= 1)) throw bad("must be at least 1 byte");
  if (v > 9e18) throw bad("too large");
  if (v != std::floor(v)) throw bad("not a whole number of bytes");
  return static_cast<int64_t>(v);
}

}  // namespace flashcheck::sim
