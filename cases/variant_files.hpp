// The attention variants in case folders (`check gen --variants`): their
// scalar fields in problem.json ("variants": {...}) and their tensors as
// .npy files named in problem.json ("extras": {field: file}). The README's
// "Variant case files" section is the format's documentation:
//   alibi_slopes  alibi.npy         float32 [Hq]
//   sinks         sinks.npy         float32 [Hq] (-inf: no sink)
//   keep          keep.npy          uint8 [B][Hq][Nq][Nk], nonzero = kept (bool accepted)
//   bias          bias.npy          float32 [B][Hq][Nq][Nk] (-inf: hidden)
//   mask          mask.npy          uint8 [B][Hq][Nq][Nk], nonzero = visible (bool accepted)
//   cu_seqlens_q  cu_seqlens_q.npy  int32 [B + 1] (int64 accepted)
//   cu_seqlens_k  cu_seqlens_k.npy  int32 [B + 1]
//   block_table   block_table.npy   int32 [B][ceil(Nk / page_size)]
// Readers accept float64 for the float tensors too. Every error names the
// file and the field.
#pragma once
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "reference/variant_attention.hpp"

namespace flashcheck::cases {

// The case-file format version written in problem.json ("case_format").
// 1: plain cases (no field); 2: "variants" and "extras" may be present.
constexpr int kCaseFormat = 2;

// Only the fields that are on; {} when plain.
nlohmann::json variants_to_json(const Variants& v);
// Throws std::invalid_argument naming the field ("problem.json: variants.softcap ...").
Variants variants_from_json(const nlohmann::json& j);

// Writes the extras of p into dir and returns the "extras" object naming them.
nlohmann::json write_extras(const std::filesystem::path& dir, const Problem& p, const Extras& ex);
// Reads the extras problem.json's "extras" object names (pj: the whole
// problem.json) and validates them against p; throws std::invalid_argument
// naming the file and the field for a missing, unreadable, misshapen or
// inconsistent file, or a field named for a variant that is off.
Extras read_extras(const std::filesystem::path& dir, const Problem& p, const nlohmann::json& pj);

}  // namespace flashcheck::cases
