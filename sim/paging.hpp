// Paged KV (vLLM's PagedAttention, FlashAttention's block_table): K and V of
// a sequence live in pages of P rows (one head's P x d elements contiguous,
// 32-byte aligned), found through a block table of int32 page ids. A KV tile
// of rows [r0, r0 + nr) reads, from each page it overlaps,
//  - sector: the 32-byte sectors its rows cover (rows exact, rounded to
//    sectors at the page's ends: a kernel that gathers rows, FlashAttention-3);
//  - page: the whole page, in sectors (a kernel that moves whole pages, e.g. one TMA or
//    cp.async copy per page, also past the sequence's end in the last page);
// plus one block-table entry per page. Page size and Bc must divide one
// another, so every full tile reads the same (make_plan checks it); then the
// counting executor's shortcuts stay exact.
#pragma once
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "sim/checked.hpp"

namespace flashcheck::sim {

struct Paging {
  enum class Read { sector, page };
  int64_t page_rows = 0;  // 0: contiguous K/V (no paging)
  Read read = Read::sector;
  bool on() const { return page_rows > 0; }
};

constexpr int64_t kSectorBytes = 32;

inline Paging::Read parse_page_read(const std::string& s) {
  if (s == "sector") return Paging::Read::sector;
  if (s == "page") return Paging::Read::page;
  throw std::invalid_argument("unknown page read '" + s + "' (expected sector or page)");
}
inline const char* page_read_name(Paging::Read r) { return r == Paging::Read::sector ? "sector" : "page"; }

struct PagedRead {
  int64_t elems = 0;  // elements moved (rounded)
  int64_t pages = 0;  // pages overlapped: block-table entries read
};

// One tile of rows [r0, r0 + nr), each row `cols` elements of `elem_bytes`.
inline PagedRead paged_read(const Paging& pg, int64_t r0, int64_t nr, int64_t cols, int64_t elem_bytes) {
  const int64_t P = pg.page_rows;
  const int64_t first = r0 / P, last = (r0 + nr - 1) / P;
  PagedRead out{0, last - first + 1};
  const int64_t row_bytes = checked_mul(cols, elem_bytes, "paged read");
  // Sectors of rows [a, b) of one page (the page starts on a sector).
  const auto sectors_of = [&](int64_t a, int64_t b) {
    return (checked_mul(b, row_bytes, "paged read") + kSectorBytes - 1) / kSectorBytes -
           checked_mul(a, row_bytes, "paged read") / kSectorBytes;
  };
  if (pg.read == Paging::Read::page) {  // whole pages, each rounded up to sectors
    out.elems = checked_mul(checked_mul(out.pages, sectors_of(0, P), "paged read"), kSectorBytes / elem_bytes, "paged read");
    return out;
  }
  const int64_t a = r0 - first * P, b = r0 + nr - last * P;  // within the first / last page
  int64_t sectors = first == last ? sectors_of(a, b) : checked_add(sectors_of(a, P), sectors_of(0, b), "paged read");
  if (last - first > 1)  // the whole pages between
    sectors = checked_add(sectors, checked_mul(last - first - 1, sectors_of(0, P), "paged read"), "paged read");
  out.elems = checked_mul(sectors, kSectorBytes / elem_bytes, "paged read");
  return out;
}

}  // namespace flashcheck::sim
