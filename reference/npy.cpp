// A small, bounds-checked .npy reader and writer (see npy.hpp).
#include "reference/npy.hpp"

#include <Eigen/Core>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>

namespace flashcheck {
namespace {

const char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

[[noreturn]] void fail(const std::string& name, const std::string& why) {
  throw NpyError(name + ": " + why);
}

size_t descr_bytes(const std::string& d) {
  if (d == "<f8") return 8;
  if (d == "<f4") return 4;
  if (d == "<f2" || d == "<u2") return 2;
  if (d == "<i8") return 8;
  if (d == "<i4") return 4;
  if (d == "|u1" || d == "|b1") return 1;
  return 0;
}

// A cursor over the header dict text; every read is bounds-checked.
struct HeaderParser {
  const std::string& s;
  const std::string& name;
  size_t i = 0;

  void skip_ws() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  bool eat(char c) {
    skip_ws();
    if (i < s.size() && s[i] == c) { ++i; return true; }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(name, std::string("malformed header: expected '") + c + "' at offset " + std::to_string(i));
  }
  std::string quoted() {
    skip_ws();
    if (i >= s.size() || (s[i] != '\'' && s[i] != '"')) fail(name, "malformed header: expected a string");
    const char q = s[i++];
    const size_t end = s.find(q, i);
    if (end == std::string::npos) fail(name, "malformed header: unterminated string");
    std::string out = s.substr(i, end - i);
    i = end + 1;
    return out;
  }
  bool boolean() {
    skip_ws();
    for (const char* w : {"True", "False"}) {
      const size_t n = std::strlen(w);
      if (s.compare(i, n, w) == 0) { i += n; return w[0] == 'T'; }
    }
    fail(name, "malformed header: expected True or False");
  }
  int64_t integer() {
    skip_ws();
    const size_t start = i;
    int64_t v = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      const int digit = s[i++] - '0';
      if (v > (std::numeric_limits<int64_t>::max() - digit) / 10) fail(name, "shape dimension overflows");
      v = v * 10 + digit;
    }
    if (i == start) fail(name, "malformed header: expected a shape dimension");
    if (i < s.size() && (s[i] == 'L')) ++i;  // Python 2 long suffix
    return v;
  }
  std::vector<int64_t> shape() {
    expect('(');
    std::vector<int64_t> dims;
    while (!eat(')')) {
      dims.push_back(integer());
      if (!eat(',')) { expect(')'); break; }
    }
    return dims;
  }
};

uint32_t read_le(const uint8_t* p, int n) {
  uint32_t v = 0;
  for (int k = n - 1; k >= 0; --k) v = (v << 8) | p[k];
  return v;
}

}  // namespace

int64_t NpyArray::elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const char* npy_descr(DType t) {
  switch (t) {
    case DType::f64: return "<f8";
    case DType::f32: return "<f4";
    case DType::f16: return "<f2";
    case DType::bf16: return "<u2";
  }
  return "?";
}

NpyArray parse_npy(const uint8_t* data, size_t size, const std::string& name) {
  if (size < kMagicLen + 2 || std::memcmp(data, kMagic, kMagicLen) != 0)
    fail(name, "not a .npy file (bad magic)");
  const int major = data[6];
  if (major < 1 || major > 3) fail(name, "unsupported .npy format version " + std::to_string(major));
  const size_t len_bytes = major == 1 ? 2 : 4;
  const size_t prefix = kMagicLen + 2 + len_bytes;
  if (size < prefix) fail(name, "truncated header");
  const size_t header_len = read_le(data + 8, static_cast<int>(len_bytes));
  if (header_len > size - prefix) fail(name, "truncated header");
  const std::string header(reinterpret_cast<const char*>(data + prefix), header_len);

  NpyArray a;
  bool have_descr = false, have_order = false, have_shape = false, fortran = false;
  HeaderParser h{header, name};
  h.expect('{');
  while (!h.eat('}')) {
    const std::string key = h.quoted();
    h.expect(':');
    if (key == "descr") { a.descr = h.quoted(); have_descr = true; }
    else if (key == "fortran_order") { fortran = h.boolean(); have_order = true; }
    else if (key == "shape") { a.shape = h.shape(); have_shape = true; }
    else fail(name, "malformed header: unknown key '" + key + "'");
    if (!h.eat(',')) { h.expect('}'); break; }
  }
  if (!have_descr || !have_order || !have_shape)
    fail(name, "malformed header: needs descr, fortran_order and shape");
  if (fortran) fail(name, "Fortran order is not supported (write C-contiguous arrays)");
  if (!a.descr.empty() && a.descr[0] == '>') fail(name, "big-endian data ('" + a.descr + "') is not supported");
  const size_t esize = descr_bytes(a.descr);
  if (esize == 0) fail(name, "unsupported dtype '" + a.descr + "' (expected <f8, <f4, <f2, <u2, <i8, <i4, |u1 or |b1)");

  uint64_t count = 1;
  for (int64_t d : a.shape) {
    if (d != 0 && count > (std::numeric_limits<uint64_t>::max() / esize) / static_cast<uint64_t>(d))
      fail(name, "shape overflows");
    count *= static_cast<uint64_t>(d);
  }
  const size_t body = size - prefix - header_len;
  if (count * esize != body)
    fail(name, "data size mismatch: shape needs " + std::to_string(count * esize) +
                   " bytes, file holds " + std::to_string(body));
  a.bytes.assign(data + prefix + header_len, data + size);
  return a;
}

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open file");
  std::vector<uint8_t> buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_npy(buf.data(), buf.size(), path);
}

std::string serialize_npy(const NpyArray& a) {
  std::string dims;
  for (size_t k = 0; k < a.shape.size(); ++k) dims += (k ? ", " : "") + std::to_string(a.shape[k]);
  if (a.shape.size() == 1) dims += ",";  // Python's one-element tuple
  std::string dict = "{'descr': '" + a.descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  const int major = dict.size() + 64 < 65535 ? 1 : 2;  // 1.0 stores the length in 16 bits
  const size_t prefix = kMagicLen + 2 + (major == 1 ? 2 : 4);
  size_t total = prefix + dict.size() + 1;  // + '\n'
  total = (total + 63) / 64 * 64;           // data aligned to 64 bytes
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict += '\n';
  std::string out(kMagic, kMagicLen);
  out += static_cast<char>(major);
  out += '\0';
  for (size_t k = 0; k < prefix - kMagicLen - 2; ++k) out += static_cast<char>((dict.size() >> (8 * k)) & 0xff);
  out += dict;
  out.append(reinterpret_cast<const char*>(a.bytes.data()), a.bytes.size());
  return out;
}

void write_npy(const std::string& path, const NpyArray& a) {
  std::ofstream out(path, std::ios::binary);
  const std::string s = serialize_npy(a);
  out.write(s.data(), static_cast<std::streamsize>(s.size()));
  if (!out) fail(path, "cannot write file");
}

NpyArray npy_from_doubles(const std::vector<double>& v, const std::vector<int64_t>& shape,
                          DType t) {
  NpyArray a{npy_descr(t), shape, {}};
  if (a.elements() != static_cast<int64_t>(v.size()))
    throw std::invalid_argument("npy_from_doubles: shape does not match the value count");
  a.bytes.resize(v.size() * dtype_bytes(t));
  uint8_t* out = a.bytes.data();
  for (size_t k = 0; k < v.size(); ++k) {
    switch (t) {
      case DType::f64: std::memcpy(out + 8 * k, &v[k], 8); break;
      case DType::f32: { float f = static_cast<float>(v[k]); std::memcpy(out + 4 * k, &f, 4); break; }
      case DType::f16: { uint16_t b = Eigen::numext::bit_cast<uint16_t>(Eigen::half(static_cast<float>(v[k]))); std::memcpy(out + 2 * k, &b, 2); break; }
      case DType::bf16: { uint16_t b = Eigen::numext::bit_cast<uint16_t>(Eigen::bfloat16(static_cast<float>(v[k]))); std::memcpy(out + 2 * k, &b, 2); break; }
    }
  }
  return a;
}

std::vector<double> npy_to_doubles(const NpyArray& a, DType t, const std::string& name) {
  if (a.descr != npy_descr(t))
    fail(name, std::string("dtype '") + a.descr + "' but the case's dtype " + dtype_name(t) +
                   " is stored as '" + npy_descr(t) + "'");
  const size_t n = a.bytes.size() / dtype_bytes(t);
  std::vector<double> v(n);
  const uint8_t* in = a.bytes.data();
  for (size_t k = 0; k < n; ++k) {
    switch (t) {
      case DType::f64: std::memcpy(&v[k], in + 8 * k, 8); break;
      case DType::f32: { float f; std::memcpy(&f, in + 4 * k, 4); v[k] = f; break; }
      case DType::f16: { uint16_t b; std::memcpy(&b, in + 2 * k, 2); v[k] = static_cast<float>(Eigen::numext::bit_cast<Eigen::half>(b)); break; }
      case DType::bf16: { uint16_t b; std::memcpy(&b, in + 2 * k, 2); v[k] = static_cast<float>(Eigen::numext::bit_cast<Eigen::bfloat16>(b)); break; }
    }
  }
  return v;
}

bool npy_is_integer(const std::string& d) { return d == "<i8" || d == "<i4" || d == "|u1" || d == "|b1"; }

NpyArray npy_from_ints(const std::vector<int64_t>& v, const std::vector<int64_t>& shape,
                       const std::string& descr) {
  if (!npy_is_integer(descr) || descr == "|b1")
    throw std::invalid_argument("npy_from_ints: descr '" + descr + "' (expected <i8, <i4 or |u1)");
  NpyArray a{descr, shape, {}};
  if (a.elements() != static_cast<int64_t>(v.size()))
    throw std::invalid_argument("npy_from_ints: shape does not match the value count");
  const size_t w = descr_bytes(descr);
  a.bytes.resize(v.size() * w);
  for (size_t k = 0; k < v.size(); ++k) {
    const int64_t x = v[k];
    if ((w == 4 && (x < INT32_MIN || x > INT32_MAX)) || (w == 1 && (x < 0 || x > 255)))
      throw std::invalid_argument("npy_from_ints: " + std::to_string(x) + " does not fit '" + descr + "'");
    const int32_t x32 = static_cast<int32_t>(x);
    const uint8_t x8 = static_cast<uint8_t>(x);
    std::memcpy(a.bytes.data() + w * k, w == 8 ? static_cast<const void*>(&x) : w == 4 ? static_cast<const void*>(&x32) : &x8, w);
  }
  return a;
}

std::vector<int64_t> npy_to_ints(const NpyArray& a, const std::string& name) {
  if (!npy_is_integer(a.descr))
    fail(name, "dtype '" + a.descr + "' but an integer or boolean array is expected (<i4, <i8, |u1 or |b1)");
  const size_t w = descr_bytes(a.descr), n = a.bytes.size() / w;
  std::vector<int64_t> v(n);
  for (size_t k = 0; k < n; ++k) {
    const uint8_t* in = a.bytes.data() + w * k;
    if (w == 8) {
      std::memcpy(&v[k], in, 8);
    } else if (w == 4) {
      int32_t x;
      std::memcpy(&x, in, 4);
      v[k] = x;
    } else {
      v[k] = in[0];
    }
  }
  return v;
}

}  // namespace flashcheck
