// Inputs of a problem with attention variants (reference/variants.hpp): a
// plain generated case (gen::Inputs) with variants added on top, their extra
// tensors filled from a seed (deterministic, like gen::make_inputs), and the
// packing into varlen and paged layouts. The variant properties, the case
// files (`check gen --variants`) and the variant mutants all build cases here.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "cases/generators.hpp"
#include "reference/variant_attention.hpp"

namespace flashcheck::gen {

struct VariantInputs {
  Problem problem;
  Extras extras;
  Tensor4<double> Q, K, V, dO;
};
void showValue(const VariantInputs& c, std::ostream& os);

VariantInputs from_inputs(const Inputs& in);  // no variants yet

// ---- adding one variant (problem field + its extra tensor) ----------------
void add_softcap(VariantInputs& c, double cap);
void add_alibi(VariantInputs& c, uint64_t seed);           // slopes in [0, 1)
void add_sinks(VariantInputs& c, uint64_t seed);           // sink logits in [-3, 3)
void add_dropout(VariantInputs& c, double p, uint64_t seed);  // keep with probability 1 - p
void add_bias(VariantInputs& c, uint64_t seed);            // [-2, 2), about 10% -inf (hidden)
void add_bool_mask(VariantInputs& c, uint64_t seed);       // about 70% visible
// Contiguous [B][Hkv][Nk][d] K/V moved into pages of page_size rows; the
// block table is a seeded shuffle of distinct pages plus `spare` unused
// ones (holding junk).
void make_paged(VariantInputs& c, int64_t page_size, int64_t spare, uint64_t seed);
// Pages filled from the seed and a block table drawn with replacement, so
// pages may be shared by batch entries (prefix caching).
void make_paged_shared(VariantInputs& c, int64_t page_size, int64_t num_pages, uint64_t seed);
// Packs a contiguous case into varlen layout: sequence b keeps its first
// nq[b] queries and nk[b] keys (0 allowed); the [B][Hq][Nq][Nk] extras keep
// their padded shape (indexed by position within the sequence).
void make_varlen(VariantInputs& c, const std::vector<int64_t>& nq, const std::vector<int64_t>& nk);

// ---- the variants of `check gen --variants` --------------------------------
enum class CaseVariant { softcap, alibi, varlen, paged, sinks, dropout, mask, bias };
const std::vector<CaseVariant>& all_case_variants();
const char* case_variant_name(CaseVariant v);
// "softcap", ..., "bias"; "all" is expanded by parse_case_variants.
CaseVariant parse_case_variant(const std::string& s);
std::vector<CaseVariant> parse_case_variants(const std::vector<std::string>& names);

// `base` with the variants added, every tensor (inputs and extras) exactly
// representable in what the case files store (inputs in the dtype; slopes,
// sinks, bias in float32), parameters drawn from seed. varlen lengths lean
// to 0 and the longest; paged picks a page size from {1, 3, 16, 64}; both
// raise the batch to at least 3 sequences (values redrawn from base.values).
VariantInputs with_variants(const Inputs& base, const std::vector<CaseVariant>& variants, uint64_t seed);

// Case c of a `check gen --variants list` suite: list[c % n]; in every
// second round (c / n odd) also the next score variant of the list (not
// varlen or paged), so combinations are judged too.
std::vector<CaseVariant> suite_variants(const std::vector<CaseVariant>& list, int c);
// The seed with_variants gets for a suite case drawn from base.
uint64_t variant_seed(const Inputs& base);

}  // namespace flashcheck::gen
