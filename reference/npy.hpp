// .npy files (NumPy format versions 1.0, 2.0 and 3.0): little-endian, C order.
// Element types: '<f8' (f64), '<f4' (f32), '<f2' (f16). NumPy has no bfloat16,
// so bf16 travels as '<u2' holding the raw bf16 bits; the case's problem.json
// names the dtype, and readers convert the bits back. Every malformed file
// (truncated, bad magic, malformed header, Fortran order, big-endian, shape /
// size mismatch, unsupported descr) throws NpyError naming the file and the
// reason; the parser never reads outside the bytes it was given.
// Integer and boolean arrays ('<i8', '<i4', '|u1', '|b1') carry the attention
// variants' index and mask tensors (cu_seqlens, block tables, keep masks).
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "reference/dtype.hpp"

namespace flashcheck {

class NpyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct NpyArray {
  std::string descr;           // '<f8', '<f4', '<f2', '<u2', '<i8', '<i4', '|u1' or '|b1'
  std::vector<int64_t> shape;  // C order
  std::vector<uint8_t> bytes;  // little-endian element data
  int64_t elements() const;
};

// The descr that stores a dtype ('<u2' for bf16 bits).
const char* npy_descr(DType t);

NpyArray parse_npy(const uint8_t* data, size_t size, const std::string& name);
NpyArray read_npy(const std::string& path);
// Writes format 1.0 (2.0 when the header needs it).
std::string serialize_npy(const NpyArray& a);
void write_npy(const std::string& path, const NpyArray& a);

// Values of dtype t (rounded to nearest, ties to even) packed as an NpyArray.
NpyArray npy_from_doubles(const std::vector<double>& v, const std::vector<int64_t>& shape,
                          DType t);
// The array's values as doubles; throws NpyError when its descr is not the one
// dtype t is stored as.
std::vector<double> npy_to_doubles(const NpyArray& a, DType t, const std::string& name);

// Integers packed as '<i8', '<i4' or '|u1' (descr); throws std::invalid_argument
// for another descr or a value that does not fit.
NpyArray npy_from_ints(const std::vector<int64_t>& v, const std::vector<int64_t>& shape,
                       const std::string& descr);
// The values of an integer or boolean array ('<i8', '<i4', '|u1', '|b1');
// throws NpyError naming the file for a float array.
std::vector<int64_t> npy_to_ints(const NpyArray& a, const std::string& name);
bool npy_is_integer(const std::string& descr);

}  // namespace flashcheck
