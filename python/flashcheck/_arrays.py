"""Arrays at the edge: what users hand in (NumPy, torch tensors, anything with
__array__ or DLPack) becomes C-contiguous float64 for the C++ core, and case
tensors go out in the case's dtype (bf16 as ``ml_dtypes.bfloat16``)."""

import ml_dtypes
import numpy as np

NUMPY_DTYPES = {
    "f64": np.dtype(np.float64),
    "f32": np.dtype(np.float32),
    "f16": np.dtype(np.float16),
    "bf16": np.dtype(ml_dtypes.bfloat16),
}


def numpy_dtype(dtype_name):
    """The NumPy dtype a case of this flashcheck dtype ("bf16", ...) uses."""
    return NUMPY_DTYPES[dtype_name]


def _to_numpy(name, x):
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor, without importing torch
        t = x.detach().cpu()
        if str(t.dtype) == "torch.bfloat16":
            t = t.float()  # NumPy has no bfloat16; every bf16 value is exact in float32
        return t.numpy()
    if hasattr(x, "__array__"):
        return np.asarray(x)
    if hasattr(x, "__dlpack__"):
        return np.from_dlpack(x)
    if isinstance(x, (list, tuple)):
        return np.asarray(x, dtype=np.float64)
    raise TypeError(f"{name}: expected an array (NumPy, torch tensor, __array__ or DLPack), "
                    f"got {type(x).__name__}")


def as_float64(name, x, shape):
    """x as a C-contiguous float64 array of the given shape; TypeError or
    ValueError naming the argument otherwise."""
    a = _to_numpy(name, x)
    if a.dtype.kind not in "fiu" and a.dtype != NUMPY_DTYPES["bf16"]:
        raise TypeError(f"{name}: expected a floating-point array, got dtype {a.dtype}")
    if tuple(a.shape) != tuple(shape):
        raise ValueError(f"{name}: shape {tuple(a.shape)} expected {tuple(shape)}")
    return np.ascontiguousarray(a, dtype=np.float64)


def as_input(name, x, shape, dtype_name):
    """An input tensor as float64 holding values of the problem's dtype: the
    oracle judges what the candidate saw, so values the dtype cannot hold are
    refused rather than silently rounded."""
    a = as_float64(name, x, shape)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: holds NaN or Inf")
    rounded = a.astype(NUMPY_DTYPES[dtype_name]).astype(np.float64)
    if not np.array_equal(rounded, a):
        raise ValueError(f"{name}: holds values not representable in {dtype_name} "
                         f"(round them first, e.g. x.astype(flashcheck.numpy_dtype('{dtype_name}')))")
    return a


def in_dtype(a, dtype_name):
    """A float64 array (values exact in the dtype) in the case's dtype."""
    return a.astype(NUMPY_DTYPES[dtype_name])
