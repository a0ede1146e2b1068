// fc_spill_probe: what becomes of a kernel's stack frames (where spilled
// registers live) in L2. Each of waves x 2 x SMs CTAs of 128 threads streams
// its own slice of a read-only buffer (every byte read once: DRAM fills only)
// while each thread writes one word of its FRAME-byte local array per step (a
// spill-like store that keeps its frame's lines dirty) and, with COLD_WORDS, writes a second
// local array once at its start and reads it only at its end (a frame part L2 sees written once
// per CTA, as a kernel's prologue spills are; its later reads hit L1) and, with REREADS R, reads R
// lines a step of one buffer all CTAs share (L2 hits, no fills: do hits age the cold part?), of
// HOT_FRAC x the L2 (default 1/4: how far does the answer depend on the hits' distinct lines?).
// Run under ncu with L2 left alone and a read-only drain after each launch
// (sim/fidelity/ncu_spill_probe.sh): the launch's DRAM writes are frame lines
// evicted while it ran, the drain's those still dirty at its end; the GPU
// model predicts both (sim/README.md, "Spills").
//
// Usage: fc_spill_probe FRAME_WORDS WAVES FILL_FROM FILL_TO FILL_STEP [STAGGER [COLD_WORDS [REREADS [HOT_FRAC [GROUP]]]]]
//   FRAME_WORDS 16, 32 or 64 (64, 128, 256 B a thread); fills as multiples of the L2;
//   STAGGER S: CTA b streams (b % S + 1) equal units, so CTAs end at different times (default 1);
//   COLD_WORDS 0, 32 or 64: the written-once array's words per thread (default 0);
//   REREADS 0..64: shared-buffer lines each thread reads a step (default 0);
//   HOT_FRAC (0, 1]: the shared buffer's size over the L2 (default 0.25);
//   GROUP 0..4096: 0 (default) scattered 4 B re-reads, each CTA its own; G > 0 whole coalesced lines,
//   the same ones for G consecutive CTAs, as a head's query blocks read its K/V tiles.
// One CSV line per launch goes to stdout before it runs, in launch order.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "kernels/check.hpp"
#include "kernels/device_buffer.hpp"
#include "kernels/l2_drain.hpp"
#include "kernels/tools/probe_cli.hpp"

namespace {

using flashcheck::kernels::tools::probe_number;

constexpr int kThreads = 128;

// `words` per thread, indexed at run time so it must live in local memory.
template <int kWords, int kCold>
__global__ void __launch_bounds__(kThreads) fc_spill_cycle(const uint4* __restrict__ r, unsigned long long unit16,
                                                           unsigned stagger, const uint4* __restrict__ hot,
                                                           unsigned long long hot16, unsigned rereads, unsigned group,
                                                           unsigned* sink) {
  extern __shared__ unsigned char occupancy_pad[];
  unsigned frame[kWords];
#pragma unroll
  for (int k = 0; k < kWords; ++k) frame[k] = k;
  // CTA b streams (b % stagger + 1) units, like a causal forward's Q blocks (stagger 1: all alike).
  const unsigned long long q = blockIdx.x / stagger, k = blockIdx.x % stagger;
  const uint4* mine = r + unit16 * (q * stagger * (stagger + 1) / 2 + k * (k + 1) / 2);
  const unsigned long long per_cta16 = unit16 * (k + 1);
  // The written-once part (kCold > 0): stored at the start, read back only at the end.
  unsigned cold[kCold > 0 ? kCold : 1];
  if constexpr (kCold > 0) {
    const unsigned seed = per_cta16 ? __ldcg(&mine[threadIdx.x % per_cta16].x) : 0u;
    for (int c = 0; c < kCold; ++c) cold[(c + threadIdx.x) % kCold] = seed + c;
  }
  // A group's own stream: as long as its CTAs' reads, so groups' streams overlap only where hot16 wraps.
  const unsigned long long stream16 = (unit16 * stagger + kThreads - 1) / kThreads * rereads * kThreads;
  unsigned step = 0;
  for (unsigned long long i = threadIdx.x; i < per_cta16; i += kThreads, ++step) {
    uint4 v = __ldcg(mine + i);
    // CTA b (group 0) starts 8191 b lines in, so concurrent CTAs spread their hits over the whole buffer.
    if (group == 0) {
      for (unsigned j = 0; j < rereads; ++j) v.x += __ldcg(&hot[(i * rereads + j + blockIdx.x * 8191ull) % hot16].y);
    } else {  // whole lines, coalesced, one stream for each `group` consecutive CTAs (a head's K/V tiles)
      for (unsigned j = 0; j < rereads; ++j) {
        const uint4 h = __ldcg(&hot[((step * rereads + j) * kThreads + threadIdx.x + blockIdx.x / group * stream16) % hot16]);
        v.x += h.x ^ h.y ^ h.z ^ h.w;
      }
    }
    frame[(step * 7u + threadIdx.x) % kWords] += v.x ^ v.y ^ v.z ^ v.w;  // one spill-like store a step
  }
  unsigned acc = 0;
  for (int k = 0; k < kWords; ++k) acc ^= frame[(k + threadIdx.x) % kWords];
  if constexpr (kCold > 0)
    for (int c = 0; c < kCold; ++c) acc += cold[(3 * c + threadIdx.x) % kCold];
  if (acc == 0x9e3779b9u && sink) *sink = acc + occupancy_pad[0];  // never true: keeps the frame
}



struct Hot {  // the shared re-read buffer
  const uint4* p;
  unsigned long long n16;
  unsigned rereads;
  unsigned group;  // 0: scattered 4 B reads; G: coalesced lines shared by G consecutive CTAs
};
template <int kWords, int kCold>
void launch(unsigned grid, int smem, const uint4* r, unsigned long long unit16, unsigned stagger, Hot h, unsigned* sink) {
  FC_CUDA(cudaFuncSetAttribute(fc_spill_cycle<kWords, kCold>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
  int resident = 0;
  FC_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&resident, fc_spill_cycle<kWords, kCold>, kThreads, smem));
  if (resident != 2) throw std::runtime_error("occupancy is " + std::to_string(resident) + " CTAs per SM, not 2");
  fc_spill_cycle<kWords, kCold><<<grid, kThreads, smem>>>(r, unit16, stagger, h.p, h.n16, h.rereads, h.group, sink);
  FC_CHECK_LAUNCH("fc_spill_cycle");
}

template <int kCold>
void launch_cold(int words, unsigned grid, int smem, const uint4* r, unsigned long long unit16, unsigned stagger, Hot h,
                 unsigned* sink) {
  if (words == 16) launch<16, kCold>(grid, smem, r, unit16, stagger, h, sink);
  if (words == 32) launch<32, kCold>(grid, smem, r, unit16, stagger, h, sink);
  if (words == 64) launch<64, kCold>(grid, smem, r, unit16, stagger, h, sink);
}
void launch_words(int words, int cold, unsigned grid, int smem, const uint4* r, unsigned long long unit16, unsigned stagger,
                  Hot h, unsigned* sink) {
  if (cold == 0) launch_cold<0>(words, grid, smem, r, unit16, stagger, h, sink);
  if (cold == 32) launch_cold<32>(words, grid, smem, r, unit16, stagger, h, sink);
  if (cold == 64) launch_cold<64>(words, grid, smem, r, unit16, stagger, h, sink);
}

int run(int argc, char** argv) {
  if (argc < 6 || argc > 11)
    throw std::invalid_argument(
        "usage: fc_spill_probe FRAME_WORDS WAVES FILL_FROM FILL_TO FILL_STEP [STAGGER [COLD_WORDS [REREADS [HOT_FRAC [GROUP]]]]]");
  const double stagger_d = argc >= 7 ? probe_number(argv[6], "STAGGER") : 1;
  const double cold_d = argc >= 8 ? probe_number(argv[7], "COLD_WORDS") : 0;
  const double rereads_d = argc >= 9 ? probe_number(argv[8], "REREADS") : 0;
  const double hot_frac = argc >= 10 ? probe_number(argv[9], "HOT_FRAC") : 0.25;
  const double group_d = argc == 11 ? probe_number(argv[10], "GROUP") : 0;
  if (group_d < 0 || group_d > 4096 || group_d != std::floor(group_d)) throw std::invalid_argument("GROUP must be 0..4096");
  if (!(hot_frac > 0) || hot_frac > 1) throw std::invalid_argument("HOT_FRAC must be in (0, 1]");
  if (rereads_d < 0 || rereads_d > 64 || rereads_d != std::floor(rereads_d)) throw std::invalid_argument("REREADS must be 0..64");
  const int cold_words = static_cast<int>(cold_d);
  if (cold_d != cold_words || (cold_words != 0 && cold_words != 32 && cold_words != 64))
    throw std::invalid_argument("COLD_WORDS must be 0, 32 or 64");
  if (stagger_d < 1 || stagger_d > 4096 || stagger_d != std::floor(stagger_d)) throw std::invalid_argument("STAGGER must be 1..4096");
  const unsigned stagger = static_cast<unsigned>(stagger_d);
  const double words_d = probe_number(argv[1], "FRAME_WORDS"), waves_d = probe_number(argv[2], "WAVES");
  const double from = probe_number(argv[3], "FILL_FROM"), to = probe_number(argv[4], "FILL_TO"), step = probe_number(argv[5], "FILL_STEP");
  const int words = static_cast<int>(words_d);
  if (words_d != words || (words != 16 && words != 32 && words != 64)) throw std::invalid_argument("FRAME_WORDS must be 16, 32 or 64");
  if (waves_d < 1 || waves_d > 64 || waves_d != std::floor(waves_d)) throw std::invalid_argument("WAVES must be 1..64");
  if (!(from > 0) || !(to >= from) || !(step > 0) || to > 16) throw std::invalid_argument("need 0 < FILL_FROM <= FILL_TO <= 16, FILL_STEP > 0");
  int dev = 0, l2 = 0, sms = 0, smem_sm = 0;
  FC_CUDA(cudaGetDevice(&dev));
  FC_CUDA(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev));
  FC_CUDA(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  FC_CUDA(cudaDeviceGetAttribute(&smem_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, dev));
  const int smem = smem_sm / 2 - 2048;  // 2 CTAs per SM, as PyTorch's forward runs
  const unsigned grid = static_cast<unsigned>(waves_d) * 2u * static_cast<unsigned>(sms);
  const std::size_t max_bytes = static_cast<std::size_t>(to * l2) / 16 * 16 + 16 * grid;
  const unsigned long long hot16 = static_cast<unsigned long long>(hot_frac * l2) / 16;
  flashcheck::kernels::DeviceBuffer r(max_bytes), sink(sizeof(unsigned)), hot(hot16 * 16);
  const flashcheck::kernels::L2Drain drain;  // fc_l2_flush over 4x the L2, never written
  FC_CUDA(cudaMemset(r.as<void>(), 1, r.bytes()));
  FC_CUDA(cudaMemset(hot.as<void>(), 1, hot.bytes()));
  FC_CUDA(cudaDeviceSynchronize());
  const auto flush = [&] { drain.run(); };
  flush();  // the buffers' memset lines out of L2 before the first launch
  // Units over all CTAs: whole cycles of stagger CTAs (1 + ... + stagger units each) and the rest.
  const unsigned long long cycles = grid / stagger, rest = grid % stagger;
  const unsigned long long units = cycles * stagger * (stagger + 1) / 2 + rest * (rest + 1) / 2;
  std::printf("launch,frame_bytes_per_thread,threads_per_cta,ctas_per_sm,waves,grid,sms,l2_bytes,fill_over_l2,fill_bytes,stagger,cold_bytes_per_thread,rereads_per_step,reread_buffer_bytes,reread_group\n");
  const int points = static_cast<int>(std::floor((to - from) / step + 1e-9)) + 1;
  for (int k = 0; k < points; ++k) {
    const double f = from + k * step;
    const unsigned long long unit16 = static_cast<unsigned long long>(f * l2) / 16 / units;
    std::printf("%d,%d,%d,2,%d,%u,%d,%d,%.4f,%llu,%u,%d,%d,%llu,%d\n", k, 4 * words, kThreads, static_cast<int>(waves_d), grid, sms,
                l2, f, unit16 * 16ull * units, stagger, 4 * cold_words, static_cast<int>(rereads_d), hot16 * 16,
                static_cast<int>(group_d));
    std::fflush(stdout);
    launch_words(words, cold_words, grid, smem, r.as<const uint4>(), unit16, stagger,
                 Hot{hot.as<const uint4>(), hot16, static_cast<unsigned>(rereads_d), static_cast<unsigned>(group_d)}, sink.as<unsigned>());
    flush();  // its DRAM writes: the frame lines still dirty when the launch ended
    FC_CUDA(cudaDeviceSynchronize());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return flashcheck::kernels::tools::probe_main("fc_spill_probe", run, argc, argv); }
