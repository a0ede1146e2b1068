// Properties of the .npy reader/writer: round trips for every dtype and
// shape, and a clear NpyError (never an out-of-bounds read) for each kind of
// malformed file.
#include <catch2/catch.hpp>
#include <rapidcheck.h>

#include <cstring>

#include "properties/prop.hpp"
#include "reference/baseline.hpp"
#include "reference/npy.hpp"

using namespace flashcheck;

namespace {

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

NpyArray parse(const std::string& s) {
  const auto b = bytes_of(s);
  return parse_npy(b.data(), b.size(), "case.npy");
}

// A valid file of shape (2, 3) in dtype t with the header text replaced.
std::string with_header(const std::string& dict, size_t data_bytes = 6 * 4, int major = 1) {
  std::string h = dict;
  while ((10 + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::string out("\x93NUMPY", 6);
  out += static_cast<char>(major);
  out += '\0';
  out += static_cast<char>(h.size() & 0xff);
  out += static_cast<char>(h.size() >> 8);
  out += h;
  out.append(data_bytes, '\0');
  return out;
}

void require_error(const std::string& file, const std::string& fragment) {
  try {
    parse(file);
    FAIL("expected NpyError containing '" << fragment << "'");
  } catch (const NpyError& e) {
    INFO(e.what());
    CHECK(std::string(e.what()).find(fragment) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("npy round trip") {
  flashcheck::prop("writing then reading any dtype and shape gives back the same values and shape", [] {
    const DType t = *rc::gen::element(DType::f64, DType::f32, DType::f16, DType::bf16);
    const auto shape = *rc::gen::container<std::vector<int64_t>>(
        *rc::gen::inRange<size_t>(0, 5), rc::gen::inRange<int64_t>(0, 6));
    int64_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<double> v(static_cast<size_t>(n));
    for (auto& x : v) x = round_to_dtype(*rc::gen::inRange(-100000, 100000) / 997.0, t);
    const NpyArray a = npy_from_doubles(v, shape, t);
    const std::string s = serialize_npy(a);
    RC_ASSERT(s.size() % 64 == (a.bytes.size() % 64));  // data starts on a 64-byte boundary
    const NpyArray b = parse(s);
    RC_ASSERT(b.shape == shape);
    RC_ASSERT(b.descr == std::string(npy_descr(t)));
    RC_ASSERT(npy_to_doubles(b, t, "x") == v);
  });
}

TEST_CASE("npy reads format versions 2.0 and 3.0") {
  for (int major : {2, 3}) {
    std::string h = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    while ((12 + h.size() + 1) % 64) h += ' ';
    h += '\n';
    std::string f("\x93NUMPY", 6);
    f += static_cast<char>(major);
    f += '\0';
    for (int k = 0; k < 4; ++k) f += static_cast<char>((h.size() >> (8 * k)) & 0xff);
    f += h;
    f.append(24, '\0');
    const NpyArray a = parse(f);
    CHECK(a.shape == std::vector<int64_t>{2, 3});
  }
}

TEST_CASE("malformed npy files give clear errors") {
  const std::string good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  REQUIRE_NOTHROW(parse(with_header(good)));
  require_error("", "bad magic");
  require_error("\x93NUMPX\x01\x00", "bad magic");
  require_error(std::string("\x93NUMPY\x07\x00\x10\x00", 10), "version");
  require_error(with_header(good).substr(0, 20), "truncated header");
  require_error(with_header(good, 23), "data size mismatch");
  require_error(with_header(good, 25), "data size mismatch");
  require_error(with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }"), "Fortran");
  require_error(with_header("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }"), "big-endian");
  require_error(with_header("{'descr': '<u4', 'fortran_order': False, 'shape': (2, 3), }"), "unsupported dtype");
  require_error(with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, }"), "malformed header");
  require_error(with_header("{'descr': '<f4', 'fortran_order': False}"), "needs descr");
  require_error(with_header("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2, 3), }"), "True or False");
  require_error(with_header("{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3), }"), "malformed header");
  require_error(with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 3), }"), "overflow");
}

TEST_CASE("every truncation of a valid file is rejected, never read past its end") {
  const NpyArray a = npy_from_doubles({1, 2, 3, 4, 5, 6}, {2, 3}, DType::f32);
  const std::string s = serialize_npy(a);
  for (size_t n = 0; n < s.size(); ++n) {
    // A heap copy of exactly n bytes, so a sanitizer would see an overread.
    std::vector<uint8_t> cut(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(n));
    CHECK_THROWS_AS(parse_npy(cut.data(), cut.size(), "cut.npy"), NpyError);
  }
}

TEST_CASE("a file whose descr differs from the case dtype is rejected") {
  const NpyArray a = npy_from_doubles({1, 2}, {2}, DType::f32);
  CHECK_THROWS_WITH(npy_to_doubles(a, DType::bf16, "o.npy"), Catch::Contains("stored as '<u2'"));
}
