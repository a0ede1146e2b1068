// Catch2 main of the GPU suites. Without a usable CUDA device it prints why
// and exits with kSkipCode, which CTest's SKIP_RETURN_CODE turns into
// "Skipped" (Catch2 2.13 has no SKIP). Listing tests (what
// catch_discover_tests does at build time) never needs a device.
//
// RapidCheck's case count defaults to 100 here (GPU cases carry a float64
// reference of up to 2049 x 2049 scores) and its seed to kDefaultSeed (the
// CPU suites' seed, properties/test_main.cpp), so every GPU run draws the
// same cases; a seed or max_success in RC_PARAMS wins.
#define CATCH_CONFIG_RUNNER
#include <cuda_runtime_api.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "properties/kernels/gpu_harness.hpp"

int main(int argc, char** argv) {
  bool listing = false;
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--list", 6) == 0) listing = true;
  if (!listing) {
    int n = 0;
    const cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess || n == 0) {
      std::printf("no CUDA device (%s): GPU properties skipped\n",
                  err != cudaSuccess ? cudaGetErrorString(err) : "0 devices");
      return flashcheck::gputest::kSkipCode;
    }
  }
  const char* user = std::getenv("RC_PARAMS");
  std::string params = user ? user : "";
  if (params.find("max_success=") == std::string::npos) params = "max_success=100 " + params;
  if (params.find("seed=") == std::string::npos) params = "seed=20261125 " + params;
  setenv("RC_PARAMS", params.c_str(), 1);
  const int rc = Catch::Session().run(argc, argv);
  // FLASHCHECK_ACCURACY_CSV=path: the accuracy records for reports/gpu/.
  if (const char* path = std::getenv("FLASHCHECK_ACCURACY_CSV"); path && !listing) {
    try {
      flashcheck::gputest::write_accuracy_csv(path);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return rc ? rc : 1;
    }
  }
  return rc;
}
