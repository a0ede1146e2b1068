// Writing and judging case folders (see case_files.hpp).
#include "cases/case_files.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <ostream>
#include <set>
#include <sstream>

#include "reference/attention.hpp"
#include "reference/baseline.hpp"
#include "reference/npy.hpp"
#include "reference/oracle.hpp"
#include "cases/variant_files.hpp"

namespace fs = std::filesystem;

namespace flashcheck::cases {
namespace {

const char* const kOutputNames[] = {"o", "lse", "dq", "dk", "dv"};
// Outputs of the variants, required where the case's variant has them.
const char* const kVariantOutputs[] = {"dbias", "dsinks"};

bool is_output_name(const std::string& n) {
  return std::find(std::begin(kOutputNames), std::end(kOutputNames), n) != std::end(kOutputNames) ||
         std::find(std::begin(kVariantOutputs), std::end(kVariantOutputs), n) != std::end(kVariantOutputs);
}

std::vector<int64_t> dims(const Shape4& s, bool drop_d) {
  if (drop_d) return {s.B, s.H, s.N};
  return {s.B, s.H, s.N, s.D};
}

bool is_lse(const std::string& name) { return name == "lse"; }
bool is_kv(const std::string& name) { return name == "dk" || name == "dv"; }
bool is_gradient(const std::string& name) {
  return name == "dq" || name == "dk" || name == "dv" || name == "dbias" || name == "dsinks";
}

// The shape of a case file (variant layouts: varlen packing, pages); dsinks
// is the 1-D [heads_q], read apart.
Shape4 shape_of(const Problem& p, const Extras& ex, const std::string& name) {
  if (name == "dbias") return score_shape(p);
  if (is_lse(name)) return variant_lse_shape(p, ex);
  if (is_kv(name) || name == "k" || name == "v") return variant_kv_shape(p, ex);
  return variant_q_shape(p, ex);
}

void save(const fs::path& path, const Tensor4<double>& t, DType dtype, bool drop_d = false) {
  write_npy(path.string(), npy_from_doubles(t.values(), dims(t.shape(), drop_d), dtype));
}

std::string descr_meaning(const std::string& d) {
  if (d == "<f8") return "float64";
  if (d == "<f4") return "float32";
  if (d == "<f2") return "float16";
  if (d == "<u2") return "bf16 raw bits (uint16)";
  return "unsupported";
}

// Reads an .npy that must hold one of the allowed dtypes: the case's dtype
// decides how the bits are read, never the file (an f16 case's '<u2' file is
// an error, not bf16).
Tensor4<double> load(const fs::path& path, const Shape4& shape, bool drop_d,
                     const std::vector<DType>& allowed, const std::string& why) {
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
  for (DType t : allowed)
    if (a.descr == npy_descr(t)) {
      Tensor4<double> out(shape);
      out.values() = npy_to_doubles(a, t, path.string());
      return out;
    }
  std::string expect;
  for (DType t : allowed)
    expect += std::string(expect.empty() ? "" : " or ") + "'" + npy_descr(t) + "' (" + descr_meaning(npy_descr(t)) + ")";
  throw std::invalid_argument(path.string() + ": holds '" + a.descr + "' (" + descr_meaning(a.descr) + ") but " +
                              why + ": save it as " + expect);
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

std::string case_name(int c) {
  std::ostringstream name;
  name << "case_" << std::setw(3) << std::setfill('0') << c;
  return name.str();
}

template <class T, class F>
std::string join(const std::vector<T>& v, F name, const char* sep = ",") {
  std::string s;
  for (const T& x : v) s += (s.empty() ? "" : sep) + std::string(name(x));
  return s;
}

}  // namespace

nlohmann::json problem_to_json(const Problem& p) {
  nlohmann::json j = {{"batch", p.batch},
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
  if (!p.variants.plain()) j["variants"] = variants_to_json(p.variants);
  return j;
}

namespace {

// An integer field: JSON integers only (a float such as 1e70 or 4.5 is
// rejected, not cast: casting an out-of-range double is undefined), within
// int64 and, for sizes and windows, below 2^62 so that no index arithmetic
// (q + window + 1, element counts) can overflow.
int64_t integer(const nlohmann::json& v, const std::string& name) {
  constexpr int64_t kMax = int64_t(1) << 62;
  if (!v.is_number_integer())
    throw std::invalid_argument("problem.json: field '" + name + "' must be an integer, got " + v.dump());
  if (v.is_number_unsigned() ? v.get<uint64_t>() > static_cast<uint64_t>(kMax)
                             : (v.get<int64_t>() > kMax || v.get<int64_t>() < -kMax))
    throw std::invalid_argument("problem.json: field '" + name + "' is out of range (|value| <= 2^62), got " + v.dump());
  return v.get<int64_t>();
}

Mask mask_from_json(const nlohmann::json& m) {
  if (m.is_string()) {  // "causal", "window:3:0", ...
    const Mask k = parse_mask(m.get<std::string>());
    for (int64_t w : {k.window_left, k.window_right})
      if (w > (int64_t(1) << 62) || w < -(int64_t(1) << 62))
        throw std::invalid_argument("problem.json: mask window out of range (|value| <= 2^62): " + m.dump());
    return k;
  }
  if (!m.is_object() || !m.contains("kind"))
    throw std::invalid_argument("problem.json: field 'mask' must be a string or {\"kind\": ...}, got " + m.dump());
  const std::string kind = m.at("kind").get<std::string>();
  if (kind != "sliding_window") return parse_mask(kind);
  for (const char* w : {"window_left", "window_right"})
    if (!m.contains(w)) throw std::invalid_argument(std::string("problem.json: sliding_window mask needs '") + w + "'");
  return Mask::sliding_window(integer(m.at("window_left"), "mask.window_left"),
                              integer(m.at("window_right"), "mask.window_right"));
}

}  // namespace

Problem problem_from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw std::invalid_argument("problem.json: expected an object, got " + j.dump().substr(0, 80));
  auto required = [&](const char* name) -> const nlohmann::json& {
    if (!j.contains(name)) throw std::invalid_argument(std::string("problem.json: missing field '") + name + "'");
    return j.at(name);
  };
  auto optional_int = [&](const char* name, int64_t fallback) {
    return j.contains(name) ? integer(j.at(name), name) : fallback;
  };
  try {
    Problem p;
    p.seqlen_q = integer(required("seqlen_q"), "seqlen_q");
    p.seqlen_k = integer(required("seqlen_k"), "seqlen_k");
    p.head_dim = integer(required("head_dim"), "head_dim");
    p.dtype = parse_dtype(required("dtype").get<std::string>());
    p.batch = optional_int("batch", 1);
    p.heads_q = optional_int("heads_q", 1);
    p.heads_kv = optional_int("heads_kv", p.heads_q);
    if (j.contains("scale") && !j.at("scale").is_null()) {
      if (!j.at("scale").is_number())
        throw std::invalid_argument("problem.json: field 'scale' must be a number, got " + j.at("scale").dump());
      p.scale = j.at("scale").get<double>();
    }
    if (j.contains("mask")) p.mask = mask_from_json(j.at("mask"));
    if (j.contains("variants")) p.variants = variants_from_json(j.at("variants"));
    p.validate();
    return p;
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("problem.json: ") + e.what());
  }
}

MaskKind parse_mask_kind(const std::string& s) {
  if (s == "sliding_window" || s == "window") return MaskKind::sliding_window;
  if (s.compare(0, 7, "window:") == 0)
    throw std::invalid_argument("mask kind '" + s + "': --masks takes kinds (sliding_window); list exact windows in --spec");
  try {
    return parse_mask(s).kind;
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument("unknown mask kind '" + s +
                                "' (expected none, causal_top_left, causal_bottom_right, sliding_window)");
  }
}

gen::Values parse_values(const std::string& s) {
  for (gen::Values v : {gen::Values::normal, gen::Values::uniform, gen::Values::large_logits,
                        gen::Values::dominant_key, gen::Values::positive})
    if (s == gen::values_name(v)) return v;
  throw std::invalid_argument("unknown value regime '" + s +
                              "' (expected normal, uniform, large_logits, dominant_key, positive)");
}

namespace {

// An output folder gen may write into: absent or empty; with force, one that
// holds only what gen writes (suite.json, case_*), which is cleared first so
// no stale case survives. Never deletes anything gen did not write.
void prepare_out_dir(const fs::path& dir, bool force) {
  if (!fs::exists(dir)) {
    fs::create_directories(dir);
    return;
  }
  if (!fs::is_directory(dir)) throw std::invalid_argument(dir.string() + ": exists and is not a folder");
  std::vector<fs::path> entries, foreign;
  for (const auto& e : fs::directory_iterator(dir)) {
    entries.push_back(e.path());
    const std::string n = e.path().filename().string();
    const bool ours = n == "suite.json" || (e.is_directory() && n.compare(0, 5, "case_") == 0);
    if (!ours) foreign.push_back(e.path());
  }
  if (entries.empty()) return;
  if (!force)
    throw std::invalid_argument(dir.string() + ": not empty (" + std::to_string(entries.size()) +
                                " entries, e.g. " + entries.front().filename().string() +
                                "); old cases would mix with the new ones: pass --force to replace "
                                "the suite there, or choose an empty folder");
  if (!foreign.empty())
    throw std::invalid_argument(dir.string() + ": --force clears only a suite check gen wrote, but it holds '" +
                                foreign.front().filename().string() + "'");
  for (const fs::path& e : entries) fs::remove_all(e);
}

// The problems and values of a suite, drawn as before for the default
// options (so a seed gives the same suite), narrowed by the targeted lists.
std::vector<gen::Inputs> draw_inputs(const GenOptions& o) {
  gen::ShapeLimits limits;
  limits.max_seqlen = o.max_seqlen;
  limits.max_head_dim = o.max_head_dim;
  limits.tile_edges = {64, 128};
  limits.dtypes = o.dtypes.empty() ? std::vector<DType>{DType::f16, DType::bf16, DType::f32} : o.dtypes;
  if (!o.mask_kinds.empty()) limits.mask_kinds = o.mask_kinds;
  if (!o.head_dims.empty()) {
    for (int64_t d : o.head_dims)
      if (d < 1) throw std::invalid_argument("--head-dims: " + std::to_string(d) + " is not >= 1");
    limits.head_dims = o.head_dims;
    limits.max_head_dim = *std::max_element(o.head_dims.begin(), o.head_dims.end());
  } else {
    for (int64_t d : {16, 32, 59, 64, 96, 111, 128})  // real kernels' sizes and two odd ones
      if (d <= o.max_head_dim) limits.head_dims.push_back(d);
    if (limits.head_dims.empty()) throw std::invalid_argument("--max-head-dim must be >= 16");
  }
  for (int64_t n : o.seqlens)
    if (n < 1) throw std::invalid_argument("--seqlens: " + std::to_string(n) + " is not >= 1");
  if (!o.seqlens.empty()) limits.max_seqlen = *std::max_element(o.seqlens.begin(), o.seqlens.end());
  limits.max_work = int64_t(1) << 24;
  const std::vector<gen::Values> kinds =
      o.values.empty() ? std::vector<gen::Values>{gen::Values::normal, gen::Values::uniform,
                                                  gen::Values::large_logits, gen::Values::dominant_key,
                                                  gen::Values::positive}
                       : o.values;
  const auto inputs_gen = gen::inputs(limits, kinds);
  std::vector<gen::Inputs> out;
  for (int c = 0; c < o.count; ++c) {
    // RapidCheck's size grows over the suite, so early cases are small.
    const int size = std::min(100, 10 + 90 * c / std::max(1, o.count - 1));
    const uint64_t seed = o.seed + 7919 * static_cast<uint64_t>(c);
    gen::Inputs in = inputs_gen(rc::Random(seed), size).value();
    if (!o.seqlens.empty()) {  // exact lengths: redraw both from the list, refit the work cap
      const auto lens = rc::gen::pair(gen::pick(o.seqlens), gen::pick(o.seqlens))(rc::Random(seed ^ 0x5eed), 100).value();
      Problem p = in.problem;
      p.seqlen_q = lens.first;
      p.seqlen_k = lens.second;
      const auto work = [&] { return p.batch * p.heads_q * p.seqlen_q * p.seqlen_k * p.head_dim; };
      while (work() > limits.max_work && p.batch > 1) --p.batch;
      while (work() > limits.max_work && p.heads_q > p.heads_kv) p.heads_q -= p.heads_kv;
      while (work() > limits.max_work && p.heads_kv > 1) p.heads_q = --p.heads_kv;
      in = gen::make_inputs(p, in.values);
    }
    out.push_back(std::move(in));
  }
  return out;
}

// A --spec file: {"cases": [entry, ...]} or [entry, ...]; each entry a
// problem (problem_from_json) plus optional values, magnitude, seed.
std::vector<gen::Inputs> spec_inputs(const GenOptions& o) {
  const nlohmann::json j = read_json(o.spec_file);
  const nlohmann::json& list = j.is_object() && j.contains("cases") ? j.at("cases") : j;
  if (!list.is_array() || list.empty())
    throw std::invalid_argument(o.spec_file + ": expected a non-empty list of problems ({\"cases\": [...]})");
  static const std::set<std::string> known = {"batch", "heads_q", "heads_kv", "seqlen_q", "seqlen_k",
                                              "head_dim", "scale", "mask", "dtype", "values",
                                              "magnitude", "seed"};
  std::vector<gen::Inputs> out;
  for (size_t c = 0; c < list.size(); ++c) {
    const std::string where = o.spec_file + ": case " + std::to_string(c) + ": ";
    const nlohmann::json& e = list[c];
    try {
      if (!e.is_object()) throw std::invalid_argument("expected an object");
      for (const auto& kv : e.items())
        if (!known.count(kv.key())) throw std::invalid_argument("unknown field '" + kv.key() + "'");
      const Problem p = problem_from_json(e);
      gen::ValueSpec v;
      v.kind = e.contains("values") ? parse_values(e.at("values").get<std::string>()) : gen::Values::normal;
      v.magnitude = v.kind == gen::Values::large_logits ? e.value("magnitude", 30.0) : 1.0;
      v.seed = e.contains("seed") ? e.at("seed").get<uint64_t>() : o.seed + 7919 * static_cast<uint64_t>(c);
      out.push_back(gen::make_inputs(p, v));
    } catch (const nlohmann::json::exception& ex) {
      throw std::invalid_argument(where + ex.what());
    } catch (const std::invalid_argument& ex) {
      throw std::invalid_argument(where + ex.what());
    }
  }
  return out;
}

std::string gen_command(const GenOptions& o) {
  std::string c = "flashcheck check gen --seed " + std::to_string(o.seed);
  if (!o.spec_file.empty())
    return c + " --spec " + o.spec_file + (o.variants.empty() ? "" : " --variants " + join(o.variants, gen::case_variant_name));
  c += " --count " + std::to_string(o.count) + " --max-seqlen " + std::to_string(o.max_seqlen) +
       " --max-head-dim " + std::to_string(o.max_head_dim);
  auto num = [](int64_t x) { return std::to_string(x); };
  if (!o.dtypes.empty()) c += " --dtypes " + join(o.dtypes, dtype_name);
  if (!o.mask_kinds.empty()) c += " --masks " + join(o.mask_kinds, mask_kind_name);
  if (!o.head_dims.empty()) c += " --head-dims " + join(o.head_dims, num);
  if (!o.seqlens.empty()) c += " --seqlens " + join(o.seqlens, num);
  if (!o.values.empty()) c += " --values " + join(o.values, gen::values_name);
  if (!o.variants.empty()) c += " --variants " + join(o.variants, gen::case_variant_name);
  return c;
}

}  // namespace

namespace {

// One case folder from float64 inputs exact in the dtype (extras included).
void write_folder(const fs::path& dir, const std::string& name, const gen::VariantInputs& in,
                  const gen::ValueSpec& values, const nlohmann::json& more) {
  const Problem& p = in.problem;
  fs::create_directories(dir / "ref");
  fs::create_directories(dir / "baseline");
  save(dir / "q.npy", in.Q, p.dtype);
  save(dir / "k.npy", in.K, p.dtype);
  save(dir / "v.npy", in.V, p.dtype);
  save(dir / "do.npy", in.dO, p.dtype);
  const Oracle o = make_oracle(p, OracleInputs{in.Q, in.K, in.V, in.dO, in.extras});
  const Tensor4<double>* refs[] = {&o.ref.O, &o.ref.LSE, &o.ref_grad->dQ, &o.ref_grad->dK, &o.ref_grad->dV};
  const Tensor4<double>* bases[] = {&o.base.O, &o.base.LSE, &o.base_grad->dQ, &o.base_grad->dK, &o.base_grad->dV};

  nlohmann::json j = problem_to_json(p);
  j["case_format"] = kCaseFormat;
  if (!p.variants.plain()) j["extras"] = write_extras(dir, p, in.extras);
  j["case"] = name;
  j["seed"] = values.seed;
  j["values"] = gen::values_name(values.kind);
  j["values_magnitude"] = values.magnitude;
  j["problem"] = p.describe();
  for (const auto& kv : more.items()) j[kv.key()] = kv.value();
  auto record = [&](const std::string& out, const std::vector<double>& base, const std::vector<double>& ref) {
    const ErrorStats e = error_stats(base.data(), ref.data(), static_cast<int64_t>(ref.size()));
    j["baseline_error"][out] = {{"max_abs", e.max_abs}, {"mean_abs", e.mean_abs}};
  };
  for (size_t t = 0; t < 5; ++t) {
    const std::string out = kOutputNames[t];
    save(dir / "ref" / (out + ".npy"), *refs[t], DType::f64, is_lse(out));
    // The baseline is written as a candidate must write its outputs (the
    // case's dtype; LSE float32), so it is also a worked example.
    save(dir / "baseline" / (out + ".npy"), *bases[t], is_lse(out) ? DType::f32 : p.dtype, is_lse(out));
    record(out, bases[t]->values(), refs[t]->values());
  }
  if (p.variants.bias) {
    save(dir / "ref" / "dbias.npy", o.ref_dbias, DType::f64);
    save(dir / "baseline" / "dbias.npy", o.base_dbias, p.dtype);
    record("dbias", o.base_dbias.values(), o.ref_dbias.values());
  }
  if (p.variants.sinks) {  // [heads_q]; float32 as kernels accumulate it
    write_npy((dir / "ref" / "dsinks.npy").string(), npy_from_doubles(o.ref_dsinks, {p.heads_q}, DType::f64));
    write_npy((dir / "baseline" / "dsinks.npy").string(), npy_from_doubles(o.base_dsinks, {p.heads_q}, DType::f32));
    record("dsinks", o.base_dsinks, o.ref_dsinks);
  }
  std::ofstream(dir / "problem.json") << j.dump(2) << "\n";
}

}  // namespace

// Writes one case folder (inputs, problem.json, ref/, baseline/); generate()
// and the Python package's shrunk counterexamples both write through it.
void write_case(const std::string& dir, const std::string& name, const gen::Inputs& in) {
  write_folder(dir, name, gen::from_inputs(in), in.values, nlohmann::json::object());
}

void write_case(const std::string& dir, const std::string& name, const gen::VariantInputs& in,
                const gen::ValueSpec& values, uint64_t variant_seed) {
  write_folder(dir, name, in, values, {{"variant_seed", variant_seed}});
}

int generate(const GenOptions& o, std::ostream& log) {
  if (o.spec_file.empty() && o.count < 1) throw std::invalid_argument("--count must be >= 1");
  // Draw everything first: a bad option or spec fails before the folder is touched.
  const std::vector<gen::Inputs> suite = o.spec_file.empty() ? draw_inputs(o) : spec_inputs(o);
  prepare_out_dir(o.out_dir, o.force);
  std::vector<std::string> names;
  for (size_t c = 0; c < suite.size(); ++c) {
    const gen::Inputs& in = suite[c];
    const Problem& p = in.problem;
    const std::string name = case_name(static_cast<int>(c));
    names.push_back(name);
    const std::string dir = (fs::path(o.out_dir) / name).string();
    if (o.variants.empty()) {
      write_case(dir, name, in);
      log << name << "  " << p.describe() << "  values=" << gen::values_name(in.values.kind) << "\n";
      continue;
    }
    const uint64_t vseed = gen::variant_seed(in);
    const gen::VariantInputs vin = gen::with_variants(in, gen::suite_variants(o.variants, static_cast<int>(c)), vseed);
    write_case(dir, name, vin, in.values, vseed);
    log << name << "  " << vin.problem.describe() << "  values=" << gen::values_name(in.values.kind) << "\n";
  }
  std::ofstream(fs::path(o.out_dir) / "suite.json")
      << nlohmann::json{{"seed", o.seed}, {"count", suite.size()}, {"max_seqlen", o.max_seqlen},
                        {"max_head_dim", o.max_head_dim}, {"command", gen_command(o)}, {"cases", names}}
             .dump(2)
      << "\n";
  return static_cast<int>(suite.size());
}

const char* case_status_name(CaseStatus s) {
  switch (s) {
    case CaseStatus::pass: return "pass";
    case CaseStatus::fail: return "fail";
    case CaseStatus::skipped: return "skipped";
    case CaseStatus::error: return "error";
  }
  return "?";
}

const char* suite_status_name(SuiteStatus s) {
  switch (s) {
    case SuiteStatus::pass: return "pass";
    case SuiteStatus::fail: return "fail";
    case SuiteStatus::bad_input: return "bad_input";
    case SuiteStatus::nothing_tested: return "nothing_tested";
  }
  return "?";
}

SuiteStatus VerifyReport::status() const {
  if (errors > 0) return SuiteStatus::bad_input;
  if (passed + failed == 0) return SuiteStatus::nothing_tested;
  if (failed > 0) return SuiteStatus::fail;
  if (gradients_uninformative) return SuiteStatus::nothing_tested;
  return SuiteStatus::pass;
}

std::string VerifyReport::summary() const {
  std::string s = std::to_string(passed) + " passed, " + std::to_string(failed) + " failed, " +
                  std::to_string(skipped) + " skipped, " + std::to_string(errors) + " error(s); outputs judged: " +
                  join(outputs, [](const std::string& x) { return x; }, " ");
  std::vector<std::string> extra;  // the variant outputs some case was judged on
  for (const InformativeCount& ic : informative)
    if (!narrowed && (ic.name == "dbias" || ic.name == "dsinks")) extra.push_back(ic.name);
  if (!extra.empty()) s += " (+ " + join(extra, [](const std::string& x) { return x; }, " ") + " where a case has them)";
  if (narrowed) {
    std::vector<std::string> left;
    for (const char* n : kOutputNames)
      if (std::find(outputs.begin(), outputs.end(), n) == outputs.end()) left.push_back(n);
    if (!left.empty()) s += " (narrowed by --outputs; not checked: " + join(left, [](const std::string& x) { return x; }, " ") + ")";
  }
  return s;
}

namespace {

// The first element over its bound, found with the rule itself: judge_tensor
// on the candidate's first m elements with the reference elsewhere (the
// reference is exact, so only the prefix can violate); bisect on m.
int64_t first_violation(const TensorVerdict& v, const std::vector<double>& cand, const std::vector<double>& base,
                        const std::vector<double>& ref, const std::vector<double>& allow) {
  auto violated_before = [&](int64_t m) {
    std::vector<double> x(ref);
    std::copy(cand.begin(), cand.begin() + m, x.begin());
    return judge_tensor(v.name, x, base, ref, allow, v.k).violations > 0;
  };
  int64_t lo = 0, hi = static_cast<int64_t>(ref.size());  // violated_before(hi), !violated_before(lo)
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    (violated_before(mid) ? hi : lo) = mid;
  }
  return hi - 1;
}

struct Slot {
  const Tensor4<double> *ref, *base, *allow;
};

Slot slot_of(const Oracle& o, const std::string& name) {
  if (name == "o") return {&o.ref.O, &o.base.O, &o.allow.O};
  if (name == "lse") return {&o.ref.LSE, &o.base.LSE, &o.allow.LSE};
  if (name == "dq") return {&o.ref_grad->dQ, &o.base_grad->dQ, &o.allow.dQ};
  if (name == "dk") return {&o.ref_grad->dK, &o.base_grad->dK, &o.allow.dK};
  if (name == "dbias") return {&o.ref_dbias, &o.base_dbias, &o.allow.dbias};
  return {&o.ref_grad->dV, &o.base_grad->dV, &o.allow.dV};
}

std::optional<Tensor4<double>>& output_slot(Outputs& out, const std::string& name) {
  if (name == "o") return out.O;
  if (name == "lse") return out.LSE;
  if (name == "dq") return out.dQ;
  if (name == "dk") return out.dK;
  if (name == "dbias") return out.dbias;
  return out.dV;
}
const std::optional<Tensor4<double>>& output_slot(const Outputs& out, const std::string& name) {
  return output_slot(const_cast<Outputs&>(out), name);
}

TensorResult explain(const Problem& p, const Extras& ex, const TensorVerdict& v, const Oracle& oracle,
                     const Outputs& outs, const VerifyOptions& o) {
  TensorResult r;
  r.verdict = v;
  if (v.name == "dsinks") {  // [heads_q]: the worst element is a head
    r.h = std::max<int64_t>(v.worst, 0);
    return r;
  }
  const Shape4 s = shape_of(p, ex, v.name);
  if (v.worst >= 0 && v.name == "dbias") {  // [B][Hq][Nq][Nk]: row = query, col = key
    r.col = v.worst % s.D;
    r.row = v.worst / s.D % s.N;
    r.h = v.worst / (s.D * s.N) % s.H;
    r.b = v.worst / (s.D * s.N * s.H);
  } else if (v.worst >= 0 && !p.variants.plain()) {  // packed and paged rows: no mask note
    r.col = v.worst % s.D;
    r.row = v.worst / s.D % s.N;
    r.h = v.worst / (s.D * s.N) % s.H;
    r.b = v.worst / (s.D * s.N * s.H);
  } else if (v.worst >= 0) {
    r.col = v.worst % s.D;
    r.row = v.worst / s.D % s.N;
    r.h = v.worst / (s.D * s.N) % s.H;
    r.b = v.worst / (s.D * s.N * s.H);
    if (is_kv(v.name)) {
      if (p.mask.query_range(r.row, p.seqlen_q, p.seqlen_k).empty())
        r.empty_row_note = "a key no query sees: the reference defines dK = dV = 0 there";
    } else if (p.key_range(r.row).empty()) {
      r.empty_row_note = "a row that sees no key: the reference defines O = 0, LSE = -inf, dQ = 0 there";
    }
  }
  const int64_t block = is_kv(v.name) ? o.tile_kv : o.tile_q;
  if (!v.pass && block > 0 && v.name != "dbias") {
    const Slot sl = slot_of(oracle, v.name);
    const std::optional<Tensor4<double>>& cand = output_slot(outs, v.name);
    const int64_t e = first_violation(v, cand->values(), sl.base->values(), sl.ref->values(), sl.allow->values());
    const int64_t row = e / s.D % s.N;
    r.tile.any = true;
    r.tile.kv = is_kv(v.name);
    r.tile.h = e / (s.D * s.N) % s.H;
    r.tile.b = e / (s.D * s.N * s.H);
    r.tile.tile = row / block;
    r.tile.row_begin = r.tile.tile * block;
    r.tile.row_end = std::min(s.N, r.tile.row_begin + block);
  }
  return r;
}

std::vector<std::string> required_outputs(const std::vector<std::string>& asked) {
  if (asked.empty()) return {std::begin(kOutputNames), std::end(kOutputNames)};
  std::vector<std::string> out;
  for (const std::string& a : asked) {
    if (!is_output_name(a))
      throw std::invalid_argument("--outputs: unknown output '" + a + "' (expected o, lse, dq, dk, dv, dbias, dsinks)");
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  }
  return out;
}

// The case folders to judge, checked against the names suite.json lists, so
// a case left over from an earlier suite is an error, not a judged case.
std::vector<fs::path> case_folders(const fs::path& dir) {
  std::vector<fs::path> found;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && fs::exists(e.path() / "problem.json")) found.push_back(e.path());
  if (found.empty()) throw std::invalid_argument(dir.string() + ": no case folders (case_*/problem.json)");
  std::sort(found.begin(), found.end());
  const fs::path suite = dir / "suite.json";
  if (fs::exists(suite)) {
    const nlohmann::json j = read_json(suite);
    if (j.contains("cases") && j.at("cases").is_array()) {
      std::set<std::string> listed;
      for (const auto& n : j.at("cases")) listed.insert(n.get<std::string>());
      std::vector<std::string> stale, absent(listed.begin(), listed.end());
      for (const fs::path& f : found) {
        const std::string n = f.filename().string();
        if (!listed.count(n)) stale.push_back(n);
        absent.erase(std::remove(absent.begin(), absent.end(), n), absent.end());
      }
      auto names = [](const std::vector<std::string>& v) { return join(v, [](const std::string& x) { return x; }, " "); };
      if (!stale.empty())
        throw std::invalid_argument(dir.string() + ": case folders not in suite.json (left from an earlier suite?): " +
                                    names(stale) + "; regenerate with check gen --force");
      if (!absent.empty())
        throw std::invalid_argument(dir.string() + ": suite.json lists cases that are missing: " + names(absent));
    }
  }
  return found;
}

// The outputs required of one case: the suite's list without the variant
// outputs the case lacks; unless narrowed, plus dbias / dsinks where it has them.
std::vector<std::string> case_outputs(const Problem& p, const std::vector<std::string>& suite, bool narrowed) {
  std::vector<std::string> out;
  for (const std::string& n : suite)
    if (!((n == "dbias" && !p.variants.bias) || (n == "dsinks" && !p.variants.sinks))) out.push_back(n);
  if (!narrowed && p.variants.bias) out.push_back("dbias");
  if (!narrowed && p.variants.sinks) out.push_back("dsinks");
  return out;
}

// dsinks.npy: [heads_q] in the case's dtype or float32.
std::vector<double> load_dsinks(const fs::path& path, const Problem& p, const std::string& why) {
  NpyArray a;
  try {
    a = read_npy(path.string());
  } catch (const NpyError& e) {
    throw std::invalid_argument(e.what());
  }
  if (a.shape != std::vector<int64_t>{p.heads_q})
    throw std::invalid_argument(path.string() + ": shape of " + std::to_string(a.shape.size()) +
                                " dims, expected (" + std::to_string(p.heads_q) + ",) (heads_q)");
  for (DType t : {p.dtype, DType::f32})
    if (a.descr == npy_descr(t)) return npy_to_doubles(a, t, path.string());
  throw std::invalid_argument(path.string() + ": holds '" + a.descr + "' but " + why +
                              ": save it as '" + npy_descr(p.dtype) + "' or '<f4' (float32)");
}

CaseResult judge_folder(const fs::path& dir, const VerifyOptions& o, const std::vector<std::string>& suite_outputs,
                        bool narrowed) {
  CaseResult c;
  c.name = dir.filename().string();
  try {
    const nlohmann::json pj = read_json(dir / "problem.json");
    const Problem p = problem_from_json(pj);
    c.problem = p.describe();
    if (pj.contains("values") && pj.at("values").is_string()) c.problem += " values=" + pj.at("values").get<std::string>();
    const fs::path cand_dir = o.candidate_dir.empty() ? dir : fs::path(o.candidate_dir) / c.name;
    if (fs::exists(cand_dir / "skip.txt")) {  // the implementation declined this case
      std::ifstream in(cand_dir / "skip.txt");
      std::getline(in, c.message);
      c.status = CaseStatus::skipped;
      return c;
    }
    const std::string why = "this case's dtype is " + std::string(dtype_name(p.dtype));
    const std::vector<std::string> required = case_outputs(p, suite_outputs, narrowed);
    const bool need_grad = std::any_of(required.begin(), required.end(), is_gradient);
    const Extras ex = read_extras(dir, p, pj);
    OracleInputs oin{load(dir / "q.npy", shape_of(p, ex, "q"), false, {p.dtype}, why),
                     load(dir / "k.npy", shape_of(p, ex, "k"), false, {p.dtype}, why),
                     load(dir / "v.npy", shape_of(p, ex, "v"), false, {p.dtype}, why), std::nullopt, ex};
    if (need_grad) oin.dO = load(dir / "do.npy", shape_of(p, ex, "q"), false, {p.dtype}, why);
    // The oracle is recomputed from the inputs: the rule needs the
    // per-element allowance, and stale or edited ref/ files cannot mislead.
    const Oracle oracle = make_oracle(p, oin);
    Outputs outs;
    for (const std::string& name : required) {
      const fs::path path = cand_dir / (name + ".npy");
      if (!fs::exists(path)) continue;  // judge_case reports it missing
      if (name == "dsinks") {
        outs.dsinks = load_dsinks(path, p, why);
        continue;
      }
      const bool f32_too = is_lse(name) || name == "dbias";  // as kernels store them
      const std::vector<DType> allowed = f32_too ? std::vector<DType>{p.dtype, DType::f32} : std::vector<DType>{p.dtype};
      output_slot(outs, name) = load(path, shape_of(p, ex, name), is_lse(name), allowed,
                                     f32_too ? why + " (" + name + " may also be float32)" : why);
    }
    if (fs::is_directory(cand_dir))
      for (const auto& e : fs::directory_iterator(cand_dir)) {
        const std::string stem = e.path().stem().string(), ext = e.path().extension().string();
        if (ext != ".npy" || stem == "q" || stem == "k" || stem == "v" || stem == "do") continue;
        if (std::find(required.begin(), required.end(), stem) != required.end()) continue;
        bool is_extra = false;  // the case's own extra inputs (cu_seqlens_q.npy, ...)
        if (pj.contains("extras") && pj.at("extras").is_object())
          for (const auto& kv : pj.at("extras").items())
            is_extra = is_extra || (kv.value().is_string() && kv.value().get<std::string>() == e.path().filename().string());
        if (is_extra) continue;
        if (is_output_name(stem))
          c.notes.push_back(e.path().filename().string() + " present but not judged (--outputs, or the case has no such variant)");
        else
          c.notes.push_back("unexpected file " + e.path().filename().string() +
                            " (outputs are named o, lse, dq, dk, dv, dbias, dsinks .npy, lower case)");
      }
    const CaseVerdict cv = judge_case(p, oracle, outs, required);
    for (const TensorVerdict& v : cv.tensors) c.tensors.push_back(explain(p, ex, v, oracle, outs, o));
    c.missing = cv.missing;
    c.status = cv.pass ? CaseStatus::pass : CaseStatus::fail;
  } catch (const std::exception& e) {  // a bad file fails this case only
    c.status = CaseStatus::error;
    c.message = e.what();
    c.tensors.clear();
  }
  return c;
}

}  // namespace

gen::VariantInputs read_case(const std::string& dir_path) {
  const fs::path dir(dir_path);
  const nlohmann::json pj = read_json(dir / "problem.json");
  gen::VariantInputs c;
  c.problem = problem_from_json(pj);
  const Problem& p = c.problem;
  c.extras = read_extras(dir, p, pj);
  const std::string why = "this case's dtype is " + std::string(dtype_name(p.dtype));
  c.Q = load(dir / "q.npy", shape_of(p, c.extras, "q"), false, {p.dtype}, why);
  c.K = load(dir / "k.npy", shape_of(p, c.extras, "k"), false, {p.dtype}, why);
  c.V = load(dir / "v.npy", shape_of(p, c.extras, "v"), false, {p.dtype}, why);
  c.dO = load(dir / "do.npy", shape_of(p, c.extras, "q"), false, {p.dtype}, why);
  return c;
}

void write_outputs(const std::string& dir_path, const Problem& p, const Outputs& out) {
  const fs::path dir(dir_path);
  fs::create_directories(dir);
  const DType wide = p.dtype == DType::f64 ? DType::f64 : DType::f32;
  const std::pair<const char*, const std::optional<Tensor4<double>>*> ts[] = {
      {"o", &out.O}, {"lse", &out.LSE}, {"dq", &out.dQ}, {"dk", &out.dK}, {"dv", &out.dV}, {"dbias", &out.dbias}};
  for (const auto& [name, t] : ts)
    if (t->has_value()) save(dir / (std::string(name) + ".npy"), **t, is_lse(name) ? wide : p.dtype, is_lse(name));
  if (out.dsinks)
    write_npy((dir / "dsinks.npy").string(),
              npy_from_doubles(*out.dsinks, {static_cast<int64_t>(out.dsinks->size())}, wide));
}

VerifyReport verify(const VerifyOptions& o, std::ostream* progress) {
  if (!fs::is_directory(o.dir)) throw std::invalid_argument(o.dir + ": not a directory");
  if (!o.candidate_dir.empty() && !fs::is_directory(o.candidate_dir))
    throw std::invalid_argument(o.candidate_dir + ": not a directory (--candidate)");
  if (o.tile_q < 0 || o.tile_kv < 0) throw std::invalid_argument("--tile: sizes must be > 0");
  VerifyReport r;
  r.dir = o.dir;
  r.outputs = required_outputs(o.outputs);
  r.narrowed = !o.outputs.empty();
  const std::vector<fs::path> dirs = case_folders(o.dir);
  for (const char* n : kOutputNames)
    if (std::find(r.outputs.begin(), r.outputs.end(), n) != r.outputs.end()) r.informative.push_back({n});
  for (const char* n : kVariantOutputs)  // dropped below when no case has the variant
    if (!r.narrowed || std::find(r.outputs.begin(), r.outputs.end(), n) != r.outputs.end()) r.informative.push_back({n});
  if (progress)
    *progress << std::left << std::setw(10) << "case" << std::setw(5) << "out" << std::setw(9) << "verdict"
              << std::setw(11) << "max|err|" << std::setw(11) << "baseline" << std::setw(12) << "worst/bound"
              << "informative\n";
  for (const fs::path& dir : dirs) {
    r.cases.push_back(judge_folder(dir, o, r.outputs, r.narrowed));
    const CaseResult& c = r.cases.back();
    switch (c.status) {
      case CaseStatus::pass: ++r.passed; break;
      case CaseStatus::fail: ++r.failed; break;
      case CaseStatus::skipped: ++r.skipped; break;
      case CaseStatus::error: ++r.errors; break;
    }
    for (const TensorResult& t : c.tensors)
      for (InformativeCount& ic : r.informative)
        if (ic.name == t.verdict.name) {
          ++ic.judged;
          ic.informative += t.verdict.informative ? 1 : 0;
        }
    if (progress) print_case(c, *progress);
  }
  r.informative.erase(std::remove_if(r.informative.begin(), r.informative.end(),
                                     [](const InformativeCount& ic) {
                                       return ic.judged == 0 && (ic.name == "dbias" || ic.name == "dsinks");
                                     }),
                      r.informative.end());
  int grad_judged = 0, grad_informative = 0;
  for (const InformativeCount& ic : r.informative)
    if (is_gradient(ic.name)) grad_judged += ic.judged, grad_informative += ic.informative;
  r.gradients_uninformative = grad_judged > 0 && grad_informative == 0;
  if (progress) print_summary(r, *progress);
  return r;
}

namespace {

std::string where(const TensorResult& t, bool with_col) {
  std::string s = "b=" + std::to_string(t.b) + " h=" + std::to_string(t.h) +
                  (t.verdict.name == "dk" || t.verdict.name == "dv" ? " key=" : " row=") + std::to_string(t.row);
  if (with_col) s += " col=" + std::to_string(t.col);
  return s;
}

std::string worst_line(const TensorResult& t) {
  const TensorVerdict& v = t.verdict;
  std::string s;
  if (v.candidate.nan_count > 0)
    s = std::to_string(v.candidate.nan_count) + " NaN/Inf element(s), first at ";
  else
    s = std::to_string(v.violations) + " element(s) over the bound; worst at ";
  s += where(t, v.name != "lse") + ": candidate " + format_number(v.worst_candidate) + ", reference " +
       format_number(v.worst_reference) + ", bound " + format_number(v.worst_bound);
  if (v.candidate.nan_count == 0)
    s += ", |err| " + format_number(std::fabs(v.worst_candidate - v.worst_reference)) + " (" +
         format_number(v.worst_ratio) + "x the bound)";
  return s;
}

std::string tile_line(const TensorResult& t) {
  const TileAttribution& a = t.tile;
  return std::string("first ") + (a.kv ? "KV" : "Q") + " tile over the bound: b=" + std::to_string(a.b) +
         " h=" + std::to_string(a.h) + " tile " + std::to_string(a.tile) + " (" + (a.kv ? "keys " : "rows ") +
         std::to_string(a.row_begin) + ".." + std::to_string(a.row_end - 1) + ")";
}

std::string cell(const std::string& s, size_t w) {  // left-aligned, always followed by a space
  return s.size() >= w ? s + " " : s + std::string(w - s.size(), ' ');
}

}  // namespace

void print_case(const CaseResult& c, std::ostream& out) {
  const std::string indent(10, ' ');
  if (c.status == CaseStatus::skipped) {
    out << cell(c.name, 10) << "skipped: " << c.message << "\n";
    return;
  }
  if (c.status == CaseStatus::error) {
    out << cell(c.name, 10) << "ERROR: " << c.message << "\n";
    if (!c.problem.empty()) out << indent << "problem: " << c.problem << "\n";
    return;
  }
  bool problem_shown = false;
  for (const TensorResult& t : c.tensors) {
    const TensorVerdict& v = t.verdict;
    out << cell(c.name, 10) << cell(v.name, 5) << cell(v.pass ? "pass" : "FAIL", 9)
        << cell(format_number(v.candidate.max_abs), 11) << cell(format_number(v.baseline.max_abs), 11)
        << cell(format_number(v.worst_ratio), 12)
        << (v.informative ? "yes" : "NO") << " (" << format_number(v.informative_share) << ")\n";
    if (v.pass) continue;
    if (!problem_shown) out << indent << "problem: " << c.problem << "\n";
    problem_shown = true;
    out << indent << worst_line(t) << "\n";
    if (!t.empty_row_note.empty()) out << indent << t.empty_row_note << "\n";
    if (t.tile.any) out << indent << tile_line(t) << "\n";
  }
  for (const std::string& m : c.missing) {
    out << cell(c.name, 10) << cell(m, 5) << "MISSING  " << m << ".npy not written (required; --outputs narrows the set)\n";
    if (!problem_shown) out << indent << "problem: " << c.problem << "\n";
    problem_shown = true;
  }
  for (const std::string& n : c.notes) out << indent << "note: " << n << "\n";
}

void print_summary(const VerifyReport& r, std::ostream& out) {
  out << "informative checks:";
  for (const InformativeCount& ic : r.informative)
    out << "  " << ic.name << " " << ic.informative << "/" << ic.judged;
  out << "\n";
  if (r.gradients_uninformative)
    out << "WARNING: every gradient check (dq, dk, dv) was uninformative: this suite cannot tell a wrong "
           "gradient from a right one (regenerate with more cases or other --values, or narrow with --outputs)\n";
  if (r.passed + r.failed == 0) out << "NOTHING TESTED: no case was judged (every case skipped or unreadable)\n";
  out << r.summary() << "\n";
}

nlohmann::json report_json(const VerifyReport& r) {
  nlohmann::json cases = nlohmann::json::array();
  for (const CaseResult& c : r.cases) {
    nlohmann::json jc = {{"case", c.name}, {"status", case_status_name(c.status)}, {"problem", c.problem}};
    if (!c.message.empty()) jc["message"] = c.message;
    jc["missing"] = c.missing;
    jc["notes"] = c.notes;
    nlohmann::json ts = nlohmann::json::array();
    for (const TensorResult& t : c.tensors) {
      const TensorVerdict& v = t.verdict;
      // JSON has no inf/nan: such numbers are written as strings.
      auto num = [](double x) -> nlohmann::json { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(format_number(x)); };
      nlohmann::json jt = {{"name", v.name}, {"pass", v.pass}, {"informative", v.informative},
                           {"informative_share", num(v.informative_share)}, {"max_abs", num(v.candidate.max_abs)},
                           {"mean_abs", num(v.candidate.mean_abs)}, {"baseline_max_abs", num(v.baseline.max_abs)},
                           {"nan_count", v.candidate.nan_count}, {"violations", v.violations},
                           {"worst", {{"b", t.b}, {"h", t.h}, {"row", t.row}, {"col", t.col},
                                      {"candidate", num(v.worst_candidate)}, {"reference", num(v.worst_reference)},
                                      {"bound", num(v.worst_bound)}, {"ratio", num(v.worst_ratio)}}},
                           {"reason", v.reason}};
      if (!t.empty_row_note.empty()) jt["note"] = t.empty_row_note;
      if (t.tile.any)
        jt["first_tile"] = {{"kind", t.tile.kv ? "kv" : "q"}, {"b", t.tile.b}, {"h", t.tile.h}, {"tile", t.tile.tile},
                            {"row_begin", t.tile.row_begin}, {"row_end", t.tile.row_end}};
      ts.push_back(jt);
    }
    jc["tensors"] = ts;
    cases.push_back(jc);
  }
  nlohmann::json inf = nlohmann::json::object();
  for (const InformativeCount& ic : r.informative) inf[ic.name] = {{"judged", ic.judged}, {"informative", ic.informative}};
  return {{"suite", r.dir}, {"outputs", r.outputs}, {"narrowed", r.narrowed}, {"status", suite_status_name(r.status())},
          {"passed", r.passed}, {"failed", r.failed}, {"skipped", r.skipped}, {"errors", r.errors},
          {"informative", inf}, {"gradients_uninformative", r.gradients_uninformative},
          {"summary", r.summary()}, {"cases", cases}};
}

namespace {
std::string xml(const std::string& s) {
  std::string o;
  for (char ch : s) {
    switch (ch) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default:
        if (static_cast<unsigned char>(ch) >= 0x20 || ch == '\n' || ch == '\t') o += ch;
    }
  }
  return o;
}
}  // namespace

void write_junit(const VerifyReport& r, const std::string& path) {
  std::ofstream out(path);
  if (!out) throw std::invalid_argument(path + ": cannot write (--junit)");
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n"
      << "  <testsuite name=\"flashcheck check verify\" tests=\"" << r.cases.size() << "\" failures=\"" << r.failed
      << "\" errors=\"" << r.errors << "\" skipped=\"" << r.skipped << "\">\n";
  for (const CaseResult& c : r.cases) {
    std::ostringstream detail;
    print_case(c, detail);
    out << "    <testcase classname=\"flashcheck.verify\" name=\"" << xml(c.name) << "\">\n";
    switch (c.status) {
      case CaseStatus::pass: break;
      case CaseStatus::skipped: out << "      <skipped message=\"" << xml(c.message) << "\"/>\n"; break;
      case CaseStatus::error:
        out << "      <error message=\"" << xml(c.message) << "\">" << xml(detail.str()) << "</error>\n";
        break;
      case CaseStatus::fail:
        out << "      <failure message=\"" << xml(c.problem) << "\">" << xml(detail.str()) << "</failure>\n";
        break;
    }
    out << "      <system-out>" << xml(c.problem) << "</system-out>\n    </testcase>\n";
  }
  out << "  </testsuite>\n</testsuites>\n";
  if (!out) throw std::invalid_argument(path + ": write failed (--junit)");
}

}  // namespace flashcheck::cases
