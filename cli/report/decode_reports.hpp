// Inference reports from the simulator's counting mode: split-KV decoding
// (and, below, paged KV and varlen batches). Exact and reproducible, so the
// drift test covers them.
#pragma once
#include <string>

#include "cli/report/writer.hpp"

namespace flashcheck::report {

std::string decode_splits(const Writer& w);
std::string paged_kv(const Writer& w);
std::string varlen_batch(const Writer& w);

}  // namespace flashcheck::report
