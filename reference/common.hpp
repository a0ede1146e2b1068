// Host/device qualifier for the small pieces of vocabulary (mask, dtype sizes)
// that CUDA kernels share with the reference and the simulator.
#pragma once
#if defined(__CUDACC__)
#define FC_HD __host__ __device__
#else
#define FC_HD
#endif
