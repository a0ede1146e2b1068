// The GPU model (sim/README.md, "GPU model"): CTAs launch in the kernel's
// grid order, W = SMs x CTAs-per-SM run at once. A wave's CTAs of one head
// stream the same inner blocks (K/V forward, Q/dO backward) together, so L2
// serves all but the first read of each tile in a wave (the union of their
// ranges goes to DRAM). A later wave of the same head finds its tiles in L2
// if one wave's footprint fits in the effective L2 (half of it: H100/H200 L2
// is two partitions, each caching the lines its SMs read, so data read by
// every SM sits in both, while stored and atomically reduced lines sit only
// at their home slice), else it re-reads its union from DRAM (an LRU cliff
// for cyclic streams). Writes reach DRAM when evicted; the dirty lines still
// in L2 when the kernel ends, the write share of the last L bytes, do not.
// Every head is alike: the sums run over the W / gcd(W, T) distinct ways a
// head's CTAs fall on wave boundaries and over classes of alike waves
// (step_classes), so the cost is independent of B x H and of the trip counts.
#include "sim/gpu_model.hpp"

#include <algorithm>
#include <numeric>

#include "sim/checked.hpp"
#include "sim/schedules/tiling.hpp"

namespace flashcheck::sim {
namespace {

// Inner rows (of the streamed tensor) one segment of outer blocks [q0, q1)
// visits, for a band mask: the union of their ranges.
struct Geometry {
  const Tiling& t;
  bool q_outer;
  int64_t T() const { return q_outer ? t.Tr : t.Tc; }
  int64_t inner_rows() const { return q_outer ? t.Nk : t.Nq; }
  int64_t inner_block() const { return q_outer ? t.Bc : t.Br; }
  int64_t outer_block() const { return q_outer ? t.Br : t.Bc; }
  Range range(int64_t x) const { return q_outer ? t.kv_blocks(x) : t.q_blocks(x); }
  Range live() const { return q_outer ? t.live_q_blocks() : t.live_kv_blocks(); }
  int64_t rows_of(Range blocks) const {
    if (blocks.empty()) return 0;
    return std::min(blocks.end * inner_block(), inner_rows()) - blocks.begin * inner_block();
  }
  // Inner-block range visited by outer blocks [q0, q1) (clipped to the live ones).
  Range union_of(int64_t q0, int64_t q1) const {
    const Range l = live();
    q0 = std::max(q0, l.begin);
    q1 = std::min(q1, l.end);
    if (q0 >= q1) return {0, 0};
    return {range(q0).begin, range(q1 - 1).end};
  }
};

// Sum over the segments [c + (k-1) W, c + k W) of [0, T) of the inner rows
// their union visits (exact, via classes of alike segments).
int64_t segment_rows(const Geometry& g, int64_t W, int64_t c, int64_t& steps) {
  const int64_t T = g.T();
  const int64_t k0 = c > 0 ? 0 : 1, k1 = (T - c + W - 1) / W;  // segments k0..k1
  const int64_t n = k1 - k0 + 1;
  const auto seg = [&](int64_t m) {
    const int64_t k = k0 + m;
    return Range{std::max<int64_t>(0, c + (k - 1) * W), std::min(T, c + k * W)};
  };
  // Live segments: those holding a live outer block.
  const Range l = g.live();
  int64_t a = 0, b = n;
  while (a < n && seg(a).end <= l.begin) ++a;  // at most one or two steps: segments are W wide
  while (b > a && seg(b - 1).begin >= l.end) --b;
  __int128 total = 0;
  const auto rows = [&](int64_t m) { const Range s = seg(m); return g.rows_of(g.union_of(s.begin, s.end)); };
  step_classes(n, Range{a, b}, g.t.Tc + g.t.Tr + 1, W * g.outer_block(), g.inner_block(),
               [&](int64_t m) { const Range s = seg(m); return g.union_of(s.begin, s.end); },
               [&](int64_t m) { return seg(m).size(); },
               [&](int64_t m0, int64_t m1, int64_t cnt) {
                 ++steps;
                 if (m1 < 0) {
                   total += static_cast<__int128>(cnt) * rows(m0);
                 } else {
                   const __int128 r0 = rows(m0), r1 = rows(m1);
                   total += cnt * r0 + (r1 - r0) * (static_cast<__int128>(cnt) * (cnt - 1) / 2);
                 }
               });
  if (total > INT64_MAX) throw OverflowError("GPU model rows");
  return static_cast<int64_t>(total);
}

int64_t dirty_at_end(int64_t writes, int64_t reads, double l2_eff) {
  if (writes <= 0) return 0;
  const double share = static_cast<double>(writes) / (static_cast<double>(reads) + writes);
  return std::min<int64_t>(writes, static_cast<int64_t>(l2_eff * share));
}

}  // namespace

GpuTraffic gpu_traffic(const RunResult& r, const Hardware& hw, const Launch& launch) {
  GpuTraffic out;
  const Problem& p = r.problem;
  out.sm_read_bytes = r.read_bytes();
  out.sm_write_bytes = r.write_bytes();
  const bool fwd = r.desc.direction == Direction::fwd;
  if (r.desc.kind != ScheduleKind::flash2 || hw.l2_bytes <= 0 || hw.sm_count <= 0) {
    out.dram_read_bytes = r.read_bytes();
    out.dram_write_bytes = r.write_bytes();
    return out;
  }
  out.modelled = true;
  const int64_t d = p.head_dim, e = dtype_bytes(p.dtype), g = p.group_size();
  const Tiling t(p, r.desc.Br, r.desc.Bc);
  const Geometry geo{t, fwd};
  const bool fa2_order = launch.order == Launch::Order::block_batch_head;
  // Units (grid heads) and what each CTA moves, per row.
  const int64_t units = checked_mul(p.batch, fwd || fa2_order ? p.heads_q : p.heads_kv, "units");
  const int64_t heads_per_unit = fwd || fa2_order ? 1 : g;
  const int64_t stream_row = fwd ? 2 * d * e : heads_per_unit * (2 * d * e + 8);
  const int64_t rmw_row = fwd ? 0 : heads_per_unit * (launch.dq_atomic_f32 ? 4 * d : d * e);
  const int64_t resident_row = fwd ? d * e : 2 * d * e;  // Q_i / K_j, V_j
  const int64_t write_row = fwd ? d * e + 4 : 2 * d * e;  // O_i, LSE_i / dK_j, dV_j
  const Range live = geo.live();
  const int64_t T = geo.T();
  const int64_t live_rows = live.empty() ? 0
                            : std::min(live.end * geo.outer_block(), fwd ? t.Nq : t.Nk) -
                                  live.begin * geo.outer_block();
  const int64_t all_rows = fwd ? t.Nq : t.Nk;
  // Concurrency.
  int64_t per_sm = launch.ctas_per_sm;
  if (per_sm <= 0) per_sm = std::clamp<int64_t>(hw.sram_per_sm_bytes / std::max<int64_t>(1, r.sram_peak_bytes), 1, 32);
  const int64_t W = checked_mul(hw.sm_count, per_sm, "concurrent CTAs");
  out.concurrent_ctas = W;
  out.simulated_ctas = checked_mul(units, T, "CTAs");
  // Stream rows if every wave re-reads its union (miss) or each head reads its union once (hit).
  const int64_t P = W / std::gcd(W, T);  // distinct wave offsets of a head's first CTA
  __int128 miss_rows = 0;
  for (int64_t res = 0; res < std::min(P, units); ++res) {
    const int64_t count = (units - res + P - 1) / P;
    const int64_t a = static_cast<int64_t>((static_cast<__int128>(res) * T) % W);  // slot of the first CTA
    const int64_t s0 = W - a;  // CTAs of this head in its first wave
    const int64_t c = launch.heaviest_first ? ((T - s0) % W + W) % W : s0 % W;
    miss_rows += static_cast<__int128>(count) * segment_rows(geo, W, c, out.model_steps);
  }
  const int64_t head_rows = geo.rows_of(geo.union_of(0, T));
  // GQA forward: query heads of one KV head stream the same K/V. Their units
  // are a contiguous block of g (flashcheck: head fastest) or g B units
  // (FlashAttention-2: batch fastest, B distinct KV heads in it); a wave of
  // Uw = W / T units reads each distinct stream once: s units per stream.
  double s = 1;
  if (fwd && g > 1) {
    const double uw = std::max(1.0, static_cast<double>(W) / static_cast<double>(T));
    s = fa2_order ? uw / std::min(uw, static_cast<double>(p.batch)) : std::min(uw, static_cast<double>(g));
    s = std::clamp(s, 1.0, static_cast<double>(g));
  }
  const __int128 hit_rows = static_cast<__int128>(units) * head_rows / (fwd ? g : 1);  // each stream once
  const __int128 resident = static_cast<__int128>(units) * live_rows * resident_row;
  const __int128 written = static_cast<__int128>(units) * all_rows * write_row;
  const double waves = std::max<double>(1.0, static_cast<double>(units) * static_cast<double>(T) / static_cast<double>(W));
  // A wave's distinct lines, in copies of the effective L2 (L/2): read lines sit in both
  // partitions (1 each); lines stored or reduced into (dQaccum atomics, O, dK, dV) sit only at
  // their home slice, the point of coherence where the write or atomic is done (1/2 each).
  const double footprint =
      (static_cast<double>(miss_rows) / s *
           (static_cast<double>(stream_row) + launch.written_line_weight * static_cast<double>(rmw_row)) +
       static_cast<double>(resident) + launch.written_line_weight * static_cast<double>(written)) / waves;
  const double l2_eff = static_cast<double>(hw.l2_bytes) / 2;
  out.wave_footprint_bytes = footprint;
  out.l2_effective_bytes = l2_eff;
  out.reuse = footprint <= l2_eff;
  if (!out.reuse) miss_rows = static_cast<__int128>(static_cast<double>(miss_rows) / s);
  const __int128 rows = out.reuse ? hit_rows : miss_rows;
  const __int128 main_reads = resident + rows * (stream_row + rmw_row);
  const __int128 main_writes = written + rows * rmw_row;
  if (main_reads > INT64_MAX || main_writes > INT64_MAX) throw OverflowError("DRAM bytes");
  int64_t reads = static_cast<int64_t>(main_reads);
  // Each kernel's dirty lines resident at its end stay out of its DRAM writes; they are reported apart.
  int64_t dirty = 0;
  const auto evicted = [&](int64_t w, int64_t r) {
    const int64_t left = dirty_at_end(w, r, l2_eff);
    dirty = checked_add(dirty, left, "dirty bytes");
    return w - left;
  };
  int64_t writes = evicted(static_cast<int64_t>(main_writes), reads);
  if (!fwd) {
    // The D = rowsum(dO * O) kernel, and the dQaccum conversion: streaming, no reuse.
    const int64_t q_rows = checked_mul(p.batch * p.heads_q, p.seqlen_q, "rows");
    const int64_t pre_r = checked_mul(q_rows, 2 * d * e, "DRAM bytes");
    const int64_t pre_w = checked_mul(q_rows, 4 + (launch.dq_atomic_f32 ? (launch.clear_in_preprocess ? 4 * d : 0) : d * e), "DRAM bytes");
    reads = checked_add(reads, pre_r, "DRAM bytes");
    writes = checked_add(writes, evicted(pre_w, pre_r), "DRAM bytes");
    if (launch.dq_atomic_f32) {
      const int64_t cv_r = checked_mul(q_rows, 4 * d, "DRAM bytes"), cv_w = checked_mul(q_rows, d * e, "DRAM bytes");
      reads = checked_add(reads, cv_r, "DRAM bytes");
      writes = checked_add(writes, evicted(cv_w, cv_r), "DRAM bytes");
      // SM-side: dQaccum is added with atomics (L2 reductions, not reads), then read once.
      out.sm_read_bytes = checked_add(out.sm_read_bytes - r.read_bytes(TensorId::dQ), cv_r, "SM bytes");
      out.l2_reduction_bytes = checked_mul(r.hbm.elems[idx(TensorId::dQ)].read, 4, "SM bytes");
      const int64_t clear = launch.clear_in_preprocess ? checked_mul(q_rows, 4 * d, "SM bytes") : 0;
      out.sm_write_bytes = checked_add(out.sm_write_bytes - r.write_bytes(TensorId::dQ), checked_add(cv_w, clear, "SM bytes"), "SM bytes");
      if (fa2_order && g > 1)  // FlashAttention-2 reads K_j, V_j once per query head
        out.sm_read_bytes = checked_add(out.sm_read_bytes, (g - 1) * (r.read_bytes(TensorId::K) + r.read_bytes(TensorId::V)), "SM bytes");
    }
  }
  out.dram_read_bytes = reads;
  out.dram_write_bytes = writes;
  out.l2_dirty_end_bytes = dirty;
  out.l2_hit_rate = out.sm_read_bytes > 0 ? 1.0 - static_cast<double>(reads) / static_cast<double>(out.sm_read_bytes) : 0;
  return out;
}

}  // namespace flashcheck::sim
