// Reading the fidelity measurements (see fidelity_data.hpp).
#include "cli/report/fidelity_data.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "cli/report/csv_reader.hpp"

namespace flashcheck::report {
namespace {

// ncu --csv rows (quoted fields); the header and anything ncu or the drivers printed are skipped.
std::vector<std::vector<std::string>> ncu_rows(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<std::vector<std::string>> out;
  std::string line;
  bool header = true;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] != '"') continue;
    std::vector<std::string> f;
    std::string cur;
    bool q = false;
    for (char c : line) {
      if (c == '"') q = !q;
      else if (c == ',' && !q) f.push_back(cur), cur.clear();
      else cur += c;
    }
    f.push_back(cur);
    if (header) { header = false; continue; }
    if (f.size() >= 15) out.push_back(f);
  }
  return out;
}
double metric_value(std::string s) {
  s.erase(std::remove(s.begin(), s.end(), ','), s.end());
  return std::stod(s);
}
// One kernel launch: metric name -> value; kernels in launch order (ID).
struct Launch1 {
  std::string pid, name, grid;
  std::map<std::string, double> m;
};
std::vector<Launch1> launches(const std::string& path) {
  std::vector<Launch1> out;
  std::string last_id, last_pid;
  for (const auto& f : ncu_rows(path)) {
    // A new launch: a new ID, or the same ID in the next process (IDs restart in each).
    if (f[0] != last_id || f[1] != last_pid) out.push_back({f[1], f[4], f[8], {}}), last_id = f[0], last_pid = f[1];
    out.back().m[f[12]] = metric_value(f[14]);
  }
  return out;
}
void add(Measured& x, const Launch1& l) {
  // SM-side reads are what the crossbar delivers to the SMs; the L2 slice counter misses the
  // sectors served across the partition fabric, so it is kept only as a column beside it.
  const auto xbar = l.m.find("l1tex__m_xbar2l1tex_read_bytes.sum");
  if (xbar == l.m.end())
    throw std::runtime_error("fidelity: ncu CSV lacks l1tex__m_xbar2l1tex_read_bytes.sum (kernel " + l.name +
                             "); measure with sim/fidelity/ncu_measure.sh");
  x.dram_read += l.m.at("dram__bytes_read.sum");
  x.dram_write += l.m.at("dram__bytes_write.sum");
  x.l2_read += xbar->second;
  x.lts_read += 32 * l.m.at("lts__t_sectors_srcunit_tex_op_read.sum");
  const auto fab = l.m.find("lts__t_sectors_srcunit_ltcfabric.sum");
  if (fab != l.m.end()) x.fabric += 32 * fab->second;
  x.l2_write += 32 * l.m.at("lts__t_sectors_srcunit_tex_op_write.sum");
  x.l2_red += 32 * l.m.at("lts__t_sectors_srcunit_tex_op_red.sum");
}

// The cases of one measurement folder (its cases.txt, in the order the drivers ran them).
std::vector<FidelityCase> read_cases(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<FidelityCase> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream s(line);
    FidelityCase c;
    s >> c.id >> c.b >> c.hq >> c.hkv >> c.n >> c.d >> c.mask >> c.half;
    cases.push_back(c);
  }
  return cases;
}
// The lines of a folder's device.txt (none if it is absent).
std::vector<std::string> device_lines(const std::string& dir) {
  std::vector<std::string> out;
  std::ifstream in(dir + "/device.txt");
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}
// The folders under `parent`, sorted (none if it is absent): measurement passes.
std::vector<std::string> subdirs(const std::filesystem::path& parent) {
  std::vector<std::string> out;
  if (!std::filesystem::is_directory(parent)) return out;
  for (const auto& e : std::filesystem::directory_iterator(parent))
    if (e.is_directory()) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}
FidelityPass pass_of(const std::string& dir) {
  FidelityPass p{std::filesystem::path(dir).filename().string(), device_lines(dir), {}};
  for (const FidelityCase& c : read_cases(dir + "/cases.txt")) p.case_ids.push_back(c.id);
  return p;
}
// Adds one measurement folder's samples (ncu_flashcheck.csv, ncu_sdpa.csv) to `got`.
void collect_samples(const std::string& dir, std::map<CaseKernel, Samples>& got) {
  const std::vector<FidelityCase> cases = read_cases(dir + "/cases.txt");
  // flashcheck: one process per (case, direction), in cases.txt order (GQA cases skipped).
  {
    std::vector<std::string> pids;
    // pid -> kernel -> its first launch: later launches in one process read less from DRAM than
    // their own inputs' size (reports/fidelity), which a flushed L2 cannot give, so they are not samples.
    std::map<std::string, std::map<std::string, const Launch1*>> first;
    const auto ls = launches(dir + "/ncu_flashcheck.csv");
    for (const auto& l : ls) {
      if (std::find(pids.begin(), pids.end(), l.pid) == pids.end()) pids.push_back(l.pid);
      first[l.pid].emplace(l.name.substr(0, l.name.find('<')), &l);
    }
    size_t k = 0;
    for (const FidelityCase& c : cases) {
      if (c.hq != c.hkv) continue;
      for (const char* dirn : {"fwd", "bwd"}) {
        if (k >= pids.size()) break;
        Measured fwd, bwd;
        for (const auto& [name, l] : first[pids[k]])
          add(name.find("flash2_fwd") != std::string::npos ? fwd : bwd, *l);
        // The backward process runs the forward first: a second sample of it.
        if (fwd.l2_read > 0) got[{c.id, "flash2_fwd"}].push_back(fwd);
        if (std::string(dirn) == "bwd") got[{c.id, "flash2_bwd"}].push_back(bwd);
        ++k;
      }
    }
  }
  {
    const auto ls = launches(dir + "/ncu_sdpa.csv");
    int64_t current = -1;
    std::map<CaseKernel, Measured> one;
    for (const auto& l : ls) {
      if (l.name == "fc_case_marker") {
        current = std::stoll(l.grid.substr(1)) - 1;
        continue;
      }
      if (current < 0 || current >= static_cast<int64_t>(cases.size())) continue;
      const bool is_fwd = l.name.find("flash_fwd_kernel") != std::string::npos;
      add(one[{cases[static_cast<size_t>(current)].id, is_fwd ? "torch_flash_fwd" : "torch_flash_bwd"}], l);
    }
    for (const auto& [key, m] : one) got[key].push_back(m);
  }
}

// Eventual DRAM writes of PyTorch's kernels (writeback/<pass>/ncu_sdpa_wb.csv, sdpa_writeback.py):
// after a case's marker come the forward, a read-only flush, the backward's kernels, a flush. A
// kernel's eventual writes are its own dram__bytes_write plus the next flush's (its lines dirty at
// the end).
void collect_sdpa_writeback(const std::string& pass, const std::vector<FidelityCase>& cases,
                            std::map<CaseKernel, std::vector<double>>& got) {
  int64_t current = -1;
  int flushes = 0;
  double acc = 0;
  for (const auto& l : launches(pass + "/ncu_sdpa_wb.csv")) {
    if (l.name == "fc_case_marker") {
      current = std::stoll(l.grid.substr(1)) - 1, flushes = 0, acc = 0;
      continue;
    }
    if (current < 0 || current >= static_cast<int64_t>(cases.size()) || flushes >= 2) continue;
    acc += l.m.at("dram__bytes_write.sum");
    if (l.name != "fc_l2_flush") continue;
    got[{cases[static_cast<size_t>(current)].id, flushes == 0 ? "torch_flash_fwd" : "torch_flash_bwd"}].push_back(acc);
    ++flushes, acc = 0;
  }
}

// Which case each profiled process ran: the driver echoes "CASE <id>" before each process and
// ncu then prints "==PROF== Connected to process <pid>" (ncu_writeback.sh).
std::map<std::string, std::string> case_of_pid(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::map<std::string, std::string> out;
  std::string line, pending;
  const std::string connected = "==PROF== Connected to process ";
  while (std::getline(in, line)) {
    if (line.rfind("CASE ", 0) == 0) {
      std::istringstream(line.substr(5)) >> pending;
    } else if (line.rfind(connected, 0) == 0) {
      std::string pid;
      std::istringstream(line.substr(connected.size())) >> pid;
      if (pending.empty()) throw std::runtime_error(path + ": process " + pid + " started with no CASE line before it");
      out[pid] = pending;
      pending.clear();
    }
  }
  return out;
}

// Eventual DRAM writes of flashcheck's kernels (writeback/<pass>/ncu_flashcheck_wb.csv: one
// `flashcheck bench --backward --l2-flush read` process per case). In each process the timed
// calls sit between drains (fc_l2_flush): drain, forward, drain, drain, the backward's kernels,
// drain. A call's eventual writes are its kernels' dram__bytes_write plus the drain right after
// them; a drain with no kernel before it (the one ahead of each call) counts for nothing.
void collect_flashcheck_writeback(const std::string& pass, const std::vector<FidelityCase>& cases,
                                  std::map<CaseKernel, std::vector<double>>& got, std::vector<double>& idle,
                                  std::vector<double>& after_kernels) {
  const std::string path = pass + "/ncu_flashcheck_wb.csv";
  const std::map<std::string, std::string> case_of = case_of_pid(path);
  struct Open {
    double acc = 0;
    bool fwd = false, bwd = false;  // kernels of each direction since the last drain
    bool drained = false;           // a drain has run in this process
  };
  std::map<std::string, Open> open;  // pid -> the call in progress
  for (const auto& l : launches(path)) {
    const auto id = case_of.find(l.pid);
    if (id == case_of.end()) throw std::runtime_error(path + ": process " + l.pid + " has no CASE line");
    if (std::none_of(cases.begin(), cases.end(), [&](const FidelityCase& c) { return c.id == id->second; }))
      throw std::runtime_error(path + ": case " + id->second + " is not in " + pass + "/cases.txt");
    Open& o = open[l.pid];
    const double w = l.m.at("dram__bytes_write.sum");
    o.acc += w;
    if (l.name.rfind("fc_l2_flush", 0) != 0) {  // C linkage: the plain name, no signature
      (l.name.find("flash2_fwd") != std::string::npos ? o.fwd : o.bwd) = true;
      continue;
    }
    if (o.fwd && o.bwd)
      throw std::runtime_error(path + ": process " + l.pid + " ran forward and backward kernels with no drain between");
    if (o.fwd || o.bwd) {
      got[{id->second, o.fwd ? "flash2_fwd" : "flash2_bwd"}].push_back(o.acc);
      after_kernels.push_back(w);
    } else if (o.drained) {
      idle.push_back(w);
    }
    o = Open{};
    o.drained = true;
  }
}

// The sweep names of a probe folder: plan_<sweep>.csv beside ncu_<sweep>.csv.
std::vector<std::string> sweeps_of(const std::string& pass) {
  std::vector<std::string> plans;
  for (const auto& e : std::filesystem::directory_iterator(pass)) {
    const std::string f = e.path().filename().string();
    if (f.rfind("plan_", 0) == 0 && e.path().extension() == ".csv") plans.push_back(f.substr(5, f.size() - 9));
  }
  std::sort(plans.begin(), plans.end());
  if (plans.empty()) throw std::runtime_error(pass + " holds no plan_*.csv");
  return plans;
}

// The L2 probe's sweeps in one pass folder: plan_<sweep>.csv (the probe's own launch list)
// beside ncu_<sweep>.csv (one launch per plan row, in order).
void collect_probe(const std::string& pass, std::vector<ProbePoint>& got) {
  const std::string name = std::filesystem::path(pass).filename().string();
  for (const std::string& sweep : sweeps_of(pass)) {
    const std::vector<CsvRow> plan = read_csv(pass + "/plan_" + sweep + ".csv");
    const std::vector<Launch1> ls = launches(pass + "/ncu_" + sweep + ".csv");
    if (ls.size() != plan.size())
      throw std::runtime_error(pass + "/ncu_" + sweep + ".csv: " + std::to_string(ls.size()) + " launches for " +
                               std::to_string(plan.size()) + " in its plan");
    for (size_t i = 0; i < plan.size(); ++i) {
      const CsvRow& r = plan[i];
      if (ls[i].name != "fc_l2_cycle") throw std::runtime_error(pass + "/ncu_" + sweep + ".csv: launch " + std::to_string(i) + " is " + ls[i].name);
      ProbePoint pt;
      pt.pass = name;
      pt.mode = r.at("mode");
      pt.per_sm = std::stoll(r.at("ctas_per_sm"));
      pt.waves = std::stoll(r.at("waves"));
      const double read = std::stod(r.at("read_bytes")), red = std::stod(r.at("atomic_bytes"));
      const double l2 = std::stod(r.at("l2_bytes")), once = read + red;
      if (pt.waves < 2 || !(once > 0) || !(l2 > 0)) throw std::runtime_error(pass + "/plan_" + sweep + ".csv: bad row " + std::to_string(i));
      pt.x = (read + red / 2) / (l2 / 2);
      pt.miss = (ls[i].m.at("dram__bytes_read.sum") - once) / (static_cast<double>(pt.waves - 1) * once);
      got.push_back(pt);
    }
  }
}

// The spill probe's sweeps: per process a first drain, then each launch followed by a drain.
void collect_spill(const std::string& pass, std::vector<SpillPoint>& got) {
  const std::string name = std::filesystem::path(pass).filename().string();
  for (const std::string& sweep : sweeps_of(pass)) {
    const std::string where = pass + "/ncu_" + sweep + ".csv";
    const std::vector<CsvRow> plan = read_csv(pass + "/plan_" + sweep + ".csv");
    const std::vector<Launch1> ls = launches(where);
    if (ls.size() != 1 + 2 * plan.size())
      throw std::runtime_error(where + ": " + std::to_string(ls.size()) + " launches for " + std::to_string(plan.size()) +
                               " in its plan (expected a drain, then each launch and its drain)");
    const auto is = [&](size_t i, const char* kernel) {
      if (ls[i].name.find(kernel) == std::string::npos)
        throw std::runtime_error(where + ": launch " + std::to_string(i) + " is " + ls[i].name + ", expected " + kernel);
    };
    is(0, "fc_l2_flush");
    for (size_t k = 0; k < plan.size(); ++k) {
      is(1 + 2 * k, "fc_spill_cycle");
      is(2 + 2 * k, "fc_l2_flush");
      const CsvRow& r = plan[k];
      SpillPoint pt;
      pt.pass = name;
      pt.sweep = sweep;
      pt.frame_bytes = std::stoll(r.at("frame_bytes_per_thread"));
      pt.threads = std::stoll(r.at("threads_per_cta"));
      pt.ctas_per_sm = std::stoll(r.at("ctas_per_sm"));
      pt.waves = std::stoll(r.at("waves"));
      pt.grid = std::stoll(r.at("grid"));
      pt.sms = std::stoll(r.at("sms"));
      pt.fill_over_l2 = std::stod(r.at("fill_over_l2"));
      pt.in_kernel_writes = ls[1 + 2 * k].m.at("dram__bytes_write.sum");
      pt.end_writes = ls[2 + 2 * k].m.at("dram__bytes_write.sum");
      got.push_back(pt);
    }
  }
}

}  // namespace

FidelityData read_fidelity(const std::string& dir) {
  FidelityData d;
  d.cases = read_cases(dir + "/cases.txt");
  d.device = device_lines(dir);
  collect_samples(dir, d.samples);
  // Repeated measurements of some cases (reps/<name>/, each with its own cases.txt): more samples.
  for (const std::string& rep : subdirs(std::filesystem::path(dir) / "reps")) {
    collect_samples(rep, d.samples);
    d.reps.push_back(pass_of(rep));
  }
  // Write-back passes (writeback/<name>/): PyTorch's kernels, flashcheck's, or both.
  for (const std::string& pass : subdirs(std::filesystem::path(dir) / "writeback")) {
    const std::vector<FidelityCase> cases = read_cases(pass + "/cases.txt");
    const bool sdpa = std::filesystem::exists(pass + "/ncu_sdpa_wb.csv");
    const bool fc = std::filesystem::exists(pass + "/ncu_flashcheck_wb.csv");
    if (!sdpa && !fc) throw std::runtime_error(pass + " holds neither ncu_sdpa_wb.csv nor ncu_flashcheck_wb.csv");
    if (sdpa) collect_sdpa_writeback(pass, cases, d.eventual);
    if (fc) collect_flashcheck_writeback(pass, cases, d.eventual, d.idle_drain_writes, d.kernel_drain_writes);
    d.writeback.push_back(pass_of(pass));
  }
  // The L2 probe (l2probe/<name>/): the reuse curve the H200 preset carries.
  for (const std::string& pass : subdirs(std::filesystem::path(dir) / "l2probe")) {
    collect_probe(pass, d.probe);
    d.probe_passes.push_back({std::filesystem::path(pass).filename().string(), device_lines(pass), {}});
  }
  // The spill probe (spillprobe/<name>/): what L2 does with stack frames.
  for (const std::string& pass : subdirs(std::filesystem::path(dir) / "spillprobe")) {
    collect_spill(pass, d.spill);
    d.spill_passes.push_back({std::filesystem::path(pass).filename().string(), device_lines(pass), {}});
  }
  return d;
}

}  // namespace flashcheck::report
