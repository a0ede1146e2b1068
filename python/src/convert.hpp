// NumPy <-> Tensor4<double> at the module's edge. The Python side
// (flashcheck/_arrays.py) hands over C-contiguous float64 arrays whose shapes
// it has already checked and named; these functions only copy.
#pragma once
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include "reference/tensor.hpp"

namespace flashcheck::py {

namespace nb = nanobind;
using InArray = nb::ndarray<const double, nb::c_contig, nb::device::cpu>;
using OutArray = nb::ndarray<nb::numpy, double>;

// Copies a 4-d array (or a 3-d one, read as D = 1: LSE) into a tensor of
// the expected shape; throws std::invalid_argument naming `what` otherwise.
Tensor4<double> to_tensor(const InArray& a, const Shape4& want, const char* what);
// A new NumPy float64 array owning a copy of t; drop_d: shape [B][H][N] (LSE).
OutArray to_numpy(Tensor4<double> t, bool drop_d = false);

}  // namespace flashcheck::py
