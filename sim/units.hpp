// Byte sizes with units, as the CLI accepts them ("96KiB", "160 KB", "1MiB", "4096").
#pragma once
#include <cstdint>
#include <string>

namespace flashcheck::sim {

// A positive size: a number (integer or decimal) and an optional unit B, KB,
// KiB, MB, MiB, GB, GiB (units case-insensitive, K = 1000, Ki = 1024).
// Throws std::invalid_argument for anything else, zero, or a fraction of a byte.
int64_t parse_bytes(const std::string& text);

}  // namespace flashcheck::sim
