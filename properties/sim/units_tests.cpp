// SRAM sizes with units, as `flashcheck sim --sram` takes them.
#include <catch2/catch.hpp>
#include <rapidcheck.h>

#include "properties/prop.hpp"
#include "sim/units.hpp"

namespace flashcheck {
namespace {

using sim::parse_bytes;

TEST_CASE("sim units: byte sizes") {
  prop("n with each unit parses to n times the unit", [] {
    const int64_t n = *rc::gen::inRange<int64_t>(1, 100000);
    RC_ASSERT(parse_bytes(std::to_string(n)) == n);
    RC_ASSERT(parse_bytes(std::to_string(n) + "B") == n);
    RC_ASSERT(parse_bytes(std::to_string(n) + "KiB") == n * 1024);
    RC_ASSERT(parse_bytes(std::to_string(n) + "kib") == n * 1024);
    RC_ASSERT(parse_bytes(std::to_string(n) + "KB") == n * 1000);
    RC_ASSERT(parse_bytes(std::to_string(n) + " MiB") == n * 1024 * 1024);
    RC_ASSERT(parse_bytes(std::to_string(n) + "GB") == n * 1000000000);
  });
  SECTION("malformed sizes are invalid_argument") {
    for (const char* s : {"", "KiB", "96KX", "-5", "0", "0KiB", "1.5", "96 K", "1e3", "..5", "x"})
      CHECK_THROWS_AS(parse_bytes(s), std::invalid_argument);
    CHECK(parse_bytes("1.5KiB") == 1536);
    CHECK(parse_bytes("96KiB") == 98304);
  }
}

}  // namespace
}  // namespace flashcheck
