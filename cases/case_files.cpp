// Writing and judging case folders (see case_files.hpp).
#include "cases/case_files.hpp"

#include <optional>

#include "reference/oracle.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <limits>
#include <ostream>
#include <sstream>

#include "cases/generators.hpp"
#include "reference/accuracy.hpp"
#include "reference/attention.hpp"
#include "reference/baseline.hpp"
#include "reference/npy.hpp"

namespace fs = std::filesystem;

namespace flashcheck::cases {
namespace {

std::vector<int64_t> dims(const Shape4& s, bool drop_d) {
  if (drop_d) return {s.B, s.H, s.N};
  return {s.B, s.H, s.N, s.D};
}

void save(const fs::path& path, const Tensor4<double>& t, DType dtype, bool drop_d = false) {
  write_npy(path.string(), npy_from_doubles(t.values(), dims(t.shape(), drop_d), dtype));
}

// The DType an .npy descr holds ('<u2' is read as bf16 bits).
DType dtype_of_descr(const std::string& d, const std::string& name) {
  for (DType t : {DType::f64, DType::f32, DType::f16, DType::bf16})
    if (d == npy_descr(t)) return t;
  throw std::invalid_argument(name + ": unsupported dtype '" + d + "'");
}

Tensor4<double> load(const fs::path& path, const Shape4& shape, bool drop_d) {
  NpyArray a;
  try {
    a = read_npy(path.string());
  } catch (const NpyError& e) {
    throw std::invalid_argument(e.what());
  }
  const auto want = dims(shape, drop_d);
  if (a.shape != want) {
    std::ostringstream s;
    s << path.string() << ": shape (";
    for (size_t i = 0; i < a.shape.size(); ++i) s << (i ? ", " : "") << a.shape[i];
    s << ") expected " << shape.str();
    throw std::invalid_argument(s.str());
  }
  Tensor4<double> t(shape);
  t.values() = npy_to_doubles(a, dtype_of_descr(a.descr, path.string()), path.string());
  return t;
}

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument(path.string() + ": cannot open");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(path.string() + ": " + e.what());
  }
}

std::string index_str(const Shape4& s, int64_t flat) {
  const int64_t i = flat % s.D, n = flat / s.D % s.N, h = flat / (s.D * s.N) % s.H,
                b = flat / (s.D * s.N * s.H);
  std::ostringstream o;
  o << "[" << b << "," << h << "," << n;
  if (s.D > 1) o << "," << i;
  return o.str() + "]";
}

struct TensorSpec;
std::string empty_row_note(const Problem& p, const TensorSpec& s, int64_t flat);

struct TensorSpec {
  const char* name;
  Shape4 shape;
  bool is_lse;
  double k;
};

std::vector<TensorSpec> tensor_specs(const Problem& p) {
  return {{"o", q_shape(p), false, kOutputFactor},   {"lse", lse_shape(p), true, kOutputFactor},
          {"dq", q_shape(p), false, kGradientFactor}, {"dk", kv_shape(p), false, kGradientFactor},
          {"dv", kv_shape(p), false, kGradientFactor}};
}

// Implementations disagree most often on rows that see no key (the reference
// defines O = 0, LSE = -inf there); say so when the worst element is in one.
std::string empty_row_note(const Problem& p, const TensorSpec& s, int64_t flat) {
  if (s.shape.N != p.seqlen_q || s.shape.H != p.heads_q) return "";  // dk, dv: rows are keys
  const int64_t row = flat / s.shape.D % s.shape.N;
  return p.key_range(row).empty() ? " (a row that sees no key: the reference defines O = 0, LSE = -inf)" : "";
}

}  // namespace

nlohmann::json problem_to_json(const Problem& p) {
  return {{"batch", p.batch},
          {"heads_q", p.heads_q},
          {"heads_kv", p.heads_kv},
          {"seqlen_q", p.seqlen_q},
          {"seqlen_k", p.seqlen_k},
          {"head_dim", p.head_dim},
          {"scale", p.softmax_scale()},
          {"mask", {{"kind", mask_kind_name(p.mask.kind)},
                    {"window_left", p.mask.window_left},
                    {"window_right", p.mask.window_right}}},
          {"dtype", dtype_name(p.dtype)}};
}

Problem problem_from_json(const nlohmann::json& j) {
  auto field = [&](const char* name) -> const nlohmann::json& {
    if (!j.contains(name)) throw std::invalid_argument(std::string("problem.json: missing field '") + name + "'");
    return j.at(name);
  };
  try {
    Problem p;
    p.batch = field("batch").get<int64_t>();
    p.heads_q = field("heads_q").get<int64_t>();
    p.heads_kv = field("heads_kv").get<int64_t>();
    p.seqlen_q = field("seqlen_q").get<int64_t>();
    p.seqlen_k = field("seqlen_k").get<int64_t>();
    p.head_dim = field("head_dim").get<int64_t>();
    p.scale = field("scale").get<double>();
    p.dtype = parse_dtype(field("dtype").get<std::string>());
    const auto& m = field("mask");
    const std::string kind = m.at("kind").get<std::string>();
    p.mask = kind == "sliding_window"
                 ? Mask::sliding_window(m.at("window_left").get<int64_t>(), m.at("window_right").get<int64_t>())
                 : parse_mask(kind);
    p.validate();
    return p;
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("problem.json: ") + e.what());
  }
}

void write_case(const std::string& dir_path, const std::string& name, const gen::Inputs& in) {
  const Problem& p = in.problem;
  const fs::path dir(dir_path);
  fs::create_directories(dir / "ref");
  fs::create_directories(dir / "baseline");
  save(dir / "q.npy", in.Q, p.dtype);
  save(dir / "k.npy", in.K, p.dtype);
  save(dir / "v.npy", in.V, p.dtype);
  save(dir / "do.npy", in.dO, p.dtype);

  const ForwardResult ref = reference_forward(p, in.Q, in.K, in.V);
  const Gradients gref = reference_backward(p, in.Q, in.K, in.V, ref.O, ref.LSE, in.dO);
  const ForwardResult base = baseline_forward(p, in.Q, in.K, in.V);
  const Gradients gbase = baseline_backward(p, in.Q, in.K, in.V, base.O, base.LSE, in.dO);
  const Tensor4<double>* refs[] = {&ref.O, &ref.LSE, &gref.dQ, &gref.dK, &gref.dV};
  const Tensor4<double>* bases[] = {&base.O, &base.LSE, &gbase.dQ, &gbase.dK, &gbase.dV};

  nlohmann::json j = problem_to_json(p);
  j["case"] = name;
  j["seed"] = in.values.seed;
  j["values"] = gen::values_name(in.values.kind);
  j["values_magnitude"] = in.values.magnitude;
  j["problem"] = p.describe();
  const auto specs = tensor_specs(p);
  for (size_t t = 0; t < specs.size(); ++t) {
    save(dir / "ref" / (std::string(specs[t].name) + ".npy"), *refs[t], DType::f64, specs[t].is_lse);
    save(dir / "baseline" / (std::string(specs[t].name) + ".npy"), *bases[t], DType::f64, specs[t].is_lse);
    const ErrorStats e = error_stats(bases[t]->data(), refs[t]->data(), refs[t]->size());
    j["baseline_error"][specs[t].name] = {{"max_abs", e.max_abs}, {"mean_abs", e.mean_abs}};
  }
  std::ofstream(dir / "problem.json") << j.dump(2) << "\n";
}

int generate(const GenOptions& o, std::ostream& log) {
  if (o.count < 1) throw std::invalid_argument("--count must be >= 1");
  gen::ShapeLimits limits;
  limits.max_seqlen = o.max_seqlen;
  limits.max_head_dim = o.max_head_dim;
  limits.tile_edges = {64, 128};
  limits.dtypes = {DType::f16, DType::bf16, DType::f32};
  for (int64_t d : {16, 32, 59, 64, 96, 111, 128})  // real kernels' sizes and two odd ones
    if (d <= o.max_head_dim) limits.head_dims.push_back(d);
  if (limits.head_dims.empty()) throw std::invalid_argument("--max-head-dim must be >= 16");
  limits.max_work = int64_t(1) << 24;
  const auto inputs_gen = gen::inputs(limits);
  fs::create_directories(o.out_dir);
  std::ofstream(fs::path(o.out_dir) / "suite.json")
      << nlohmann::json{{"seed", o.seed}, {"count", o.count}, {"max_seqlen", o.max_seqlen},
                        {"max_head_dim", o.max_head_dim},
                        {"command", "flashcheck check gen --seed " + std::to_string(o.seed) +
                                        " --count " + std::to_string(o.count) + " --max-seqlen " +
                                        std::to_string(o.max_seqlen) + " --max-head-dim " +
                                        std::to_string(o.max_head_dim)}}
             .dump(2)
      << "\n";
  for (int c = 0; c < o.count; ++c) {
    // RapidCheck's size grows over the suite, so early cases are small.
    const int size = std::min(100, 10 + 90 * c / std::max(1, o.count - 1));
    const gen::Inputs in = inputs_gen(rc::Random(o.seed + 7919 * static_cast<uint64_t>(c)), size).value();
    std::ostringstream name;
    name << "case_" << std::setw(3) << std::setfill('0') << c;
    write_case((fs::path(o.out_dir) / name.str()).string(), name.str(), in);
    log << name.str() << "  " << in.problem.describe() << "  values=" << gen::values_name(in.values.kind) << "\n";
  }
  return o.count;
}

VerifySummary verify(const VerifyOptions& o, std::ostream& out) {
  if (!fs::is_directory(o.dir)) throw std::invalid_argument(o.dir + ": not a directory");
  std::vector<fs::path> case_dirs;
  for (const auto& e : fs::directory_iterator(o.dir))
    if (e.is_directory() && fs::exists(e.path() / "problem.json")) case_dirs.push_back(e.path());
  if (case_dirs.empty()) throw std::invalid_argument(o.dir + ": no case folders (case_*/problem.json)");
  std::sort(case_dirs.begin(), case_dirs.end());

  VerifySummary summary;
  out << std::left << std::setw(10) << "case" << std::setw(5) << "out" << std::right
      << std::setw(12) << "max_abs" << std::setw(12) << "mean_abs" << std::setw(12) << "baseline"
      << std::setw(12) << "bound" << std::setw(8) << "ratio" << "  verdict\n";
  for (const fs::path& dir : case_dirs) {
    const std::string name = dir.filename().string();
    const Problem p = problem_from_json(read_json(dir / "problem.json"));
    const fs::path cand_dir = o.candidate_dir.empty() ? dir : fs::path(o.candidate_dir) / name;
    if (fs::exists(cand_dir / "skip.txt")) {  // the implementation declined this case
      std::ifstream in(cand_dir / "skip.txt");
      std::string why;
      std::getline(in, why);
      out << std::left << std::setw(10) << name << "skipped: " << why << "\n";
      ++summary.skipped;
      continue;
    }
    if (!fs::exists(cand_dir / "o.npy"))
      throw std::invalid_argument((cand_dir / "o.npy").string() + ": missing (o.npy is required)");
    // The oracle is recomputed from the inputs: the rule needs the
    // per-element allowance, and stale or edited ref/ files cannot mislead.
    OracleInputs oin{load(dir / "q.npy", q_shape(p), false), load(dir / "k.npy", kv_shape(p), false),
                     load(dir / "v.npy", kv_shape(p), false), load(dir / "do.npy", q_shape(p), false)};
    const Oracle oracle = make_oracle(p, oin);
    Outputs outs;
    std::optional<Tensor4<double>>* slots[] = {&outs.O, &outs.LSE, &outs.dQ, &outs.dK, &outs.dV};
    std::vector<std::string> present;
    const auto specs = tensor_specs(p);
    for (size_t t = 0; t < specs.size(); ++t) {
      const fs::path cand_path = cand_dir / (std::string(specs[t].name) + ".npy");
      if (!fs::exists(cand_path)) continue;  // optional outputs
      *slots[t] = load(cand_path, specs[t].shape, specs[t].is_lse);
      present.push_back(specs[t].name);
    }
    const CaseVerdict cv = judge_case(p, oracle, outs, present);
    const bool case_pass = cv.pass;
    for (const TensorVerdict& v : cv.tensors) {
      const TensorSpec& s = *std::find_if(specs.begin(), specs.end(),
                                          [&](const TensorSpec& x) { return v.name == x.name; });
      const double ratio = v.baseline.max_abs > 0   ? v.candidate.max_abs / v.baseline.max_abs
                           : v.candidate.max_abs > 0 ? std::numeric_limits<double>::infinity()
                                                     : 0.0;
      out << std::left << std::setw(10) << name << std::setw(5) << s.name << std::right
          << std::scientific << std::setprecision(2) << std::setw(12) << v.candidate.max_abs
          << std::setw(12) << v.candidate.mean_abs << std::setw(12) << v.baseline.max_abs
          << std::setw(12) << v.worst_bound << std::fixed << std::setw(8) << ratio << "  "
          << (v.pass ? "pass" : "FAIL");
      if (v.candidate.nan_count > 0)
        out << "  " << v.candidate.nan_count << " NaN/Inf, first at " << index_str(s.shape, v.candidate.first_nan);
      else if (!v.pass)
        out << "  worst at " << index_str(s.shape, v.worst) << empty_row_note(p, s, v.worst)
            << ": " << v.reason;
      out << "\n";
    }
    (case_pass ? summary.passed : summary.failed)++;
  }
  out << summary.passed << " passed, " << summary.failed << " failed, " << summary.skipped
      << " skipped\n";
  return summary;
}

}  // namespace flashcheck::cases
