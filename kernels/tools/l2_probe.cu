// fc_l2_probe: how the device's L2 serves a stream that every resident CTA
// reads in order, wave after wave: the access pattern of a FlashAttention
// backward's Q/dO stream (and, in `pair` mode, its dQaccum atomics). Each of
// waves x ctas-per-sm x SMs CTAs walks the whole stream once; CTAs of one wave
// read each line at about the same time, so DRAM sees the stream once per
// wave unless L2 kept it from the wave before. Run under ncu
// (sim/fidelity/ncu_l2_probe.sh): DRAM bytes per launch give the share of a
// wave's re-reads that missed, as a function of the stream's size against
// the L2, which is what the GPU model's reuse rule predicts.
//
// Usage: fc_l2_probe MODE CTAS_PER_SM WAVES FROM TO STEP
//   MODE read: the stream is read only (cp.async-like .cg loads, no L1);
//   MODE pair: each 16 B read is paired with a 16 B float atomic add
//              (red.global) into a second buffer of the same size;
//   FROM:TO:STEP: read-stream sizes as fractions of the L2 (cudaDevAttrL2CacheSize).
// One line per launch goes to stdout (CSV) before it runs, in launch order.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/check.hpp"
#include "kernels/device_buffer.hpp"
#include "kernels/tools/probe_cli.hpp"

namespace {

using flashcheck::kernels::tools::probe_number;

constexpr int kThreads = 512;
constexpr int kUnroll = 4;  // uint4 loads in flight per thread and step

// C linkage: ncu names it plainly. `a` null: read mode.
extern "C" __global__ void fc_l2_cycle(const uint4* __restrict__ r, float* a, unsigned long long n16,
                                       unsigned* sink) {
  extern __shared__ unsigned char occupancy_pad[];  // only limits CTAs per SM
  unsigned acc = 0;
  const unsigned long long step = static_cast<unsigned long long>(kThreads) * kUnroll;
  for (unsigned long long base = 0; base < n16; base += step) {
    uint4 v[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const unsigned long long i = base + u * kThreads + threadIdx.x;
      v[u] = i < n16 ? __ldcg(r + i) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      acc ^= v[u].x ^ v[u].y ^ v[u].z ^ v[u].w;
      const unsigned long long i = base + u * kThreads + threadIdx.x;
      if (a && i < n16) {
        float* p = a + 4 * i;
        atomicAdd(p + 0, 1.0f);
        atomicAdd(p + 1, 1.0f);
        atomicAdd(p + 2, 1.0f);
        atomicAdd(p + 3, 1.0f);
      }
    }
  }
  if (acc == 0x9e3779b9u && sink) *sink = acc + occupancy_pad[0];  // never true: keeps the loads
}


int run(int argc, char** argv) {
  if (argc != 7) throw std::invalid_argument("usage: fc_l2_probe read|pair CTAS_PER_SM WAVES FROM TO STEP");
  const std::string mode = argv[1];
  if (mode != "read" && mode != "pair") throw std::invalid_argument("MODE must be read or pair, not " + mode);
  const double per_sm_d = probe_number(argv[2], "CTAS_PER_SM"), waves_d = probe_number(argv[3], "WAVES");
  const double from = probe_number(argv[4], "FROM"), to = probe_number(argv[5], "TO"), stepf = probe_number(argv[6], "STEP");
  if (per_sm_d < 1 || per_sm_d > 4 || per_sm_d != std::floor(per_sm_d)) throw std::invalid_argument("CTAS_PER_SM must be 1..4");
  if (waves_d < 2 || waves_d > 16 || waves_d != std::floor(waves_d)) throw std::invalid_argument("WAVES must be 2..16");
  if (!(from > 0) || !(to >= from) || !(stepf > 0) || to > 8) throw std::invalid_argument("need 0 < FROM <= TO <= 8, STEP > 0");
  const int per_sm = static_cast<int>(per_sm_d), waves = static_cast<int>(waves_d);

  int dev = 0, l2 = 0, sms = 0, smem_sm = 0;
  FC_CUDA(cudaGetDevice(&dev));
  FC_CUDA(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev));
  FC_CUDA(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  FC_CUDA(cudaDeviceGetAttribute(&smem_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, dev));
  if (l2 <= 0) throw std::runtime_error("the device reports no L2");
  // Shared memory per CTA so that exactly per_sm CTAs fit on an SM (1 KiB per CTA is reserved).
  // (the runtime reserves 1 KiB per CTA; 1 KiB more of slack stays under the per-block limit).
  const int smem = smem_sm / per_sm - 2048;
  FC_CUDA(cudaFuncSetAttribute(fc_l2_cycle, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
  int resident = 0;
  FC_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&resident, fc_l2_cycle, kThreads, smem));
  if (resident != per_sm)
    throw std::runtime_error("occupancy is " + std::to_string(resident) + " CTAs per SM, not " + std::to_string(per_sm));

  const long long grid = static_cast<long long>(waves) * per_sm * sms;
  const int points = static_cast<int>(std::floor((to - from) / stepf + 1e-9)) + 1;
  const std::size_t max_bytes = static_cast<std::size_t>(to * l2) / 16 * 16 + 16;
  flashcheck::kernels::DeviceBuffer r(max_bytes), sink(sizeof(unsigned));
  flashcheck::kernels::DeviceBuffer a(mode == "pair" ? max_bytes : 16);
  FC_CUDA(cudaMemset(r.as<void>(), 0, r.bytes()));  // then never written: its lines are never dirty
  FC_CUDA(cudaMemset(a.as<void>(), 0, a.bytes()));
  FC_CUDA(cudaDeviceSynchronize());
  std::printf("launch,mode,ctas_per_sm,waves,grid,sms,l2_bytes,fraction_of_l2,read_bytes,atomic_bytes\n");
  for (int k = 0; k < points; ++k) {
    const double f = from + k * stepf;
    const unsigned long long n16 = static_cast<unsigned long long>(f * l2) / 16;
    const unsigned long long bytes = n16 * 16;
    std::printf("%d,%s,%d,%d,%lld,%d,%d,%.4f,%llu,%llu\n", k, mode.c_str(), per_sm, waves, grid, sms, l2, f, bytes,
                mode == "pair" ? bytes : 0ull);
    std::fflush(stdout);
    fc_l2_cycle<<<static_cast<unsigned>(grid), kThreads, smem>>>(
        r.as<const uint4>(), mode == "pair" ? a.as<float>() : nullptr, n16, sink.as<unsigned>());
    FC_CHECK_LAUNCH("fc_l2_cycle");
    FC_CUDA(cudaDeviceSynchronize());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return flashcheck::kernels::tools::probe_main("fc_l2_probe", run, argc, argv); }
