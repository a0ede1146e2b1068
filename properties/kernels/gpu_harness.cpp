// GPU side of the kernel properties (see gpu_harness.hpp).
#include "properties/kernels/gpu_harness.hpp"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <tuple>

#include "kernels/bench.hpp"
#include "kernels/fill.hpp"

namespace flashcheck::gputest {

using kernels::DeviceBuffer;

GuardedBuffer::GuardedBuffer(std::size_t bytes) : raw_(bytes + 2 * kGuard), bytes_(bytes) {
  FC_CUDA(cudaMemset(raw_.get(), kGuardByte, raw_.bytes()));
}

std::vector<unsigned char> GuardedBuffer::download() const {
  std::vector<unsigned char> out(bytes_);
  if (bytes_) FC_CUDA(cudaMemcpy(out.data(), get(), bytes_, cudaMemcpyDeviceToHost));
  return out;
}

std::string GuardedBuffer::guard_damage(const char* name) const {
  std::vector<unsigned char> all(raw_.bytes());
  FC_CUDA(cudaMemcpy(all.data(), raw_.get(), all.size(), cudaMemcpyDeviceToHost));
  for (std::size_t i = 0; i < kGuard; ++i)
    if (all[i] != kGuardByte)
      return std::string(name) + ": guard before the buffer written at byte -" +
             std::to_string(kGuard - i) + "; ";
  for (std::size_t i = kGuard + bytes_; i < all.size(); ++i)
    if (all[i] != kGuardByte)
      return std::string(name) + ": guard after the buffer written at byte +" +
             std::to_string(i - kGuard - bytes_) + "; ";
  return {};
}

namespace {

std::vector<unsigned char> encode(const Tensor4<double>& t, DType dt) {
  const std::size_t e = dtype_bytes(dt);
  std::vector<unsigned char> out(t.values().size() * e);
  for (std::size_t i = 0; i < t.values().size(); ++i) {
    const float f = static_cast<float>(t.values()[i]);  // exact: values fit the dtype
    if (dt == DType::f32) {
      std::memcpy(&out[i * e], &f, 4);
    } else if (dt == DType::f16) {
      const __half h = __float2half_rn(f);
      std::memcpy(&out[i * e], &h, 2);
    } else if (dt == DType::bf16) {
      const __nv_bfloat16 h = __float2bfloat16_rn(f);
      std::memcpy(&out[i * e], &h, 2);
    } else {
      std::memcpy(&out[i * e], &t.values()[i], 8);
    }
  }
  return out;
}

double decode(const unsigned char* p, DType dt) {
  if (dt == DType::f64) { double d; std::memcpy(&d, p, 8); return d; }
  if (dt == DType::f32) { float f; std::memcpy(&f, p, 4); return f; }
  if (dt == DType::f16) { __half h; std::memcpy(&h, p, 2); return __half2float(h); }
  __nv_bfloat16 h;
  std::memcpy(&h, p, 2);
  return __bfloat162float(h);
}

GuardedBuffer upload(const std::vector<unsigned char>& bytes) {
  GuardedBuffer b(bytes.size());
  if (!bytes.empty())
    FC_CUDA(cudaMemcpy(b.get(), bytes.data(), bytes.size(), cudaMemcpyHostToDevice));
  return b;
}

// The ALiBi slopes as the kernels take them (float32; the properties draw
// slopes exact in float32, so this rounds nothing).
std::vector<unsigned char> encode_slopes(const Extras& ex) {
  std::vector<unsigned char> out(ex.alibi_slopes.size() * sizeof(float));
  for (std::size_t i = 0; i < ex.alibi_slopes.size(); ++i) {
    const float f = static_cast<float>(ex.alibi_slopes[i]);
    std::memcpy(&out[i * sizeof(float)], &f, sizeof(float));
  }
  return out;
}

const float* slopes_or_null(const GuardedBuffer& b) {
  return b.bytes() ? static_cast<const float*>(b.get()) : nullptr;
}

// cu_seqlens as the kernels take them (int32).
std::vector<unsigned char> encode_cu(const std::vector<int64_t>& cu) {
  std::vector<unsigned char> out(cu.size() * sizeof(int32_t));
  for (std::size_t i = 0; i < cu.size(); ++i) {
    const int32_t x = static_cast<int32_t>(cu[i]);
    std::memcpy(&out[i * sizeof(int32_t)], &x, sizeof(int32_t));
  }
  return out;
}

// The device side of ex's varlen fields (uploaded into guarded buffers).
struct VarlenBuffers {
  std::vector<unsigned char> q_bytes, k_bytes;
  GuardedBuffer cu_q, cu_k;
  kernels::Varlen args;
  explicit VarlenBuffers(const Extras& ex)
      : q_bytes(encode_cu(ex.cu_seqlens_q)), k_bytes(encode_cu(ex.cu_seqlens_k)),
        cu_q(upload(q_bytes)), cu_k(upload(k_bytes)) {
    if (ex.cu_seqlens_q.empty()) return;
    args.cu_seqlens_q = static_cast<const int*>(cu_q.get());
    args.cu_seqlens_k = static_cast<const int*>(cu_k.get());
    args.total_q = ex.cu_seqlens_q.back();
    args.total_k = ex.cu_seqlens_k.back();
  }
  std::string damage() const {
    std::string d = cu_q.guard_damage("cu_seqlens_q") + cu_k.guard_damage("cu_seqlens_k");
    if (cu_q.download() != q_bytes || cu_k.download() != k_bytes) d += "cu_seqlens: input modified; ";
    return d;
  }
};

int64_t elems(Shape4 s) { return s.B * s.H * s.N * s.D; }

}  // namespace

ForwardRun run_forward_guarded(const kernels::Variant& v, const gen::Inputs& in, const Extras& ex) {
  const Problem& p = in.problem;
  const std::size_t e = dtype_bytes(p.dtype);
  const auto q = encode(in.Q, p.dtype), k = encode(in.K, p.dtype), val = encode(in.V, p.dtype);
  const auto sl = encode_slopes(ex);
  GuardedBuffer Q = upload(q), K = upload(k), V = upload(val), slopes = upload(sl);
  const VarlenBuffers vl(ex);
  const int64_t q_elems = elems(variant_q_shape(p, ex)), lse_elems = elems(variant_lse_shape(p, ex));
  GuardedBuffer O(q_elems * e), LSE(lse_elems * sizeof(float));
  GuardedBuffer work(v.workspace_bytes(p));
  FC_CUDA(cudaMemset(O.get(), kernels::kNaNByte, O.bytes()));
  FC_CUDA(cudaMemset(LSE.get(), kernels::kNaNByte, LSE.bytes()));
  kernels::ForwardArgs a{Q.get(), K.get(), V.get(), O.get(), static_cast<float*>(LSE.get()),
                         work.get(), work.bytes(), nullptr};
  a.alibi_slopes = slopes_or_null(slopes);
  a.varlen = vl.args;
  kernels::run_forward(v, p, a);
  FC_CUDA(cudaDeviceSynchronize());

  ForwardRun r;
  r.O_bits = O.download();
  r.LSE_bits = LSE.download();
  r.O.resize(q_elems);
  for (std::size_t i = 0; i < r.O.size(); ++i) r.O[i] = decode(&r.O_bits[i * e], p.dtype);
  r.LSE.resize(lse_elems);
  for (std::size_t i = 0; i < r.LSE.size(); ++i) r.LSE[i] = decode(&r.LSE_bits[i * 4], DType::f32);
  r.damage = Q.guard_damage("Q") + K.guard_damage("K") + V.guard_damage("V") +
             O.guard_damage("O") + LSE.guard_damage("LSE") + work.guard_damage("workspace");
  if (Q.download() != q) r.damage += "Q: input modified; ";
  if (K.download() != k) r.damage += "K: input modified; ";
  if (V.download() != val) r.damage += "V: input modified; ";
  r.damage += slopes.guard_damage("alibi_slopes");
  if (slopes.download() != sl) r.damage += "alibi_slopes: input modified; ";
  r.damage += vl.damage();
  return r;
}

BackwardRun run_backward_guarded(const kernels::Variant& v, const gen::Inputs& in,
                                 bool deterministic, const Extras& ex) {
  return run_backward_on(v, in, ex, run_forward_guarded(kernels::paired_forward(v), in, ex),
                         deterministic);
}

BackwardRun run_backward_on(const kernels::Variant& v, const gen::Inputs& in, const Extras& ex,
                            const ForwardRun& fwd, bool deterministic) {
  const Problem& p = in.problem;
  const std::size_t e = dtype_bytes(p.dtype);
  BackwardRun r;
  r.fwd = fwd;
  const auto q = encode(in.Q, p.dtype), k = encode(in.K, p.dtype), val = encode(in.V, p.dtype);
  const auto g = encode(in.dO, p.dtype), sl = encode_slopes(ex);
  GuardedBuffer Q = upload(q), K = upload(k), V = upload(val), dO = upload(g), slopes = upload(sl);
  const VarlenBuffers vl(ex);
  GuardedBuffer O = upload(r.fwd.O_bits), LSE = upload(r.fwd.LSE_bits);
  GuardedBuffer dQ(elems(variant_q_shape(p, ex)) * e), dK(elems(variant_kv_shape(p, ex)) * e),
      dV(elems(variant_kv_shape(p, ex)) * e);
  GuardedBuffer work(v.workspace_bytes(p));
  for (GuardedBuffer* b : {&dQ, &dK, &dV}) FC_CUDA(cudaMemset(b->get(), kernels::kNaNByte, b->bytes()));
  kernels::BackwardArgs a;
  a.Q = Q.get(); a.K = K.get(); a.V = V.get(); a.O = O.get(); a.dO = dO.get();
  a.LSE = static_cast<const float*>(LSE.get());
  a.dQ = dQ.get(); a.dK = dK.get(); a.dV = dV.get();
  a.workspace = work.get(); a.workspace_bytes = work.bytes(); a.deterministic = deterministic;
  a.alibi_slopes = slopes_or_null(slopes);
  a.varlen = vl.args;
  kernels::run_backward(v, p, a);
  FC_CUDA(cudaDeviceSynchronize());
  r.dQ_bits = dQ.download();
  r.dK_bits = dK.download();
  r.dV_bits = dV.download();
  auto decode_all = [&](const std::vector<unsigned char>& bits) {
    std::vector<double> out(bits.size() / e);
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = decode(&bits[i * e], p.dtype);
    return out;
  };
  r.dQ = decode_all(r.dQ_bits);
  r.dK = decode_all(r.dK_bits);
  r.dV = decode_all(r.dV_bits);
  r.damage = r.fwd.damage + Q.guard_damage("Q") + K.guard_damage("K") + V.guard_damage("V") +
             dO.guard_damage("dO") + O.guard_damage("O") + LSE.guard_damage("LSE") +
             dQ.guard_damage("dQ") + dK.guard_damage("dK") + dV.guard_damage("dV") +
             work.guard_damage("workspace") + slopes.guard_damage("alibi_slopes") + vl.damage();
  if (Q.download() != q || K.download() != k || V.download() != val || dO.download() != g ||
      O.download() != r.fwd.O_bits || LSE.download() != r.fwd.LSE_bits || slopes.download() != sl)
    r.damage += "an input of the backward was modified; ";
  return r;
}

CaseVerdict judge_forward(const std::string& name, const gen::Inputs& in, const Extras& ex,
                          const ForwardRun& run) {
  const Problem& p = in.problem;
  const Oracle o = make_oracle(p, OracleInputs{in.Q, in.K, in.V, {}, ex});
  Outputs out;
  out.O = as_tensor(variant_q_shape(p, ex), run.O);
  out.LSE = as_tensor(variant_lse_shape(p, ex), run.LSE);
  const CaseVerdict cv = judge_case(p, o, out, {"o", "lse"});
  if (!name.empty())
    for (const TensorVerdict& t : cv.tensors)
      record_accuracy(name, "fwd", t.name == "o" ? "O" : "LSE", p, t);
  return cv;
}

CaseVerdict judge_gradients(const std::string& name, const gen::Inputs& in, const Extras& ex,
                            const BackwardRun& run) {
  const Problem& p = in.problem;
  const Oracle o = make_oracle(p, OracleInputs{in.Q, in.K, in.V, in.dO, ex});
  Outputs out;
  out.dQ = as_tensor(variant_q_shape(p, ex), run.dQ);
  out.dK = as_tensor(variant_kv_shape(p, ex), run.dK);
  out.dV = as_tensor(variant_kv_shape(p, ex), run.dV);
  const CaseVerdict cv = judge_case(p, o, out, {"dq", "dk", "dv"});
  if (!name.empty())
    for (const TensorVerdict& t : cv.tensors)
      record_accuracy(name, "bwd", t.name == "dq" ? "dQ" : t.name == "dk" ? "dK" : "dV", p, t);
  return cv;
}

namespace {
struct AccuracyRecord {
  int cases = 0, passed = 0, informative = 0;
  double max_err = 0, mean_err = 0, baseline_max_err = 0, ratio = 0;
};
using AccuracyKey = std::tuple<std::string, std::string, std::string, std::string, std::string>;
std::map<AccuracyKey, AccuracyRecord>& accuracy_records() {
  static std::map<AccuracyKey, AccuracyRecord> records;
  return records;
}
}  // namespace

void record_accuracy(const std::string& variant, const char* direction, const char* output,
                     const Problem& p, const TensorVerdict& v) {
  AccuracyRecord& r = accuracy_records()[AccuracyKey{variant, direction, output,
                                                     dtype_name(p.dtype),
                                                     mask_kind_name(p.mask.kind)}];
  ++r.cases;
  r.passed += v.pass;
  r.informative += v.informative;
  r.max_err = std::max(r.max_err, v.candidate.max_abs);
  r.mean_err = std::max(r.mean_err, v.candidate.mean_abs);
  r.baseline_max_err = std::max(r.baseline_max_err, v.baseline.max_abs);
  if (v.baseline.max_abs > 0) r.ratio = std::max(r.ratio, v.candidate.max_abs / v.baseline.max_abs);
}

void write_accuracy_csv(const std::string& path) {
  std::ofstream out(path);
  if (!out) throw std::runtime_error("cannot write " + path);
  const char* commit = std::getenv("FLASHCHECK_COMMIT");
  const std::time_t t = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  const std::string prefix = "\"" + kernels::device_description() + "\"," + date + "," +
                             (commit ? commit : "unknown") + ",";
  out << "device,date,commit,variant,direction,output,dtype,mask,cases,max_err,mean_err,"
         "baseline_max_err,ratio_to_baseline,passed,informative\n";
  out.precision(4);
  for (const auto& [k, r] : accuracy_records())
    out << prefix << std::get<0>(k) << "," << std::get<1>(k) << "," << std::get<2>(k) << ","
        << std::get<3>(k) << "," << std::get<4>(k) << "," << r.cases << "," << r.max_err << ","
        << r.mean_err << "," << r.baseline_max_err << "," << r.ratio << "," << r.passed << "/"
        << r.cases << "," << r.informative << "/" << r.cases << "\n";
}

gen::ShapeLimits limits_for(const kernels::Variant& v, int64_t max_seqlen) {
  std::vector<int64_t> blocks;
  std::vector<int64_t> dims(v.head_dims.begin(), v.head_dims.end());
  for (int64_t d : dims.empty() ? std::vector<int64_t>{64} : dims) {
    Problem p;
    p.head_dim = d;
    const kernels::ScheduleDesc s = v.schedule(p);
    for (int64_t b : {int64_t(s.Br), int64_t(s.Bc)})
      if (b > 0 && std::find(blocks.begin(), blocks.end(), b) == blocks.end()) blocks.push_back(b);
  }
  if (blocks.empty()) blocks = {64, 128};
  gen::ShapeLimits l = gen::tiled_limits(blocks, max_seqlen, dims, v.dtypes);
  if (dims.empty()) l.max_head_dim = v.max_head_dim;
  l.mask_kinds = v.masks;
  l.max_heads_kv = 2;
  l.max_group = 32;  // MQA-sized groups: flash2_bwd spreads a group over blocks
  return l;
}

std::vector<const kernels::Variant*> variants(kernels::Direction d) {
  std::vector<const kernels::Variant*> out;
  for (const kernels::Variant& v : kernels::registry())
    if (v.direction == d) out.push_back(&v);
  return out;
}

Tensor4<double> as_tensor(Shape4 shape, const std::vector<double>& values) {
  Tensor4<double> t(shape);
  t.values() = values;
  return t;
}

std::vector<FixedShape> shapes_of(const std::vector<Mask>& masks,
                                  const std::vector<std::pair<int64_t, int64_t>>& lengths) {
  std::vector<FixedShape> out;
  for (const Mask& m : masks)
    for (const auto& l : lengths) out.push_back({l.first, l.second, m});
  return out;
}

std::vector<Problem> fixed_problems(const kernels::Variant& v, const std::vector<FixedShape>& shapes,
                                    int64_t batch, int64_t heads_q, int64_t heads_kv) {
  const std::vector<int> dims = v.head_dims.empty() ? std::vector<int>{64, 80} : v.head_dims;
  std::vector<Problem> out;
  for (DType t : v.dtypes)
    for (int d : dims)
      for (const FixedShape& s : shapes) {
        Problem p;
        p.batch = batch;
        p.heads_q = heads_q;
        p.heads_kv = heads_kv;
        p.seqlen_q = s.seqlen_q;
        p.seqlen_k = s.seqlen_k;
        p.head_dim = d;
        p.mask = s.mask;
        p.dtype = t;
        if (v.supports(p).ok) out.push_back(p);
      }
  return out;
}

}  // namespace flashcheck::gputest
