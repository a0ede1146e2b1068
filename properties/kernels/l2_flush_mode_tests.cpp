// The benchmark's L2 flush option (kernels/l2_flush_mode.hpp): every mode
// round-trips by name, anything else is refused with the choices named.
// Host-only: runs without CUDA.
#include <catch2/catch.hpp>

#include "kernels/l2_flush_mode.hpp"

using flashcheck::kernels::L2Flush;
using flashcheck::kernels::l2_flush_name;
using flashcheck::kernels::parse_l2_flush;

TEST_CASE("l2 flush mode: each name parses to its mode and back") {
  CHECK(parse_l2_flush("write") == L2Flush::write);
  CHECK(parse_l2_flush("read") == L2Flush::read);
  CHECK(parse_l2_flush("off") == L2Flush::off);
  for (L2Flush f : {L2Flush::write, L2Flush::read, L2Flush::off}) CHECK(parse_l2_flush(l2_flush_name(f)) == f);
}

TEST_CASE("l2 flush mode: other values are refused with the choices named") {
  for (const char* bad : {"", "Read", "memset", "none", "read ", "1"}) {
    INFO("value '" << bad << "'");
    CHECK_THROWS_WITH(parse_l2_flush(bad), Catch::Contains("is not one of write, read, off"));
    CHECK_THROWS_AS(parse_l2_flush(bad), std::invalid_argument);
  }
}
