// The GPU sections: re-rendered from the CSVs the GPU check committed under
// reports/gpu/ (scripts/gpu_check.sh), never measured here.
#pragma once
#include <string>

#include "cli/report/writer.hpp"

namespace flashcheck::report {

// Speed: our kernels beside PyTorch SDPA flash and cuDNN (bench*.csv, sdpa*.csv).
std::string speed(const Writer& w, const std::string& gpu_dir);
// Traffic beside time: the simulator's flash2 traffic for each kernel's own
// Br, Bc next to its measured time (bench*.csv).
std::string traffic(const Writer& w, const std::string& gpu_dir);
// Accuracy: every variant x dtype x mask against float64 (accuracy.csv).
std::string accuracy(const Writer& w, const std::string& gpu_dir);

}  // namespace flashcheck::report
