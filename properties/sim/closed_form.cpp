#include "properties/sim/closed_form.hpp"

#include <algorithm>
#include <vector>

namespace flashcheck::simtest {

using sim::Direction;
using sim::HbmCounters;
using sim::ScheduleKind;
using T = sim::TensorId;

TileSums tile_sums(const Problem& p, int64_t Br, int64_t Bc) {
  TileSums s;
  s.Tr = (p.seqlen_q + Br - 1) / Br;
  s.Tc = (p.seqlen_k + Bc - 1) / Bc;
  std::vector<char> row_ne(static_cast<size_t>(s.Tr), 0), col_ne(static_cast<size_t>(s.Tc), 0);
  for (int64_t i = 0; i < s.Tr; ++i)
    for (int64_t j = 0; j < s.Tc; ++j) {
      const int64_t q0 = i * Br, q1 = std::min(q0 + Br, p.seqlen_q);
      const int64_t k0 = j * Bc, k1 = std::min(k0 + Bc, p.seqlen_k);
      bool any = false;
      for (int64_t q = q0; q < q1 && !any; ++q)
        for (int64_t k = k0; k < k1 && !any; ++k) any = p.visible(q, k);
      if (!any) continue;
      s.RQ += q1 - q0;
      s.CK += k1 - k0;
      s.A += (q1 - q0) * (k1 - k0);
      row_ne[static_cast<size_t>(i)] = col_ne[static_cast<size_t>(j)] = 1;
    }
  for (int64_t i = 0; i < s.Tr; ++i)
    if (row_ne[static_cast<size_t>(i)]) s.Rne += std::min(Br, p.seqlen_q - i * Br);
  for (int64_t j = 0; j < s.Tc; ++j)
    if (col_ne[static_cast<size_t>(j)]) s.Cne += std::min(Bc, p.seqlen_k - j * Bc);
  return s;
}

int64_t live_chunks(const Problem& p, int64_t Bc, int64_t splits) {
  const int64_t Tc = (p.seqlen_k + Bc - 1) / Bc, per = (Tc + splits - 1) / splits;
  int64_t n = 0;
  for (int64_t s = 0; s < splits; ++s) {
    bool any = false;
    for (int64_t k = s * per * Bc; k < std::min((s + 1) * per * Bc, p.seqlen_k) && !any; ++k)
      for (int64_t q = 0; q < p.seqlen_q && !any; ++q) any = p.visible(q, k);
    n += any;
  }
  return n;
}

HbmCounters closed_form(const Problem& p, ScheduleKind k, Direction dir, int64_t Br, int64_t Bc,
                        bool resident) {
  sim::ScheduleDesc desc = sim::describe(k, dir, Br, Bc);
  return closed_form(p, desc, resident);
}

HbmCounters closed_form(const Problem& p, const sim::ScheduleDesc& desc, bool resident) {
  const ScheduleKind k = desc.kind;
  const Direction dir = desc.direction;
  const int64_t Br = desc.Br, Bc = desc.Bc;
  const TileSums s = tile_sums(p, Br, Bc);
  const int64_t H = p.batch * p.heads_q, Hk = p.batch * p.heads_kv;
  const int64_t Nq = p.seqlen_q, Nk = p.seqlen_k, d = p.head_dim;
  HbmCounters c;
  // q: per query head, kv: per KV head.
  const auto rq = [&](T t, int64_t n) { c.read(t, H * n); };
  const auto wq = [&](T t, int64_t n) { c.write(t, H * n); };
  const auto rk = [&](T t, int64_t n) { c.read(t, Hk * n); };
  const auto wk = [&](T t, int64_t n) { c.write(t, Hk * n); };
  const bool fwd = dir == Direction::fwd;
  switch (k) {
    case ScheduleKind::flash2:
      if (fwd) {
        rq(T::Q, s.Rne * d);
        rq(T::K, s.CK * d);
        rq(T::V, s.CK * d);
        wq(T::O, Nq * d);
        wq(T::LSE, Nq);
      } else {
        rq(T::O, Nq * d);
        rq(T::dO, Nq * d + s.RQ * d);
        wq(T::D, Nq);
        wq(T::dQ, Nq * d + s.RQ * d);
        rq(T::Q, s.RQ * d);
        rq(T::LSE, s.RQ);
        rq(T::D, s.RQ);
        rq(T::dQ, s.RQ * d);
        rk(T::K, s.Cne * d);
        rk(T::V, s.Cne * d);
        wk(T::dK, Nk * d);
        wk(T::dV, Nk * d);
      }
      break;
    case ScheduleKind::flash1:
      if (fwd) {
        wq(T::O, Nq * d + s.RQ * d);
        wq(T::l, Nq + s.RQ);
        wq(T::m, Nq + s.RQ);
        rq(T::Q, s.RQ * d);
        rq(T::O, s.RQ * d);
        rq(T::l, s.RQ);
        rq(T::m, s.RQ);
        rk(T::K, s.Cne * d);
        rk(T::V, s.Cne * d);
      } else {
        wq(T::dQ, Nq * d + s.RQ * d);
        for (T t : {T::Q, T::O, T::dO, T::dQ}) rq(t, s.RQ * d);
        rq(T::l, s.RQ);
        rq(T::m, s.RQ);
        rk(T::K, s.Cne * d);
        rk(T::V, s.Cne * d);
        wk(T::dK, Nk * d);
        wk(T::dV, Nk * d);
      }
      break;
    case ScheduleKind::standard: {
      const int64_t passes = resident ? 1 : 2;
      if (fwd) {
        rq(T::Q, s.Rne * d);
        rq(T::K, s.CK * d);
        wq(T::S, s.A);
        rq(T::S, passes * s.A);
        wq(T::P, s.A);
        wq(T::LSE, Nq);
        rq(T::P, s.A);
        rq(T::V, s.CK * d);
        wq(T::O, Nq * d);
      } else {
        rq(T::P, s.A + passes * s.A);
        rq(T::dO, s.RQ * d + s.Rne * d);
        wk(T::dV, Nk * d);
        rq(T::V, s.CK * d);
        wq(T::dP, s.A);
        rq(T::dP, passes * s.A);
        wq(T::dS, s.A);
        rq(T::dS, 2 * s.A);
        rq(T::K, s.CK * d);
        wq(T::dQ, Nq * d);
        rq(T::Q, s.RQ * d);
        wk(T::dK, Nk * d);
      }
      break;
    }
    case ScheduleKind::square: {  // sim/README.md, "square": Td head-dim chunks
      const int64_t Td = (d + desc.Bd - 1) / desc.Bd;
      rq(T::Q, s.RQ * d);
      rq(T::K, s.CK * d);
      wq(T::S, s.A);
      rq(T::S, (1 + Td) * s.A);
      wq(T::LSE, Nq);
      rq(T::LSE, Td * s.Rne);
      rq(T::V, s.CK * d);
      wq(T::O, Nq * d);
      break;
    }
    case ScheduleKind::splitkv: {  // one Q block; S partial results per query head
      const int64_t S = desc.splits;
      rq(T::Q, live_chunks(p, Bc, S) * Nq * d);
      rq(T::K, s.CK * d);
      rq(T::V, s.CK * d);
      wq(T::Oacc, S * Nq * d);
      wq(T::LSEacc, S * Nq);
      rq(T::Oacc, S * Nq * d);
      rq(T::LSEacc, S * Nq);
      wq(T::O, Nq * d);
      wq(T::LSE, Nq);
      break;
    }
  }
  return c;
}

}  // namespace flashcheck::simtest
