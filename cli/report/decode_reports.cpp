// The inference reports (decode_reports.hpp): split-KV decoding against the
// FlashAttention-2 forward. Every number comes from sim::simulate in counting
// mode and the roofline of the H100 preset.
#include "cli/report/decode_reports.hpp"

#include "sim/hardware.hpp"
#include "sim/simulate.hpp"
#include "sim/varlen.hpp"

namespace flashcheck::report {

using namespace flashcheck::sim;

namespace {

// One decode step of a Llama-style GQA layer: batch 1, 32 query heads, 8 KV heads, one query, bf16.
Problem decode_step(int64_t nk, int64_t d) {
  Problem p;
  p.batch = 1;
  p.heads_q = 32;
  p.heads_kv = 8;
  p.seqlen_q = 1;
  p.seqlen_k = nk;
  p.head_dim = d;
  p.dtype = DType::bf16;
  return p;
}

// decode/<file>.csv and decode/<page>: the table under its Markdown intro.
void write_page(const Writer& w, const std::string& csv, const std::string& page, const std::string& md, const Table& t) {
  w.csv("decode/" + csv, t);
  w.text("decode/" + page, std::string(kReportHeader) + md + t.markdown());
}

}  // namespace

std::string decode_splits(const Writer& w) {
  const Hardware& hw = find_preset("h100");
  Problem p = decode_step(0, 128);
  const int64_t m = hw.smem_per_block_bytes;
  const std::string md =
      "# Decoding: split-KV against one thread block per head\n\n"
      "One decode step (batch 1, 32 query heads, 8 KV heads, one query, d 128, bf16), H100 preset "
      "(M = " + std::to_string(m / 1024) + " KiB, 132 SMs). `flash2` runs B x Hq = 32 thread blocks: a "
      "quarter of the SMs. `splitkv` (`flashcheck sim --schedule splitkv --splits S`) cuts the KV "
      "into S chunks, B x Hq x S thread blocks, and pays for it with the partial results: "
      "S x Nq x (d + 1) float32 elements per query head written and read back by the reduce "
      "(`partial_bytes`, exact: properties/sim/splitkv_properties.cpp). `default` is the rule "
      "FlashAttention-2's num_splits_heuristic: the smallest S whose wave efficiency is >= 0.85 of the best. Roofline time = max(bytes / bandwidth, FLOPs / peak) / wave "
      "utilisation (K/V are read per query head in this two-level count).\n\n";
  Table t;
  t.columns = {"seqlen_k", "schedule", "splits", "thread_blocks", "hbm_bytes", "partial_bytes",
               "utilisation", "roofline_us"};
  for (int64_t nk = 4096; nk <= 1048576; nk *= 4) {
    p.seqlen_k = nk;
    const auto row = [&](const RunResult& r, const std::string& splits) {
      const Roofline rl = roofline(r, hw);
      const int64_t partial = r.read_bytes(TensorId::Oacc) + r.write_bytes(TensorId::Oacc) +
                              r.read_bytes(TensorId::LSEacc) + r.write_bytes(TensorId::LSEacc);
      t.add({integer(nk), schedule_name(r.desc.kind), splits, integer(r.work_units),
             integer(r.total_bytes()), integer(partial), fixed2(rl.utilisation), num(rl.time_s * 1e6)});
    };
    row(simulate(p, ScheduleKind::flash2, Direction::fwd, m), "-");
    for (int64_t s : {int64_t(1), int64_t(2), int64_t(4), int64_t(8), int64_t(16)}) {
      const RunResult r = simulate(p, ScheduleKind::splitkv, Direction::fwd, m, {0, 0, s});
      row(r, integer(r.desc.splits));
    }
    const RunResult d = simulate(p, ScheduleKind::splitkv, Direction::fwd, m);
    row(d, "default " + integer(d.desc.splits));
  }
  write_page(w, "splits.csv", "README.md", md, t);
  return "- [Decoding with split-KV](decode/README.md): more thread blocks for a decode step, "
         "at the price of the partial results' exact traffic.\n";
}

std::string paged_kv(const Writer& w) {
  const Hardware& hw = find_preset("h100");
  const int64_t m = hw.smem_per_block_bytes;
  const std::string md =
      "# Paged KV: what a page size costs\n\n"
      "One decode step (batch 1, 32 query heads, 8 KV heads, one query, N_k = 32769, bf16), split-KV "
      "with FlashAttention-2's split rule, H100 preset (M = " + std::to_string(m / 1024) + " KiB; Bc = 64). "
      "K and V live in pages of P rows (`flashcheck sim --page-size P --page-read sector|page`): "
      "`sector` reads the rows a tile needs, rounded to 32-byte sectors at page ends (a row gather); "
      "`page` moves every page a tile overlaps whole (one copy per page). Each tile also reads one "
      "4-byte block-table entry per page. `overhead` is the run's bytes over the contiguous run's. "
      "d = 8 (16-byte rows) shows sector rounding; at d 64 / 128 rows are whole sectors, so small "
      "pages cost only the block table, and pages larger than a tile cost P / Bc in `page` mode.\n\n";
  Table t;
  t.columns = {"head_dim", "page_rows", "read", "kv_bytes", "block_table_bytes", "total_bytes", "overhead"};
  for (int64_t d : {int64_t(8), int64_t(64), int64_t(128)}) {
    const Problem p = decode_step(32769, d);
    const Plan base = make_plan(p, ScheduleKind::splitkv, Direction::fwd, m);
    const RunResult flat = count(base);
    for (int64_t P : {int64_t(1), int64_t(4), int64_t(16), int64_t(64), int64_t(256), int64_t(1024)})
      for (const Paging::Read read : {Paging::Read::sector, Paging::Read::page}) {
        const RunResult r = count(with_paging(base, {P, read}));
        t.add({integer(d), integer(P), page_read_name(read),
               integer(r.read_bytes(TensorId::K) + r.read_bytes(TensorId::V)), integer(r.read_bytes(TensorId::PT)),
               integer(r.total_bytes()), fixed2(double(r.total_bytes()) / double(flat.total_bytes()))});
      }
  }
  write_page(w, "paged.csv", "paged.md", md, t);
  return "- [Paged KV](decode/paged.md): small pages cost block-table reads (and sector rounding for "
         "short rows); pages larger than a tile cost P / Bc when read whole.\n";
}

std::string varlen_batch(const Writer& w) {
  const Hardware& hw = find_preset("h100");
  const int64_t m = hw.smem_per_block_bytes;
  // A fixed mixed batch: a few long sequences among many short ones.
  const std::vector<int64_t> lengths = {8192, 4096, 3000, 2048, 1500, 1024, 700, 512,
                                        300,  256,  128,  100,  64,   50,   20,  7};
  std::string lens;
  for (int64_t l : lengths) lens += (lens.empty() ? "" : ",") + std::to_string(l);
  Problem p;
  p.heads_q = p.heads_kv = 16;
  p.head_dim = 128;
  p.dtype = DType::bf16;
  const std::string md =
      "# Varlen batches: packed against padded\n\n"
      "16 sequences of lengths " + lens + " (`flashcheck sim --varlen " + lens + "`), 16 heads, d 128, "
      "bf16, H100 preset (M = " + std::to_string(m / 1024) + " KiB). `packed` tiles each sequence on its "
      "own with the kernel's one tile size (FlashAttention's cu_seqlens); `padded` pads every sequence "
      "to the longest, 8192. Bytes are the two-level (SM-side) count; time the roofline estimate.\n\n";
  Table t;
  t.columns = {"mask", "schedule", "direction", "packed_bytes", "padded_bytes", "padded_over_packed",
               "packed_gflop", "padded_gflop", "packed_ms", "padded_ms"};
  for (const char* mask : {"none", "causal"}) {
    p.mask = parse_mask(mask);
    for (const ScheduleKind k : {ScheduleKind::standard, ScheduleKind::flash2})
      for (const Direction d : {Direction::fwd, Direction::bwd}) {
        const VarlenRun v = simulate_varlen(p, lengths, {}, k, d, m);
        t.add({mask, schedule_name(k), direction_name(d), integer(v.packed.total_bytes()),
               integer(v.padded.total_bytes()),
               fixed2(double(v.padded.total_bytes()) / double(v.packed.total_bytes())),
               num(double(v.packed.flops()) / 1e9), num(double(v.padded.flops()) / 1e9),
               num(roofline(v.packed, hw).time_s * 1e3), num(roofline(v.padded, hw).time_s * 1e3)});
      }
  }
  write_page(w, "varlen.csv", "varlen.md", md, t);
  return "- [Varlen batches](decode/varlen.md): a mixed batch packed moves a fraction of what "
         "padding to the longest sequence moves.\n";
}

}  // namespace flashcheck::report
