// fc_kernel_driver: runs every registered variant on a few small, awkward
// problems. Used under compute-sanitizer by scripts/gpu_check.sh (memcheck,
// racecheck, initcheck, synccheck), and as a quick GPU-only cross-check
// between variants (no float64 reference needed).
//
//   fc_kernel_driver sanitize [variant...]   each variant once per problem (a backward
//                                            variant after its paired forward, in the
//                                            default and in deterministic mode); exit 0
//                                            if all ran and every gradient is finite
//   fc_kernel_driver compare [variant...]    every variant against `standard` (same dtype):
//                                            max |O - O_standard|, max |LSE - LSE_standard|
//   fc_kernel_driver bench [variant...]      a few quick timings (N 1024 and 4096, bf16)
// Naming variants restricts the run to them (default: every registered one).
// sanitize and compare also take --dtype T (only T, every head dim in it) and
// --head-dim D (repeatable; only those), e.g. `sanitize --dtype bf16
// --head-dim 256 flash2_bwd` (sanitize_cases.hpp).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "kernels/bench.hpp"
#include "kernels/device_buffer.hpp"
#include "kernels/fill.hpp"
#include "kernels/problem_tensors.hpp"
#include "kernels/registry.hpp"
#include "kernels/tools/sanitize_cases.hpp"

using namespace flashcheck;
using namespace flashcheck::kernels;

namespace {

// Odd lengths on both sides of the tiles, rows that see no key (bottom-right
// causal and a missing window with Nq > Nk), keys no query sees (top-left
// causal and windows with Nk > Nq), MQA and GQA.
std::vector<Problem> small_problems() {
  std::vector<Problem> out;
  const Mask masks[] = {Mask::none(), Mask::causal_top_left(), Mask::causal_bottom_right(),
                        Mask::sliding_window(37, 5), Mask::sliding_window(0, 0)};
  // {200, 650}: enough KV blocks to wrap a 2-stage ring several times.
  const int64_t lens[][2] = {{1, 1}, {77, 131}, {131, 77}, {200, 650}};
  auto add = [&](int64_t batch, int64_t hq, int64_t hkv, int64_t sq, int64_t sk, Mask m) {
    Problem p;
    p.batch = batch;
    p.heads_q = hq;
    p.heads_kv = hkv;
    p.seqlen_q = sq;
    p.seqlen_k = sk;
    p.mask = m;
    out.push_back(p);
  };
  for (const Mask& m : masks)
    for (const auto& l : lens) add(1, 2, 1, l[0], l[1], m);
  add(2, 4, 2, 65, 129, Mask::causal_top_left());
  // MQA with a group of 32, which flash2_bwd spreads over 32 blocks per KV
  // block (partial dK, dV, then the reduction); rows that see no key.
  add(1, 32, 1, 70, 33, Mask::causal_bottom_right());
  // Softcap and ALiBi (variants that refuse them skip these): lengths off
  // the tiles, rows that see no key, a GQA group, a window over many blocks;
  // each alone once, both together on every shape.
  const size_t plain = out.size();
  add(2, 4, 2, 77, 131, Mask::none());
  add(1, 2, 1, 131, 77, Mask::causal_bottom_right());
  add(1, 4, 1, 200, 650, Mask::sliding_window(37, 5));
  for (size_t i = plain; i < out.size(); ++i) {
    out[i].variants.softcap = 30.0;
    out[i].variants.alibi = true;
  }
  out[plain].variants.softcap = 5.0;
  Problem softcap = out[plain], alibi = out[plain + 1];
  softcap.variants.alibi = false;
  alibi.variants.softcap.reset();
  out.push_back(softcap);
  out.push_back(alibi);
  // Varlen (lengths: lens_of below): 4 sequences, plain and with ALiBi.
  add(4, 4, 2, 131, 200, Mask::causal_bottom_right());
  add(4, 2, 1, 77, 65, Mask::none());
  out[out.size() - 2].variants.varlen = true;
  out[out.size() - 1].variants.varlen = true;
  out[out.size() - 1].variants.alibi = true;
  return out;
}

// A varlen problem's sequences: one without queries, one without keys, the
// longest, and one off the tiles (a plain problem: none).
SeqLens lens_of(const Problem& p) {
  if (!p.variants.varlen) return {};
  SeqLens l;
  const int64_t q[] = {0, p.seqlen_q, 1, p.seqlen_q / 2 + 3}, k[] = {p.seqlen_k, 0, p.seqlen_k, 17};
  for (int64_t b = 0; b < p.batch; ++b) {
    l.q.push_back(q[b % 4]);
    l.k.push_back(std::min(k[b % 4], p.seqlen_k));
  }
  return l;
}

struct Run {
  std::vector<float> O;  // converted to float
  std::vector<float> LSE;
};

float to_float(const unsigned char* p, DType t) {
  if (t == DType::f32) { float f; std::memcpy(&f, p, 4); return f; }
  std::uint16_t bits;
  std::memcpy(&bits, p, 2);
  if (t == DType::f16) { __half_raw r; r.x = bits; return __half2float(__half(r)); }
  __nv_bfloat16_raw r; r.x = bits; return __bfloat162float(__nv_bfloat16(r));
}

Run run_once(const Variant& v, const Problem& p) {
  const std::size_t elem = dtype_bytes(p.dtype);
  ProblemTensors t(p, false, lens_of(p));
  t.fill(11, 2.f);
  DeviceBuffer work(v.workspace_bytes(p));
  FC_CUDA(cudaMemset(t.O.get(), kNaNByte, t.O.bytes()));
  FC_CUDA(cudaMemset(t.LSE.get(), kNaNByte, t.LSE.bytes()));
  run_forward(v, p, t.forward_args(work));
  FC_CUDA(cudaDeviceSynchronize());
  std::vector<unsigned char> o(t.O.bytes());
  Run r;
  r.LSE.resize(t.ext.lse_elems);
  FC_CUDA(cudaMemcpy(o.data(), t.O.get(), t.O.bytes(), cudaMemcpyDeviceToHost));
  FC_CUDA(cudaMemcpy(r.LSE.data(), t.LSE.get(), t.LSE.bytes(), cudaMemcpyDeviceToHost));
  r.O.resize(t.ext.q_elems);
  for (int64_t i = 0; i < t.ext.q_elems; ++i) r.O[i] = to_float(o.data() + i * elem, p.dtype);
  return r;
}

// One backward of a bwd variant after its paired forward; the gradients are
// only checked for NaN (accuracy is the GPU properties' job).
bool run_backward_once(const Variant& v, const Problem& p, bool deterministic) {
  const Variant& f = paired_forward(v);
  const std::size_t elem = dtype_bytes(p.dtype);
  ProblemTensors t(p, true, lens_of(p));
  t.fill(11, 2.f);
  DeviceBuffer fw(f.workspace_bytes(p)), bw(v.workspace_bytes(p));
  run_forward(f, p, t.forward_args(fw));
  run_backward(v, p, t.backward_args(bw, deterministic));
  FC_CUDA(cudaDeviceSynchronize());
  bool finite = true;
  for (const DeviceBuffer* b : {&t.dQ, &t.dK, &t.dV}) {
    std::vector<unsigned char> h(b->bytes());
    FC_CUDA(cudaMemcpy(h.data(), b->get(), h.size(), cudaMemcpyDeviceToHost));
    for (std::size_t i = 0; i < h.size() / elem; ++i)
      if (!std::isfinite(to_float(h.data() + i * elem, p.dtype))) finite = false;
  }
  return finite;
}

CaseFilter g_filter;  // --dtype, --head-dim

// Problems each variant supports, in the (dtype, head dim) pairs of
// sanitize_cases(): by default a padded head dim (not a multiple of 64: flash2
// pads its shared-memory rows, the same code in either dtype) and d 256 in
// one dtype (d 32 fp16, d 96 bf16, d 256 fp16), so the four sanitizer passes
// stay within their time; --dtype picks another.
template <class F>
void for_each_case(const Variant& v, const std::vector<Problem>& base, F f) {
  for (const auto& [dtype, d] : sanitize_cases(v.dtypes, v.head_dims, g_filter))
    for (Problem p : base) {
      p.dtype = dtype;
      p.head_dim = d;
      if (v.supports(p)) f(p);
    }
}

std::vector<std::string> g_only;  // variants named on the command line
bool selected(const Variant& v) {
  if (g_only.empty()) return true;
  for (const std::string& n : g_only)
    if (n == v.name) return true;
  return false;
}

// A variant that runs no case here (supports() refused every problem, e.g.
// an sm_90a variant on another GPU) fails the run: nothing ran, nothing passed.
int sanitize() {
  int runs = 0, nonfinite = 0, idle = 0;
  if (g_filter.dtype) std::printf("sanitize: dtype %s only\n", dtype_name(*g_filter.dtype));
  for (int d : g_filter.head_dims) std::printf("sanitize: head dim %d asked\n", d);
  for (const Variant& v : registry()) {
    if (!selected(v)) continue;
    const std::vector<bool> modes = v.direction == Direction::fwd ? std::vector<bool>{false}
                                                                  : std::vector<bool>{false, true};
    int mine = 0;
    for (bool deterministic : modes) {
      int variant_runs = 0;
      for_each_case(v, small_problems(), [&](const Problem& p) {
        if (v.direction == Direction::fwd) {
          run_once(v, p);
        } else if (!run_backward_once(v, p, deterministic)) {
          ++nonfinite;
          std::printf("sanitize: %s%s: non-finite gradient for %s\n", v.name,
                      deterministic ? " (deterministic)" : "", p.describe().c_str());
        }
        ++variant_runs;
      });
      mine += variant_runs;
      std::printf("sanitize: %s%s: %d runs\n", v.name, deterministic ? " (deterministic)" : "",
                  variant_runs);
    }
    runs += mine;
    if (mine == 0) {
      ++idle;
      Problem p;
      p.dtype = v.dtypes.front();
      p.head_dim = v.head_dims.empty() ? 64 : v.head_dims.front();
      std::printf("sanitize: %s ran NO case: %s\n", v.name,
                  sanitize_cases(v.dtypes, v.head_dims, g_filter).empty()
                      ? "none of its dtypes and head dims matches --dtype / --head-dim"
                      : v.supports(p).reason.c_str());
    }
  }
  std::printf("sanitize: %d runs done, %d with non-finite gradients, %d variants ran nothing\n",
              runs, nonfinite, idle);
  return nonfinite || idle ? 1 : 0;
}

int compare() {
  const Variant& ref = find_variant("standard");
  int bad = 0;
  for (const Variant& v : registry()) {
    if (v.direction != Direction::fwd || &v == &ref || !selected(v)) continue;
    int mine = 0;
    for_each_case(v, small_problems(), [&](const Problem& p) {
      if (!ref.supports(p)) return;  // softcap / ALiBi: the GPU properties judge those
      ++mine;
      const Run a = run_once(v, p), b = run_once(ref, p);
      double eo = 0, el = 0;
      bool nan = false;
      for (size_t i = 0; i < a.O.size(); ++i) {
        if (std::isnan(a.O[i])) nan = true;
        eo = std::fmax(eo, std::fabs(a.O[i] - b.O[i]));
      }
      for (size_t i = 0; i < a.LSE.size(); ++i) {
        if (std::isnan(a.LSE[i])) nan = true;
        if (a.LSE[i] == b.LSE[i]) continue;  // equal infinities included
        el = std::fmax(el, std::fabs(a.LSE[i] - b.LSE[i]));
      }
      // Loose: `standard` rounds S to the dtype (bf16: 2^-8 relative).
      const bool ok = !nan && eo < 2e-2 && el < (p.dtype == DType::bf16 ? 5e-2 : 1e-2);
      bad += !ok;
      std::printf("%s %-4s %s: max|dO| %.3g max|dLSE| %.3g%s\n", ok ? "ok  " : "FAIL", v.name,
                  p.describe().c_str(), eo, el, nan ? " NaN" : "");
    });
    if (mine == 0) {  // nothing compared is a failure, not a pass
      ++bad;
      std::printf("FAIL %s: compared NO case (supports() refused every problem here)\n", v.name);
    }
  }
  std::printf("compare: %d failures\n", bad);
  return bad ? 1 : 0;
}

int bench() {
  std::printf("device: %s\n", device_description().c_str());
  for (const Variant& v : registry()) {
    if (v.direction != Direction::fwd || !selected(v)) continue;
    for (int d : {64, 128})
      for (bool causal : {false, true})
        for (int64_t n : {1024, 4096}) {
          Problem p;
          p.batch = 16384 / n;
          p.heads_q = p.heads_kv = 2048 / d;
          p.seqlen_q = p.seqlen_k = n;
          p.head_dim = d;
          p.dtype = DType::bf16;
          p.mask = causal ? Mask::causal_top_left() : Mask::none();
          if (!v.supports(p)) continue;
          const BenchResult r = bench_forward(v, p, {});
          std::printf("%-10s d=%3d N=%5lld causal=%d %8.3f ms %7.1f TFLOP/s\n", v.name, d,
                      static_cast<long long>(n), causal, r.median_ms, r.tflops);
        }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "sanitize";
  try {
    std::vector<std::string> args(argv + std::min(argc, 2), argv + argc);
    g_filter = take_case_filter(args);
    if (mode == "bench" && (g_filter.dtype || !g_filter.head_dims.empty()))
      throw std::invalid_argument("--dtype and --head-dim apply to sanitize and compare, not bench");
    for (const std::string& a : args) g_only.push_back(find_variant(a).name);
    if (mode == "sanitize") return sanitize();
    if (mode == "compare") return compare();
    if (mode == "bench") return bench();
    std::fprintf(stderr, "usage: fc_kernel_driver [sanitize|compare|bench] [variant...]\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fc_kernel_driver: error: %s\n", e.what());
    return 1;
  }
}
