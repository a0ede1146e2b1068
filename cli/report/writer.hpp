// Writes one report folder: CSV tables, Markdown pages and gnuplot plots drawn
// from the CSV (SVG; PNG too when asked, for looking at them).
#pragma once
#include <string>

#include "cli/report/table.hpp"

namespace flashcheck::report {

struct WriterOptions {
  std::string out_dir = "reports";
  bool plots = true;  // run gnuplot
  bool png = false;   // also render PNG beside each SVG
};

class Writer {
 public:
  explicit Writer(WriterOptions o);
  const WriterOptions& options() const { return o_; }
  std::string path(const std::string& file) const;
  void text(const std::string& file, const std::string& content) const;
  void csv(const std::string& file, const Table& t) const { text(file, t.csv()); }
  // Writes <name>.gp (the terminal and output lines are added here) and runs
  // gnuplot in the report folder, so the script reads the CSV by its name.
  // Throws std::runtime_error when gnuplot fails.
  void plot(const std::string& name, const std::string& body, int width = 860, int height = 540) const;

 private:
  WriterOptions o_;
};

}  // namespace flashcheck::report
