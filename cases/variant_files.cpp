// Variant fields and extra tensors in case folders (variant_files.hpp).
#include "cases/variant_files.hpp"

#include <set>
#include <sstream>

#include "reference/npy.hpp"

namespace fs = std::filesystem;

namespace flashcheck::cases {
namespace {

// One extra tensor: its Extras field, its file, what it holds.
enum class Kind { floats, bytes, ints };
struct ExtraSpec {
  const char* field;
  const char* file;
  Kind kind;
};
const ExtraSpec kExtras[] = {
    {"alibi_slopes", "alibi.npy", Kind::floats}, {"sinks", "sinks.npy", Kind::floats},
    {"keep", "keep.npy", Kind::bytes},           {"bias", "bias.npy", Kind::floats},
    {"mask", "mask.npy", Kind::bytes},           {"cu_seqlens_q", "cu_seqlens_q.npy", Kind::ints},
    {"cu_seqlens_k", "cu_seqlens_k.npy", Kind::ints}, {"block_table", "block_table.npy", Kind::ints}};

// Whether the problem's variants need the extra field.
bool needed(const Problem& p, const std::string& f) {
  const Variants& v = p.variants;
  if (f == "alibi_slopes") return v.alibi;
  if (f == "sinks") return v.sinks;
  if (f == "keep") return v.dropout_p.has_value();
  if (f == "bias") return v.bias;
  if (f == "mask") return v.bool_mask;
  if (f == "cu_seqlens_q" || f == "cu_seqlens_k") return v.varlen;
  return v.page_size.has_value();  // block_table
}
const char* switch_of(const std::string& f) {
  if (f == "alibi_slopes") return "variants.alibi";
  if (f == "sinks") return "variants.sinks";
  if (f == "keep") return "variants.dropout_p";
  if (f == "bias") return "variants.bias";
  if (f == "mask") return "variants.bool_mask";
  if (f == "block_table") return "variants.page_size";
  return "variants.varlen";
}

std::vector<int64_t> shape_of(const Problem& p, const std::string& f) {
  if (f == "alibi_slopes" || f == "sinks") return {p.heads_q};
  if (f == "cu_seqlens_q" || f == "cu_seqlens_k") return {p.batch + 1};
  if (f == "block_table") return {p.batch, pages_per_seq(p)};
  return {p.batch, p.heads_q, p.seqlen_q, p.seqlen_k};
}
std::string shape_str(const std::vector<int64_t>& s) {
  std::string o = "(";
  for (size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
  return o + (s.size() == 1 ? ",)" : ")");
}

std::vector<int64_t> as_ints(const std::vector<uint8_t>& v) { return {v.begin(), v.end()}; }

}  // namespace

nlohmann::json variants_to_json(const Variants& v) {
  nlohmann::json j = nlohmann::json::object();
  if (v.softcap) j["softcap"] = *v.softcap;
  if (v.alibi) j["alibi"] = true;
  if (v.sinks) j["sinks"] = true;
  if (v.dropout_p) j["dropout_p"] = *v.dropout_p;
  if (v.bias) j["bias"] = true;
  if (v.bool_mask) j["bool_mask"] = true;
  if (v.varlen) j["varlen"] = true;
  if (v.page_size) j["page_size"] = *v.page_size, j["num_pages"] = v.num_pages;
  if (v.allow_empty) j["allow_empty"] = true;
  return j;
}

Variants variants_from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw std::invalid_argument("problem.json: field 'variants' must be an object, got " + j.dump());
  static const std::set<std::string> flags = {"alibi", "sinks", "bias", "bool_mask", "varlen", "allow_empty"};
  static const std::set<std::string> numbers = {"softcap", "dropout_p"};
  static const std::set<std::string> ints = {"page_size", "num_pages"};
  Variants v;
  for (const auto& kv : j.items()) {
    const std::string& k = kv.key();
    const nlohmann::json& x = kv.value();
    const std::string field = "problem.json: field 'variants." + k + "'";
    if (flags.count(k)) {
      if (!x.is_boolean()) throw std::invalid_argument(field + " must be true or false, got " + x.dump());
      const bool b = x.get<bool>();
      if (k == "alibi") v.alibi = b;
      if (k == "sinks") v.sinks = b;
      if (k == "bias") v.bias = b;
      if (k == "bool_mask") v.bool_mask = b;
      if (k == "varlen") v.varlen = b;
      if (k == "allow_empty") v.allow_empty = b;
    } else if (numbers.count(k)) {
      if (!x.is_number()) throw std::invalid_argument(field + " must be a number, got " + x.dump());
      (k == "softcap" ? v.softcap : v.dropout_p) = x.get<double>();
    } else if (ints.count(k)) {
      if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > (int64_t(1) << 40))
        throw std::invalid_argument(field + " must be an integer in [0, 2^40], got " + x.dump());
      if (k == "page_size") v.page_size = x.get<int64_t>();
      else v.num_pages = x.get<int64_t>();
    } else {
      throw std::invalid_argument("problem.json: unknown field 'variants." + k +
                                  "' (expected softcap, alibi, sinks, dropout_p, bias, bool_mask, varlen, "
                                  "page_size, num_pages, allow_empty)");
    }
  }
  return v;
}

nlohmann::json write_extras(const fs::path& dir, const Problem& p, const Extras& ex) {
  nlohmann::json names = nlohmann::json::object();
  for (const ExtraSpec& s : kExtras) {
    const std::string f = s.field;
    if (!needed(p, f)) continue;
    const std::vector<int64_t> shape = shape_of(p, f);
    NpyArray a;
    if (f == "alibi_slopes") a = npy_from_doubles(ex.alibi_slopes, shape, DType::f32);
    if (f == "sinks") a = npy_from_doubles(ex.sinks, shape, DType::f32);
    if (f == "bias") a = npy_from_doubles(ex.bias.values(), shape, DType::f32);
    if (f == "keep") a = npy_from_ints(as_ints(ex.keep.values()), shape, "|u1");
    if (f == "mask") a = npy_from_ints(as_ints(ex.mask.values()), shape, "|u1");
    if (f == "cu_seqlens_q") a = npy_from_ints(ex.cu_seqlens_q, shape, "<i4");
    if (f == "cu_seqlens_k") a = npy_from_ints(ex.cu_seqlens_k, shape, "<i4");
    if (f == "block_table") a = npy_from_ints(ex.block_table, shape, "<i4");
    write_npy((dir / s.file).string(), a);
    names[f] = s.file;
  }
  return names;
}

Extras read_extras(const fs::path& dir, const Problem& p, const nlohmann::json& pj) {
  const nlohmann::json none = nlohmann::json::object();
  const nlohmann::json& names = pj.contains("extras") ? pj.at("extras") : none;
  if (!names.is_object()) throw std::invalid_argument("problem.json: field 'extras' must be an object, got " + names.dump());
  for (const auto& kv : names.items()) {
    bool known = false;
    for (const ExtraSpec& s : kExtras) known = known || kv.key() == s.field;
    if (!known)
      throw std::invalid_argument("problem.json: unknown field 'extras." + kv.key() +
                                  "' (expected alibi_slopes, sinks, keep, bias, mask, cu_seqlens_q, "
                                  "cu_seqlens_k, block_table)");
  }
  Extras ex;
  for (const ExtraSpec& s : kExtras) {
    const std::string f = s.field, field = "extras." + f;
    const bool named = names.contains(f);
    if (!needed(p, f)) {
      if (named)
        throw std::invalid_argument("problem.json: field '" + field + "' names " + names.at(f).dump() + " but " +
                                    switch_of(f) + " is off");
      continue;
    }
    if (!named)
      throw std::invalid_argument("problem.json: field '" + field + "' missing (" + switch_of(f) +
                                  " is on; expected e.g. \"" + s.file + "\")");
    if (!names.at(f).is_string())
      throw std::invalid_argument("problem.json: field '" + field + "' must be a file name, got " + names.at(f).dump());
    const std::string file = names.at(f).get<std::string>();
    if (file.empty() || file.find('/') != std::string::npos || file.find('\\') != std::string::npos || file == "..")
      throw std::invalid_argument("problem.json: field '" + field + "' must name a file in the case folder, got \"" +
                                  file + "\"");
    const fs::path path = dir / file;
    const std::string where = path.string() + " (" + field + ")";
    NpyArray a;
    try {
      a = read_npy(path.string());
    } catch (const NpyError& e) {
      throw std::invalid_argument(std::string(e.what()) + " (" + field + ")");
    }
    const std::vector<int64_t> want = shape_of(p, f);
    if (a.shape != want)
      throw std::invalid_argument(where + ": shape " + shape_str(a.shape) + " expected " + shape_str(want));
    std::vector<double> d;
    std::vector<int64_t> n;
    if (s.kind == Kind::floats) {
      if (a.descr != "<f4" && a.descr != "<f8")
        throw std::invalid_argument(where + ": holds '" + a.descr + "' but expected '<f4' (float32) or '<f8'");
      d = npy_to_doubles(a, a.descr == "<f4" ? DType::f32 : DType::f64, path.string());
    } else {
      const bool ok = s.kind == Kind::bytes ? a.descr == "|u1" || a.descr == "|b1"
                                            : a.descr == "<i4" || a.descr == "<i8";
      if (!ok)
        throw std::invalid_argument(where + ": holds '" + a.descr + "' but expected " +
                                    (s.kind == Kind::bytes ? "'|u1' (uint8) or '|b1' (bool)"
                                                           : "'<i4' (int32) or '<i8' (int64)"));
      n = npy_to_ints(a, path.string());
    }
    auto score = [&](auto& t, const auto& v) {
      t = std::decay_t<decltype(t)>({want[0], want[1], want[2], want[3]});
      std::copy(v.begin(), v.end(), t.values().begin());
    };
    if (f == "alibi_slopes") ex.alibi_slopes = d;
    if (f == "sinks") ex.sinks = d;
    if (f == "bias") score(ex.bias, d);
    if (f == "keep") score(ex.keep, n);
    if (f == "mask") score(ex.mask, n);
    if (f == "cu_seqlens_q") ex.cu_seqlens_q = n;
    if (f == "cu_seqlens_k") ex.cu_seqlens_k = n;
    if (f == "block_table") ex.block_table = n;
  }
  try {
    validate_extras(p, ex);
  } catch (const ProblemError& e) {  // name the file beside the field
    std::string file = e.field();
    for (const ExtraSpec& s : kExtras)
      if (e.field() == std::string("extras.") + s.field && names.contains(s.field))
        file = (dir / names.at(s.field).get<std::string>()).string();
    throw std::invalid_argument(file + ": " + e.what());
  }
  return ex;
}

}  // namespace flashcheck::cases
