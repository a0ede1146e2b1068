// Names, parsing and validation of the shared vocabulary (dtype, mask, Problem).
#include <cmath>
#include <limits>
#include <sstream>

#include "reference/problem.hpp"
#include "reference/tensor.hpp"

namespace flashcheck {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::f64: return "f64";
    case DType::f32: return "f32";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
  }
  return "?";
}

DType parse_dtype(const std::string& s) {
  if (s == "f64" || s == "float64" || s == "fp64" || s == "double") return DType::f64;
  if (s == "f32" || s == "float32" || s == "fp32" || s == "float") return DType::f32;
  if (s == "f16" || s == "float16" || s == "fp16" || s == "half") return DType::f16;
  if (s == "bf16" || s == "bfloat16") return DType::bf16;
  throw std::invalid_argument("unknown dtype '" + s + "' (expected f64, f32, f16 or bf16)");
}

const char* mask_kind_name(MaskKind k) {
  switch (k) {
    case MaskKind::none: return "none";
    case MaskKind::causal_top_left: return "causal_top_left";
    case MaskKind::causal_bottom_right: return "causal_bottom_right";
    case MaskKind::sliding_window: return "sliding_window";
  }
  return "?";
}

std::string Mask::describe() const {
  if (kind != MaskKind::sliding_window) return mask_kind_name(kind);
  return "window:" + std::to_string(window_left) + ":" + std::to_string(window_right);
}

Mask parse_mask(const std::string& s) {
  if (s == "none") return Mask::none();
  if (s == "causal" || s == "causal_top_left" || s == "top_left") return Mask::causal_top_left();
  if (s == "causal_bottom_right" || s == "bottom_right") return Mask::causal_bottom_right();
  const std::string prefix = "window:";
  if (s.compare(0, prefix.size(), prefix) == 0) {
    std::istringstream in(s.substr(prefix.size()));
    long long left = 0, right = 0;
    char colon = 0;
    if (in >> left >> colon >> right && colon == ':' && in.peek() == EOF)
      return Mask::sliding_window(left, right);
  }
  throw std::invalid_argument("unknown mask '" + s +
                              "' (expected none, causal, causal_top_left, causal_bottom_right "
                              "or window:LEFT:RIGHT)");
}

namespace {
constexpr int64_t kMaxElems = int64_t(1) << 62;

void positive(const char* field, int64_t v, bool zero_ok = false) {
  if (v < (zero_ok ? 0 : 1))
    throw ProblemError(field, std::string(zero_ok ? "must be >= 0" : "must be >= 1") + ", got " +
                                  std::to_string(v));
}

void validate_variants(const Variants& v) {
  if (v.softcap && !(std::isfinite(*v.softcap) && *v.softcap > 0))
    throw ProblemError("variants.softcap", "must be finite and > 0");
  if (v.dropout_p && !(*v.dropout_p >= 0 && *v.dropout_p < 1))
    throw ProblemError("variants.dropout_p", "must be in [0, 1)");
  if (v.page_size) {
    if (*v.page_size < 1)
      throw ProblemError("variants.page_size", "must be >= 1, got " + std::to_string(*v.page_size));
    if (v.num_pages < 1)
      throw ProblemError("variants.num_pages", "paged K/V (variants.page_size) needs >= 1 page");
    if (v.varlen)
      throw ProblemError("variants.page_size",
                         "paged K/V with variants.varlen is not supported by the reference "
                         "(one sequence per batch entry)");
  } else if (v.num_pages != 0) {
    throw ProblemError("variants.num_pages", "set without variants.page_size");
  }
}

// a * b, or ProblemError when the product passes kMaxElems.
int64_t mul(const char* what, int64_t a, int64_t b) {
  if (a != 0 && b > kMaxElems / a)
    throw ProblemError(what, "element count overflows 64 bits (" + std::to_string(a) + " x " +
                                 std::to_string(b) + ")");
  return a * b;
}
}  // namespace

void Problem::validate() const {
  const bool empty_ok = variants.allow_empty;
  positive("batch", batch, empty_ok);
  positive("heads_q", heads_q);
  positive("heads_kv", heads_kv);
  positive("seqlen_q", seqlen_q, empty_ok);
  positive("seqlen_k", seqlen_k, empty_ok);
  positive("head_dim", head_dim);
  if (heads_q % heads_kv != 0)
    throw ProblemError("heads_kv", "heads_q (" + std::to_string(heads_q) +
                                       ") must be a multiple of heads_kv (" +
                                       std::to_string(heads_kv) + ")");
  if (mask.kind == MaskKind::sliding_window) {
    if (mask.window_left < 0)
      throw ProblemError("mask.window_left", "must be >= 0, got " + std::to_string(mask.window_left));
    if (mask.window_right < 0)
      throw ProblemError("mask.window_right", "must be >= 0, got " + std::to_string(mask.window_right));
  }
  if (scale && !(std::isfinite(*scale) && *scale > 0))
    throw ProblemError("scale", "must be finite and > 0");
  validate_variants(variants);
  int64_t bh = mul("heads_q", batch, heads_q);
  mul("head_dim", mul("seqlen_q", bh, seqlen_q), head_dim);
  mul("seqlen_k", mul("seqlen_q", bh, seqlen_q), seqlen_k);
  mul("head_dim", mul("seqlen_k", mul("heads_kv", batch, heads_kv), seqlen_k), head_dim);
}

double Problem::softmax_scale() const {
  return scale ? *scale : 1.0 / std::sqrt(static_cast<double>(head_dim));
}

std::string Problem::describe() const {
  std::ostringstream o;
  o << "B=" << batch << " Hq=" << heads_q << " Hkv=" << heads_kv << " Nq=" << seqlen_q
    << " Nk=" << seqlen_k << " d=" << head_dim << " scale=" << softmax_scale()
    << " mask=" << mask.describe() << " dtype=" << dtype_name(dtype);
  if (!variants.plain()) o << " variants=" << variants.describe();
  return o.str();
}

std::string Variants::describe() const {
  std::ostringstream o;
  const char* sep = "";
  auto item = [&](const std::string& s) { o << sep << s; sep = ","; };
  if (softcap) { std::ostringstream c; c << "softcap=" << *softcap; item(c.str()); }
  if (alibi) item("alibi");
  if (sinks) item("sinks");
  if (dropout_p) { std::ostringstream c; c << "dropout=" << *dropout_p; item(c.str()); }
  if (bias) item("bias");
  if (bool_mask) item("mask");
  if (varlen) item("varlen");
  if (page_size) item("paged:" + std::to_string(*page_size) + "x" + std::to_string(num_pages));
  if (allow_empty) item("allow_empty");
  return o.str();
}

std::string Shape4::str() const {
  return "[" + std::to_string(B) + "," + std::to_string(H) + "," + std::to_string(N) + "," +
         std::to_string(D) + "]";
}

void require_shape(const Shape4& got, const Shape4& want, const char* what) {
  if (got != want)
    throw std::invalid_argument(std::string(what) + ": shape " + got.str() + " expected " +
                                want.str());
}

void require_qkv(const Problem& p, const Tensor4<double>& Q, const Tensor4<double>& K,
                 const Tensor4<double>& V) {
  p.validate();
  // The plain paths (reference, baseline) would silently ignore a variant.
  if (!p.variants.plain())
    throw ProblemError("variants", "this path computes plain attention; the problem has variants (" +
                                       p.variants.describe() + "): use variant_forward/backward");
  require_shape(Q.shape(), q_shape(p), "Q");
  require_shape(K.shape(), kv_shape(p), "K");
  require_shape(V.shape(), kv_shape(p), "V");
}

}  // namespace flashcheck
