// `flashcheck bench`: forward TFLOP/s of the registered kernel variants on
// the FlashAttention benchmark grid (shared/ANCHORS.md): batch x seqlen =
// --tokens, heads = --hidden / d, head dims 64 and 128, causal and not,
// seqlen 512 ... 16384; CSV with device, date and commit on every row.
// The backward grid adds GQA/MQA rows: each point again with heads_kv in
// --gqa-heads-kv (8 and 1: at d 64 that is Hq 32 with Hkv 8 and 1), column
// heads_kv.
// `--memory` instead reports each variant's extra device memory for one
// forward (N 4096, d 64, 16 heads by default).
#include <chrono>
#include <optional>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.hpp"
#include "kernels/bench.hpp"
#include "sim/hardware.hpp"
#include "sim/simulate.hpp"

namespace flashcheck::cli {
namespace {

struct BenchCmdOptions {
  std::vector<std::string> variants;  // empty: every forward variant
  std::string dtype = "bf16";
  std::vector<int> head_dims = {64, 128};
  std::vector<int64_t> seqlens = {512, 1024, 2048, 4096, 8192, 16384};
  std::vector<std::string> masks = {"none", "causal"};
  int64_t tokens = 16384;
  int64_t hidden = 2048;
  std::vector<int64_t> gqa_heads_kv = {8, 1};  // backward: extra rows with these KV heads
  int warmup = 3;
  int repeats = 10;
  std::string l2_flush = "write";  // kernels::L2Flush by name
  bool memory = false;
  bool backward = false;
  bool deterministic = false;
  std::optional<double> softcap;  // every problem with this softcap
  bool alibi = false;             // every problem with ALiBi (FlashAttention's slopes)
  bool varlen = false;            // every problem a packed batch of mixed lengths (varlen_lens)
  std::string csv;
  std::string commit;
};

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string csv_field(const std::string& s) {
  return s.find(',') == std::string::npos ? s : "\"" + s + "\"";
}

std::vector<const kernels::Variant*> chosen(const BenchCmdOptions& o) {
  std::vector<const kernels::Variant*> out;
  const auto dir = o.backward ? kernels::Direction::bwd : kernels::Direction::fwd;
  if (o.variants.empty()) {
    for (const auto& v : kernels::registry())
      if (v.direction == dir) out.push_back(&v);
  } else {
    for (const auto& n : o.variants) out.push_back(&kernels::find_variant(n));
  }
  return out;
}

// heads_kv 0: as many KV heads as query heads.
Problem grid_problem(const BenchCmdOptions& o, int d, int64_t n, const std::string& m,
                     int64_t heads_kv = 0) {
  Problem p;
  p.head_dim = d;
  p.heads_q = o.hidden / d;
  p.heads_kv = heads_kv > 0 ? heads_kv : p.heads_q;
  p.seqlen_q = p.seqlen_k = n;
  p.batch = std::max<int64_t>(1, o.tokens / n);
  p.mask = parse_mask(m);
  p.dtype = parse_dtype(o.dtype);
  p.variants.softcap = o.softcap;
  p.variants.alibi = o.alibi;
  p.variants.varlen = o.varlen;
  p.validate();
  return p;
}

// --varlen: the batch's B sequences (self-attention, q = k) spread from N
// down to about N / 2, off the tile multiples (b odd: 37 shorter), so a
// packed batch holds about 3/4 of the padded tokens.
kernels::SeqLens varlen_lens(const Problem& p) {
  kernels::SeqLens l;
  if (!p.variants.varlen) return l;
  const int64_t n = p.seqlen_q, b_count = p.batch;
  for (int64_t b = 0; b < b_count; ++b) {
    const int64_t len = std::max<int64_t>(1, n - b * n / (2 * b_count) - (b % 2 ? 37 : 0));
    l.q.push_back(len);
    l.k.push_back(len);
  }
  return l;
}

// The CSV's variant column: the kernel, plus the attention variants its
// rows ran with ("flash2_fwd+softcap", "flash2_bwd+alibi").
std::string row_name(const kernels::Variant& v, const BenchCmdOptions& o) {
  return std::string(v.name) + (o.softcap ? "+softcap" : "") + (o.alibi ? "+alibi" : "") +
         (o.varlen ? "+varlen" : "");
}

void run_backward_bench(const BenchCmdOptions& o, std::ostream& csv, const std::string& prefix) {
  csv << "device,date,commit,variant,dtype,head_dim,seqlen,batch,heads,mask,schedule,"
         "deterministic,bwd_median_ms,bwd_tflops,fwd_bwd_ms,fwd_bwd_tflops,heads_kv\n";
  kernels::BenchOptions bo{o.warmup, o.repeats, kernels::parse_l2_flush(o.l2_flush)};
  std::vector<int64_t> kv_heads = {0};  // 0: MHA, then the GQA/MQA rows
  for (int64_t h : o.gqa_heads_kv)
    if (h > 0) kv_heads.push_back(h);  // --gqa-heads-kv 0: MHA rows only
  for (const auto* v : chosen(o))
    for (int64_t hkv : kv_heads)
      for (int d : o.head_dims)
        for (const std::string& m : o.masks)
          for (int64_t n : o.seqlens) {
            const int64_t hq = o.hidden / d;
            if (hkv > 0 && (hkv >= hq || hq % hkv != 0)) continue;
            const Problem p = grid_problem(o, d, n, m, hkv);
            const kernels::Variant& f = kernels::paired_forward(*v);
            if (!v->supports(p) || !f.supports(p)) continue;
            const kernels::BackwardBenchResult r =
                kernels::bench_backward(f, *v, p, bo, o.deterministic, varlen_lens(p));
            csv << prefix << row_name(*v, o) << "," << o.dtype << "," << d << "," << n << "," << p.batch << ","
                << p.heads_q << "," << m << "," << csv_field(kernels::describe_schedule(v->schedule(p)))
                << "," << o.deterministic << "," << r.bwd.median_ms << "," << r.bwd.tflops << ","
                << r.fwd_bwd_ms << "," << r.fwd_bwd_tflops << "," << p.heads_kv << "\n";
            csv.flush();
            std::cerr << v->name << " d=" << d << " N=" << n << " Hq=" << p.heads_q << " Hkv="
                      << p.heads_kv << " mask=" << m << ": bwd "
                      << r.bwd.median_ms << " ms " << r.bwd.tflops << " TFLOP/s, fwd+bwd "
                      << r.fwd_bwd_tflops << " TFLOP/s\n";
          }
}

void run_bench(const BenchCmdOptions& o) {
  const std::string device = kernels::device_description(), date = utc_now();
  const std::string commit = o.commit.empty() ? "unknown" : o.commit;
  std::ofstream file;
  if (!o.csv.empty()) {
    file.open(o.csv);
    if (!file) throw std::runtime_error("cannot write " + o.csv);
  }
  std::ostream& csv = o.csv.empty() ? std::cout : file;
  const std::string prefix = csv_field(device) + "," + date + "," + commit + ",";

  if (o.memory) {
    // Forward: beyond Q, K, V, O. Backward: beyond Q, K, V, O, dO, LSE, dQ, dK, dV.
    csv << "device,date,commit,variant,problem,declared_extra_bytes,measured_extra_bytes\n";
    for (const auto* v : chosen(o)) {
      Problem p;
      p.batch = 1;
      p.heads_q = p.heads_kv = 16;
      p.seqlen_q = p.seqlen_k = 4096;
      p.head_dim = 64;
      p.dtype = parse_dtype(o.dtype);
      if (!v->supports(p) || (o.backward && !kernels::paired_forward(*v).supports(p))) continue;
      const kernels::MemoryResult m = o.backward ? kernels::measure_extra_memory_backward(*v, p)
                                                 : kernels::measure_extra_memory(*v, p);
      csv << prefix << v->name << "," << csv_field(p.describe()) << "," << m.declared_bytes << ","
          << m.measured_bytes << "\n";
      std::cerr << v->name << ": extra " << m.declared_bytes / 1048576.0 << " MiB declared, "
                << m.measured_bytes / 1048576.0 << " MiB measured\n";
    }
    return;
  }

  if (o.backward) {
    run_backward_bench(o, csv, prefix);
    return;
  }
  csv << "device,date,commit,variant,dtype,head_dim,seqlen,batch,heads,mask,schedule,median_ms,"
         "min_ms,tflops,sim_hbm_bytes,sim_bytes_per_s\n";
  const int64_t sram = sim::find_preset("h100").smem_per_block_bytes;
  kernels::BenchOptions bo{o.warmup, o.repeats, kernels::parse_l2_flush(o.l2_flush)};
  for (const auto* v : chosen(o))
    for (int d : o.head_dims)
      for (const std::string& m : o.masks)
        for (int64_t n : o.seqlens) {
          const Problem p = grid_problem(o, d, n, m);
          const kernels::Support s = v->supports(p);
          if (!s) {
            std::cerr << v->name << ": skipped " << p.describe() << ": " << s.reason << "\n";
            continue;
          }
          const kernels::BenchResult r = kernels::bench_forward(*v, p, bo, varlen_lens(p));
          // The simulator's HBM traffic for the schedule the variant declares
          // (its own Br, Bc), and the bandwidth that traffic implies at the
          // measured time.
          const kernels::ScheduleDesc desc = v->schedule(p);
          const double bytes = static_cast<double>(
              sim::simulate(p, desc.kind, desc.direction, sram, {desc.Br, desc.Bc}).total_bytes());
          csv << prefix << row_name(*v, o) << "," << o.dtype << "," << d << "," << n << "," << p.batch
              << "," << p.heads_q << "," << m << "," << csv_field(kernels::describe_schedule(desc))
              << "," << r.median_ms << "," << r.min_ms << "," << r.tflops << "," << bytes << ","
              << bytes / (r.median_ms * 1e-3) << "\n";
          csv.flush();
          std::cerr << v->name << " d=" << d << " N=" << n << " mask=" << m << ": "
                    << r.median_ms << " ms, " << r.tflops << " TFLOP/s\n";
        }
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchCmdOptions>();
  auto* b = app.add_subcommand(
      "bench", "time the CUDA kernel variants (forward TFLOP/s, FlashAttention convention)");
  b->add_option("--variant", o->variants, "variants to time (default: every forward variant)");
  b->add_option("--dtype", o->dtype, "f16, bf16 or f32")->capture_default_str();
  b->add_option("--head-dims", o->head_dims, "head dims")->capture_default_str();
  b->add_option("--seqlens", o->seqlens, "sequence lengths")->capture_default_str();
  b->add_option("--masks", o->masks, "masks (none, causal, causal_bottom_right, window:L:R)")
      ->capture_default_str();
  b->add_option("--tokens", o->tokens, "batch x seqlen")->capture_default_str();
  b->add_option("--hidden", o->hidden, "heads x head_dim")->capture_default_str();
  b->add_option("--gqa-heads-kv", o->gqa_heads_kv,
                "backward: each point again with these KV heads (those dividing heads_q)")
      ->capture_default_str();
  b->add_option("--warmup", o->warmup, "untimed runs first")->capture_default_str();
  b->add_option("--repeats", o->repeats, "timed runs (median reported)")->capture_default_str();
  b->add_option("--l2-flush", o->l2_flush,
                "clear L2 around each timed run: write (a memset before it), read (a read-only drain "
                "of 4x the L2 before and after it, so the run's dirty lines are written back in the "
                "drain after it), off")
      ->capture_default_str()
      ->check([](const std::string& s) {
        try {
          kernels::parse_l2_flush(s);
          return std::string();
        } catch (const std::invalid_argument& e) {
          return std::string(e.what());
        }
      });
  b->add_flag("--memory", o->memory,
              "report extra device memory of one forward (N 4096, d 64, 16 heads) instead "
              "(with --backward: of one backward)");
  b->add_flag("--backward", o->backward,
              "time the backward variants (backward alone and forward + backward) instead");
  b->add_flag("--deterministic", o->deterministic, "backward in deterministic mode");
  b->add_option("--softcap", o->softcap, "run every problem with this softcap (cap tanh(s / cap))");
  b->add_flag("--varlen", o->varlen,
              "run every problem as a packed batch (cu_seqlens) of mixed lengths, N down to about "
              "N / 2 (TFLOP/s from the real lengths)");
  b->add_flag("--alibi", o->alibi,
              "run every problem with ALiBi (slopes 2^(-8 (h + 1) / heads), bottom-right aligned)");
  b->add_option("--csv", o->csv, "write CSV here (default: stdout)");
  b->add_option("--commit", o->commit, "commit recorded in the CSV (scripts pass git's)");
  b->callback([o] { run_bench(*o); });
}

}  // namespace flashcheck::cli
