// Properties of the one mask object, checked against brute force over
// visible(q, k): the ranges and block ranges the schedules and kernels use
// must cover exactly the visible set.
#include <catch2/catch.hpp>
#include <rapidcheck.h>

#include "cases/generators.hpp"
#include "properties/prop.hpp"

namespace flashcheck {
namespace {

constexpr int64_t kMaxLen = 40;
const std::vector<int64_t> kEdges = {4, 8};
const std::vector<MaskKind> kAllKinds = {MaskKind::none, MaskKind::causal_top_left,
                                         MaskKind::causal_bottom_right, MaskKind::sliding_window};

struct Case {
  int64_t sq, sk;
  Mask mask;
};

Case any_case() {
  const auto n = *gen::lengths(kMaxLen, kEdges);
  return {n.first, n.second, *gen::mask(kAllKinds, n.first, n.second)};
}

// [a, b) with 0 <= a < b <= n.
std::pair<int64_t, int64_t> interval(int64_t n) {
  const int64_t a = *rc::gen::inRange<int64_t>(0, n);
  const int64_t b = *rc::gen::inRange<int64_t>(a + 1, n + 1);
  return {a, b};
}

bool any_visible(const Case& c, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
  for (int64_t q = r0; q < r1; ++q)
    for (int64_t k = c0; k < c1; ++k)
      if (c.mask.visible(q, k, c.sq, c.sk)) return true;
  return false;
}

TEST_CASE("mask: key and query ranges") {
  prop("key_range(q) is exactly the set of keys visible to q", [] {
    const Case c = any_case();
    for (int64_t q = 0; q < c.sq; ++q) {
      const Range r = c.mask.key_range(q, c.sq, c.sk);
      for (int64_t k = 0; k < c.sk; ++k)
        RC_ASSERT(c.mask.visible(q, k, c.sq, c.sk) == (k >= r.begin && k < r.end));
    }
  });
  prop("query_range(k) is exactly the set of queries that see k", [] {
    const Case c = any_case();
    for (int64_t k = 0; k < c.sk; ++k) {
      const Range r = c.mask.query_range(k, c.sq, c.sk);
      for (int64_t q = 0; q < c.sq; ++q)
        RC_ASSERT(c.mask.visible(q, k, c.sq, c.sk) == (q >= r.begin && q < r.end));
    }
  });
  prop("nothing outside [0, seqlen_q) x [0, seqlen_k) is visible", [] {
    const Case c = any_case();
    const int64_t q = *rc::gen::inRange<int64_t>(-3, c.sq + 3);
    const int64_t k = *rc::gen::inRange<int64_t>(-3, c.sk + 3);
    if (q < 0 || q >= c.sq || k < 0 || k >= c.sk) RC_ASSERT(!c.mask.visible(q, k, c.sq, c.sk));
  });
}

TEST_CASE("mask: block ranges") {
  prop("kv_blocks(rows) holds exactly the KV blocks with a key visible to one of the rows", [] {
    const Case c = any_case();
    const auto rows = interval(c.sq);
    const int64_t Bc = *rc::gen::inRange<int64_t>(1, 11);
    const Range blocks = c.mask.kv_blocks(rows.first, rows.second, Bc, c.sq, c.sk);
    for (int64_t j = 0; j * Bc < c.sk; ++j) {
      const bool needed = any_visible(c, rows.first, rows.second, j * Bc, std::min(c.sk, (j + 1) * Bc));
      RC_ASSERT(needed == (j >= blocks.begin && j < blocks.end));
    }
  });
  prop("q_blocks(cols) holds exactly the Q blocks with a row that sees one of the keys", [] {
    const Case c = any_case();
    const auto cols = interval(c.sk);
    const int64_t Br = *rc::gen::inRange<int64_t>(1, 11);
    const Range blocks = c.mask.q_blocks(cols.first, cols.second, Br, c.sq, c.sk);
    for (int64_t i = 0; i * Br < c.sq; ++i) {
      const bool needed = any_visible(c, i * Br, std::min(c.sq, (i + 1) * Br), cols.first, cols.second);
      RC_ASSERT(needed == (i >= blocks.begin && i < blocks.end));
    }
  });
  prop("tile_fully_visible is true exactly when every element of the tile is visible", [] {
    const Case c = any_case();
    const auto rows = interval(c.sq);
    const auto cols = interval(c.sk);
    bool all = true;
    for (int64_t q = rows.first; q < rows.second; ++q)
      for (int64_t k = cols.first; k < cols.second; ++k) all = all && c.mask.visible(q, k, c.sq, c.sk);
    RC_ASSERT(c.mask.tile_fully_visible(rows.first, rows.second, cols.first, cols.second, c.sq,
                                        c.sk) == all);
  });
}

TEST_CASE("mask: names") {
  prop("parse_mask(describe()) gives the same mask back", [] {
    const Case c = any_case();
    const Mask m = parse_mask(c.mask.describe());
    RC_ASSERT(m.kind == c.mask.kind);
    RC_ASSERT(m.window_left == c.mask.window_left);
    RC_ASSERT(m.window_right == c.mask.window_right);
  });
}

}  // namespace
}  // namespace flashcheck
