// The GPU model (sim/README.md, "GPU model"): CTAs launch in the kernel's
// grid order, W = SMs x CTAs-per-SM run at once. A wave's CTAs of one head
// stream the same inner blocks (K/V forward, Q/dO backward) together, so L2
// serves all but the first read of each tile in a wave (the union of their
// ranges goes to DRAM). Each wave decides for itself how many of its re-reads hit:
// the lines it shares with earlier waves of its heads were last read by the
// wave before it, and stay in L2 while both waves' footprints fit in the
// effective L2 (half of it: H100/H200 L2 is two partitions, each caching the
// lines its SMs read, so data read by every SM sits in both, while stored and
// atomically reduced lines sit only at their home slice). The share that misses
// is the L2's reuse curve at the larger footprint over L/2 (Hardware::l2_reuse:
// measured on the H200, 0 below 0.94, 1 above 1.11; LRU's cliff at 1 for cyclic
// streams). Writes reach DRAM when evicted; the dirty lines still in L2 when
// the kernel ends, the write share of the last L bytes, do not; nor do the stack
// frames (spills) of the CTAs resident at the end, a floor; a frame's part written once per CTA
// (its prologue spills) goes to DRAM between a slot's CTAs with the measured aging share
// (Hardware::spill_aging) at the distinct bytes a CTA's lifetime sees. Every head is
// alike: the sums run over the W / gcd(W, T) distinct ways a head's CTAs fall
// on wave boundaries (T <= W: the T / gcd(W, T) wave offsets) and over classes
// of alike waves (step_classes), so the cost is independent of B x H and of
// the trip counts; walk_every_wave evaluates every wave, the reference.
#include "sim/gpu_model.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

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
  int64_t inner_blocks() const { return q_outer ? t.Tc : t.Tr; }
  int64_t outer_block() const { return q_outer ? t.Br : t.Bc; }
  Range range(int64_t x) const { return q_outer ? t.kv_blocks(x) : t.q_blocks(x); }
  // The live inner blocks of the CTA launched at position p of its head.
  Range at_position(int64_t p, bool heaviest_first) const {
    const int64_t x = heaviest_first ? T() - 1 - p : p;
    return union_of(x, x + 1);
  }
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

// What the CTAs of one head in one wave read: `rows` inner rows (the union of
// their ranges), `fresh` of them read by no earlier wave of that head, and
// their part of the wave's footprint in bytes.
struct Part {
  int64_t rows = 0, fresh = 0;
  double footprint = 0;
};

// Stream rows summed over every wave, each wave deciding for itself: its re-reads (the rows an
// earlier wave of its head read) miss with the share the L2's reuse curve gives for the larger of
// its footprint and the wave before's, over the effective L2; its fresh rows always miss.
struct WaveSums {
  long double hit_fresh = 0;  // fresh rows, weighted by the hit share: DRAM reads them once per stream
  long double miss_rows = 0;  // all rows, weighted by the miss share: DRAM reads them per CTA group
  __int128 all_rows = 0;
  __int128 waves = 0, no_miss = 0;  // waves, and those whose re-reads all hit
  long double hit_waves = 0;        // waves weighted by their hit share
};

// A backward whose heads are no longer than a wave (T <= W): its waves are not synchronous. The
// CTAs that continue a head start as the previous wave's shortest CTAs end (after L_min steps)
// and stream from their own diagonal, so they re-read a block (gap + band) = L_min - start(o) +
// max start of the head's earlier CTAs steps after its nearest earlier read: the share `share(o)`
// of a wave's L_max steps, by which the reuse footprint shrinks (1 where all CTAs are alike).
// stop 25's timeline prototype (sim/fidelity/timeline_prototype.py) finds the causal rows all-hit,
// as measured (c04: 0.675 GB, all-hit 0.673); forwards are left out: PyTorch's causal forward
// misses more than a timeline predicts (reports/fidelity/timeline/compare.txt).
struct Continuation {
  std::vector<int64_t> start, prefix_max;  // inner-block start of position p's stream; max over [0, p)
  double lmin = 0, lmax = 0;               // shortest and longest CTA (inner blocks) of a head
  double share(int64_t o) const {
    if (lmax <= 0) return 1;
    return std::clamp((lmin - static_cast<double>(start[o]) + static_cast<double>(prefix_max[o])) / lmax, 0.0, 1.0);
  }
};

struct Waves {
  const Geometry& g;
  int64_t T, W, units;
  bool heaviest_first;
  double stream_w, resident_w, write_w, l2_eff;  // footprint bytes per inner row, live outer row, outer row
  int64_t outer_rows_all;
  const L2Reuse& curve;
  const Continuation* continuation = nullptr;  // a backward with T <= W (else every wave is synchronous)

  int64_t outer_rows(Range b) const {
    if (b.empty()) return 0;
    return std::min(b.end * g.outer_block(), outer_rows_all) - b.begin * g.outer_block();
  }
  // The head's outer blocks [b.begin, b.end), the earlier-launched ones `before`.
  Part part_blocks(Range b, Range before) const {
    Part p;
    const Range u = g.union_of(b.begin, b.end), h = g.union_of(before.begin, before.end);
    p.rows = g.rows_of(u);
    p.fresh = p.rows - g.rows_of(Range{std::max(u.begin, h.begin), std::min(u.end, h.end)});
    const Range l = g.live();
    const int64_t live = outer_rows(Range{std::max(b.begin, l.begin), std::min(b.end, l.end)});
    p.footprint = static_cast<double>(p.rows) * stream_w + static_cast<double>(live) * resident_w +
                  static_cast<double>(outer_rows(b)) * write_w;
    return p;
  }
  // The CTAs a head launches at positions [p0, p1) (heaviest first: the last blocks first).
  Part part(int64_t p0, int64_t p1) const {
    return heaviest_first ? part_blocks({T - p1, T - p0}, {T - p0, T}) : part_blocks({p0, p1}, {0, p0});
  }
  void add(WaveSums& s, const Part& p, double miss, __int128 mult) const {
    const long double m = static_cast<long double>(mult);
    s.hit_fresh += m * (1 - miss) * static_cast<long double>(p.fresh);
    s.miss_rows += m * miss * static_cast<long double>(p.rows);
    s.all_rows += mult * p.rows;
  }
  static void count(WaveSums& s, double miss, __int128 mult) {
    s.waves += mult;
    s.hit_waves += static_cast<long double>(mult) * (1 - miss);
    if (miss == 0) s.no_miss += mult;
  }
  // A wave of n CTAs starting at position o of a head: that head's rest (`first`),
  // `whole` heads, then the next head's first CTAs.
  struct WaveParts {
    Part first, head, next;
    int64_t whole = 0;
    double footprint = 0;
  };
  WaveParts parts(int64_t o, int64_t n) const {
    WaveParts w;
    w.first = part(o, std::min(T, o + n));
    const int64_t rest = std::max<int64_t>(0, n - (T - o));
    w.whole = rest / T;
    if (w.whole > 0) w.head = part(0, T);
    if (rest % T > 0) w.next = part(0, rest % T);
    w.footprint = w.first.footprint + static_cast<double>(w.whole) * w.head.footprint + w.next.footprint;
    return w;
  }
  // The lines a wave re-reads were last read by the wave before it (W CTAs earlier): they are
  // still in L2 when neither that wave's stream nor this one's pushes them out (LRU), so the
  // larger of the two footprints decides. The first wave has none: the alike wave W CTAs
  // before stands in (its rows are all fresh anyway, so only the hit share of waves sees it).
  double previous_footprint(int64_t o) const { return parts(((o - W) % T + T) % T, W).footprint; }
  double miss_share(double own, double previous) const { return curve.miss(std::max(own, previous) / l2_eff); }
  // `mult` waves of n CTAs each starting at position o of a head.
  void wave(WaveSums& s, int64_t o, int64_t n, __int128 mult) const {
    if (mult == 0) return;
    const WaveParts w = parts(o, n);
    double miss = miss_share(w.footprint, previous_footprint(o));
    if (continuation && o > 0)  // only the continued head re-reads: its rows' reuse distance is shorter
      miss = curve.miss(continuation->share(o) * std::max(w.footprint, previous_footprint(o)) / l2_eff);
    add(s, w.first, miss, mult);
    add(s, w.head, miss, mult * w.whole);
    add(s, w.next, miss, mult);
    count(s, miss, mult);
  }
  int64_t offset(__int128 x) const { return static_cast<int64_t>(x % T); }

  // Every wave one by one (O(waves)): the reference the class sums must equal.
  WaveSums walk() const {
    WaveSums s;
    const __int128 ctas = static_cast<__int128>(units) * T;
    for (__int128 x = 0; x < ctas; x += W) wave(s, offset(x), static_cast<int64_t>(std::min<__int128>(W, ctas - x)), 1);
    return s;
  }

  // The same sums at a cost independent of the number of heads and of T.
  WaveSums sums(int64_t& steps) const {
    WaveSums s;
    const __int128 ctas = static_cast<__int128>(units) * T;
    const __int128 nw = (ctas + W - 1) / W;
    const __int128 last = (nw - 1) * W;  // first CTA of the last wave
    if (T <= W) {
      // Waves hold several heads; wave k's start offset (k W mod T) repeats every Q waves.
      const int64_t Q = T / std::gcd(W, T);
      const __int128 full = nw - 1;  // waves of W CTAs
      for (int64_t k = 0; k < std::min<__int128>(Q, nw); ++k, ++steps)  // as many steps at P heads as at 1000 P
        wave(s, offset(static_cast<__int128>(k) * W), W, (full - k + Q - 1) / Q);
    } else {
      // A head spans waves: a wave shared with the previous head, whole waves alone, a wave
      // shared with the next; heads alike modulo P = W / gcd(W, T) fall on wave boundaries alike.
      const int64_t P = W / std::gcd(W, T);
      for (int64_t res = 0; res < std::min(P, units); ++res) {
        const __int128 count = (units - res + P - 1) / P;
        const int64_t a = static_cast<int64_t>((static_cast<__int128>(res) * T) % W);  // slot of the first CTA
        const int64_t a_next = (a + T) % W;  // CTAs of the next head in this head's last wave
        const int64_t p0 = a > 0 ? W - a : 0, p1 = T - a_next;  // positions in waves of their own
        if (a > 0) wave(s, T - a, W, count), ++steps;  // heads res > 0: the previous head's rest, then ours
        whole_waves(s, heaviest_first ? T - p1 : p0, (p1 - p0) / W, count, steps);
        // The last head's rest runs alone in the last wave.
        if (res == (units - 1) % P && a_next > 0) wave(s, T - a_next, a_next, 1), ++steps;
      }
      return s;
    }
    wave(s, offset(last), static_cast<int64_t>(ctas - last), 1);
    ++steps;
    return s;
  }

  // nseg waves of a head's CTAs alone, outer blocks [b0 + m W, b0 + (m + 1) W), each
  // `count` times; summed per class of alike waves (step_classes): over a class's members
  // but its first and last, the rows, fresh rows and both footprints the decision reads
  // (its own, the wave before's: the neighbouring class's member) are affine in the step.
  // Each footprint crosses each knot of the reuse curve at most once, and the two cross each
  // other at most once (found by bisection); between those edges the miss share is affine
  // too, and the sums of products of affine terms have closed forms.
  void whole_waves(WaveSums& s, int64_t b0, int64_t nseg, __int128 count, int64_t& steps) const {
    if (nseg <= 0) return;
    const auto blocks = [&](int64_t m) { return Range{b0 + m * W, b0 + (m + 1) * W}; };
    struct Member {
      Part p;
      double previous = 0;
    };
    const auto at = [&](int64_t m) {
      const Range b = blocks(m);
      Member x;
      x.p = heaviest_first ? part_blocks(b, {b.end, T}) : part_blocks(b, {0, b.begin});
      x.previous = previous_footprint(heaviest_first ? T - b.end : b.begin);  // from its first CTA's position
      return x;
    };
    // The x values where the curve changes slope (LRU's cliff: 1).
    std::vector<double> knots;
    for (const L2Reuse::Knot& k : curve.knots) knots.push_back(k.x * l2_eff);
    if (knots.empty()) knots.push_back(l2_eff);
    const Range l = g.live();
    Range live{0, 0};
    if (!l.empty() && l.end > b0 && l.begin < b0 + nseg * W) {
      live.begin = std::max<int64_t>(0, (l.begin - b0) / W);
      live.end = std::min<int64_t>(nseg, (l.end - b0 + W - 1) / W);
    }
    const int64_t outer_max = W * g.outer_block() + 1;
    step_classes(nseg, live, g.inner_blocks(), W * g.outer_block(), g.inner_block(),
                 [&](int64_t m) { const Range b = blocks(m); return g.union_of(b.begin, b.end); },
                 [&](int64_t m) {  // the outer rows and the live ones: a class shares both
                   const Range b = blocks(m);
                   return outer_rows(b) * outer_max +
                          outer_rows(Range{std::max(b.begin, l.begin), std::min(b.end, l.end)});
                 },
                 [&](int64_t m0, int64_t, int64_t cnt, int64_t stride) {
                   ++steps;
                   const auto member = [&](int64_t j) { return at(m0 + stride * j); };
                   // Members j0..j1 with affine miss share, rows and fresh rows.
                   const auto span = [&](int64_t j0, int64_t j1) {
                     const Member a = member(j0), b = j1 > j0 ? member(j1) : a;
                     const double ma = miss_share(a.p.footprint, a.previous), mb = miss_share(b.p.footprint, b.previous);
                     const __int128 n = j1 - j0 + 1;
                     const __int128 rows = n * (a.p.rows + b.p.rows) / 2, fresh = n * (a.p.fresh + b.p.fresh) / 2;
                     const long double c = static_cast<long double>(count);
                     s.hit_fresh += c * (static_cast<long double>(fresh) - affine_product_sum(n, ma, mb, a.p.fresh, b.p.fresh));
                     s.miss_rows += c * affine_product_sum(n, ma, mb, a.p.rows, b.p.rows);
                     s.all_rows += count * rows;
                     s.waves += count * n;
                     s.hit_waves += c * static_cast<long double>(n) * (1 - (static_cast<long double>(ma) + mb) / 2);
                     if (ma == 0 && mb == 0) s.no_miss += count * n;
                   };
                   if (cnt <= 4) {
                     for (int64_t j = 0; j < cnt; ++j) span(j, j);
                     return;
                   }
                   // The first and last members may border other classes; the ones between are affine.
                   span(0, 0);
                   span(cnt - 1, cnt - 1);
                   const int64_t j0 = 1, j1 = cnt - 2;
                   // The last member in [j0, j1] whose `test` equals j0's (each test is monotone in j).
                   const Member first = member(j0), last = member(j1);  // every test reads both ends
                   const auto edge = [&](const auto& test) {
                     const bool v = test(first);
                     if (test(last) == v) return j1;
                     int64_t good = j0, bad = j1;
                     while (bad - good > 1) {
                       const int64_t mid = good + (bad - good) / 2;
                       (test(member(mid)) == v ? good : bad) = mid;
                     }
                     return good;
                   };
                   std::vector<int64_t> edges{j1, edge([](const Member& x) { return x.p.footprint <= x.previous; })};
                   for (const double k : knots) {
                     edges.push_back(edge([k](const Member& x) { return x.p.footprint <= k; }));
                     edges.push_back(edge([k](const Member& x) { return x.previous <= k; }));
                   }
                   std::sort(edges.begin(), edges.end());
                   int64_t from = j0;
                   for (const int64_t e : edges)
                     if (e >= from) span(from, e), from = e + 1;
                 });
  }

  // Spills: the mean, over a head's CTAs, of the aging share at the distinct bytes its lifetime
  // sees: the CTAs launched from it on until W times its own work has been done (W for CTAs all
  // alike: its wave), plus the resident frames. Heads are alike and follow one another; more than
  // kSpillSamples positions are sampled evenly, so the cost is bounded whatever T is.
  double mean_spill_share(const L2Reuse& aging, double frames) const {
    constexpr int64_t kSpillSamples = 4096;
    const int64_t S = std::min(T, kSpillSamples);
    std::vector<int64_t> pos(S + 1);
    std::vector<long double> work(S + 1, 0), len(S, 0);  // work before pos[k]; inner rows at pos[k]
    for (int64_t k = 0; k <= S; ++k) pos[k] = static_cast<int64_t>(static_cast<__int128>(k) * T / S);
    for (int64_t k = 0; k < S; ++k) {
      len[k] = static_cast<long double>(g.rows_of(g.at_position(pos[k], heaviest_first)));
      work[k + 1] = work[k] + len[k] * static_cast<long double>(pos[k + 1] - pos[k]);
    }
    const long double head = work[S];
    long double sum = 0;
    for (int64_t k = 0; k < S; ++k) {
      int64_t n = W;
      if (head > 0) {
        const long double target = work[k] + static_cast<long double>(W) * len[k];
        const long double heads = std::floor(target / head), rest = target - heads * head;
        const int64_t q = pos[std::lower_bound(work.begin(), work.end(), rest) - work.begin()];
        const long double span = heads * static_cast<long double>(T) + static_cast<long double>(q - pos[k]);
        n = static_cast<int64_t>(std::clamp<long double>(span, 1, 0x1p62L));
      }
      const double y = (parts(pos[k], n).footprint + frames) / l2_eff;
      sum += static_cast<long double>(aging.miss(y)) * static_cast<long double>(pos[k + 1] - pos[k]);
    }
    return static_cast<double>(sum / static_cast<long double>(T));
  }

  // sum over k = 0..n-1 of (ma + (mb - ma) t)(fa + (fb - fa) t), t = k / (n - 1).
  static long double affine_product_sum(__int128 n_, double ma, double mb, int64_t fa, int64_t fb) {
    const long double n = static_cast<long double>(n_), a = fa, df = static_cast<long double>(fb) - fa, dm = static_cast<long double>(mb) - ma;
    if (n_ == 1) return ma * a;
    return n * ma * a + (ma * df + a * dm) * n / 2 + dm * df * n * (2 * n - 1) / (6 * (n - 1));
  }
};

int64_t dirty_at_end(int64_t writes, int64_t reads, double l2_eff) {
  if (writes <= 0) return 0;
  const double share = static_cast<double>(writes) / (static_cast<double>(reads) + writes);
  return std::min<int64_t>(writes, static_cast<int64_t>(l2_eff * share));
}

}  // namespace

GpuTraffic gpu_traffic(const RunResult& r, const Hardware& hw, const Launch& launch, bool walk_every_wave) {
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
  const __int128 resident = static_cast<__int128>(units) * live_rows * resident_row;
  const __int128 written = static_cast<__int128>(units) * all_rows * write_row;
  const double waves = std::max<double>(1.0, static_cast<double>(units) * static_cast<double>(T) / static_cast<double>(W));
  // A wave's distinct lines, in copies of the effective L2 (L/2): read lines sit in both
  // partitions (1 each); lines stored or reduced into (dQaccum atomics, O, dK, dV) sit only at
  // their home slice, the point of coherence where the write or atomic is done (1/2 each).
  const double l2_eff = static_cast<double>(hw.l2_bytes) / 2;
  Continuation cont;
  const bool overlap = launch.continued_heads_overlap && !fwd && T <= W;
  if (overlap) {
    cont.start.assign(T, 0);
    cont.prefix_max.assign(T + 1, 0);
    cont.lmin = INFINITY;
    for (int64_t p = 0; p < T; ++p) {
      const Range r = geo.at_position(p, launch.heaviest_first);
      const double len = r.empty() ? 0 : static_cast<double>(r.end - r.begin);
      cont.start[p] = r.empty() ? (p > 0 ? cont.start[p - 1] : 0) : r.begin;
      cont.prefix_max[p + 1] = p > 0 ? std::max(cont.prefix_max[p], cont.start[p]) : cont.start[p];
      cont.lmin = std::min(cont.lmin, len), cont.lmax = std::max(cont.lmax, len);
    }
  }
  const Waves model{geo, T, W, units, launch.heaviest_first,
                    (static_cast<double>(stream_row) + launch.written_line_weight * static_cast<double>(rmw_row)) / s,
                    static_cast<double>(resident_row), launch.written_line_weight * static_cast<double>(write_row),
                    l2_eff, all_rows, hw.l2_reuse, overlap ? &cont : nullptr};
  const WaveSums ws = walk_every_wave ? model.walk() : model.sums(out.model_steps);
  const double footprint = (static_cast<double>(ws.all_rows) / s *
                                (static_cast<double>(stream_row) + launch.written_line_weight * static_cast<double>(rmw_row)) +
                            static_cast<double>(resident) + launch.written_line_weight * static_cast<double>(written)) / waves;
  out.wave_footprint_bytes = footprint;
  out.l2_effective_bytes = l2_eff;
  out.fitting_wave_share = ws.waves > 0 ? static_cast<double>(ws.hit_waves / static_cast<long double>(ws.waves)) : 1;
  out.reuse = ws.no_miss == ws.waves;
  // Re-reads that hit: DRAM reads the fresh rows once per stream (a GQA forward's g query heads
  // share one); those that miss: the unions, once per distinct stream in the wave (s).
  const long double rows = ws.hit_fresh / (fwd ? g : 1) + ws.miss_rows / s;
  const long double main_reads = static_cast<long double>(resident) + rows * (stream_row + rmw_row);
  const long double main_writes = static_cast<long double>(written) + rows * rmw_row;
  if (main_reads >= 0x1p63L || main_writes >= 0x1p63L) throw OverflowError("DRAM bytes");
  int64_t reads = std::llround(main_reads);
  // Each kernel's dirty lines resident at its end stay out of its DRAM writes; they are reported apart.
  int64_t dirty = 0;
  const auto evicted = [&](int64_t w, int64_t r) {
    const int64_t left = dirty_at_end(w, r, l2_eff);
    dirty = checked_add(dirty, left, "dirty bytes");
    return w - left;
  };
  int64_t writes = evicted(std::llround(main_writes), reads);
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
      // A memset is no kernel: what it evicts while it runs is nobody's, what it leaves dirty the
      // backward's traffic writes back (zeros; the atomics' sums are written back apart, above).
      if (!launch.clear_in_preprocess) out.memset_dirty_bytes = dirty_at_end(checked_mul(q_rows, 4 * d, "DRAM bytes"), 0, l2_eff);
      out.sm_write_bytes = checked_add(out.sm_write_bytes - r.write_bytes(TensorId::dQ), checked_add(cv_w, clear, "SM bytes"), "SM bytes");
      if (fa2_order && g > 1)  // FlashAttention-2 reads K_j, V_j once per query head
        out.sm_read_bytes = checked_add(out.sm_read_bytes, (g - 1) * (r.read_bytes(TensorId::K) + r.read_bytes(TensorId::V)), "SM bytes");
    }
  }
  if (launch.cold_stack_bytes_per_cta > 0 && out.simulated_ctas > W) {
    // Each slot's CTAs after its first rewrite the cold part; between two, L2 writes it back with
    // the aging share (the last CTA's stays dirty: the floor below).
    out.spill_share = model.mean_spill_share(hw.spill_aging, launch.written_line_weight * static_cast<double>(W) *
                                                                 static_cast<double>(launch.stack_bytes_per_cta));
    const long double spill = static_cast<long double>(out.simulated_ctas - W) * launch.cold_stack_bytes_per_cta * out.spill_share;
    if (spill >= 0x1p62L) throw OverflowError("spill bytes");
    out.spill_write_bytes = std::llround(spill);
    writes = checked_add(writes, out.spill_write_bytes, "DRAM bytes");
  }
  out.dram_read_bytes = reads;
  out.dram_write_bytes = writes;
  out.l2_dirty_end_bytes = dirty;
  // Each SM slot's last CTA leaves its frame dirty (a slot's CTAs share its frame's lines).
  out.stack_dirty_end_bytes = checked_mul(std::min(W, out.simulated_ctas), launch.stack_bytes_per_cta, "stack bytes");
  out.l2_hit_rate = out.sm_read_bytes > 0 ? 1.0 - static_cast<double>(reads) / static_cast<double>(out.sm_read_bytes) : 0;
  return out;
}

}  // namespace flashcheck::sim
