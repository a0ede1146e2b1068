// Reads the GPU result CSVs (RFC 4180 quoting: fields with commas are quoted)
// into rows keyed by column name.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace flashcheck::report {

using CsvRow = std::map<std::string, std::string>;

// Throws std::runtime_error naming the file on a row with the wrong number of fields.
std::vector<CsvRow> read_csv(const std::string& path);

}  // namespace flashcheck::report
