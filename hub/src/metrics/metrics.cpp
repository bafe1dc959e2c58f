#include "metrics/metrics.hpp"

#include <dirent.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

namespace muster::hub::metrics {
namespace {

void atomic_add(std::atomic<double>& target, double amount) {
  double seen = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(seen, seen + amount, std::memory_order_relaxed)) {
  }
}

std::string escape_label(const std::string& value) {
  std::string out;
  for (const char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

// The shortest text that reads back as the same double: 0.0025, not 0.0025000000000000001.
std::string number(double value) {
  char text[32];
  const auto end = std::to_chars(text, text + sizeof text, value).ptr;
  return std::string(text, end);
}

// `{a="1",b="2"}` with an extra label (le) when given; "" without labels.
std::string label_text(const Labels& labels, const std::string& extra_name = "", const std::string& extra_value = "") {
  std::string out;
  for (const auto& [name, value] : labels) out += (out.empty() ? "" : ",") + name + "=\"" + escape_label(value) + "\"";
  if (!extra_name.empty()) out += (out.empty() ? "" : ",") + extra_name + "=\"" + extra_value + "\"";
  return out.empty() ? "" : "{" + out + "}";
}

double clock_ticks() { return static_cast<double>(::sysconf(_SC_CLK_TCK)); }

}  // namespace

void Counter::add(double amount) { atomic_add(value_, amount); }
void Gauge::add(double amount) { atomic_add(value_, amount); }

void Histogram::observe(double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    if (seconds <= kBounds[i]) {
      ++buckets_[i];
      break;
    }
  }
  ++count_;
  sum_ += seconds;
}

Histogram::Snapshot Histogram::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Snapshot s;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < kBounds.size(); ++i) s.cumulative[i] = running += buckets_[i];
  s.count = count_;
  s.sum = sum_;
  return s;
}

Registry::Family& Registry::family(const std::string& name, const std::string& help, Kind kind) {
  auto [it, added] = families_.try_emplace(name, Family{kind, help, {}, {}, {}});
  if (!added && it->second.kind != kind) throw std::logic_error("metric " + name + " registered as two kinds");
  return it->second;
}

Counter& Registry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& slot = family(name, help, Kind::counter).counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& slot = family(name, help, Kind::gauge).gauges[labels];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& slot = family(name, help, Kind::histogram).histograms[labels];
  if (!slot) slot = std::make_unique<Histogram>();
  return *slot;
}

std::string Registry::render() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::ostringstream out;
  for (const auto& [name, f] : families_) {
    static const char* kKinds[] = {"counter", "gauge", "histogram"};
    out << "# HELP " << name << ' ' << f.help << "\n# TYPE " << name << ' ' << kKinds[static_cast<int>(f.kind)]
        << '\n';
    for (const auto& [labels, c] : f.counters) out << name << label_text(labels) << ' ' << number(c->value()) << '\n';
    for (const auto& [labels, g] : f.gauges) out << name << label_text(labels) << ' ' << number(g->value()) << '\n';
    for (const auto& [labels, h] : f.histograms) {
      const auto s = h->snapshot();
      for (std::size_t i = 0; i < Histogram::kBounds.size(); ++i) {
        out << name << "_bucket" << label_text(labels, "le", number(Histogram::kBounds[i])) << ' ' << s.cumulative[i]
            << '\n';
      }
      out << name << "_bucket" << label_text(labels, "le", "+Inf") << ' ' << s.count << '\n';
      out << name << "_sum" << label_text(labels) << ' ' << number(s.sum) << '\n';
      out << name << "_count" << label_text(labels) << ' ' << s.count << '\n';
    }
  }
  return out.str();
}

Registry& registry() {
  static Registry the_registry;
  return the_registry;
}

void update_process_metrics(Registry& r) {
  // /proc/self/stat: fields 14 and 15 are user and system time in clock
  // ticks, 22 the start time in ticks after boot, 24 the resident pages.
  std::ifstream stat_file("/proc/self/stat");
  const std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));  // after the command name
  std::vector<std::string> f((std::istream_iterator<std::string>(fields)), std::istream_iterator<std::string>());
  if (f.size() < 22) return;
  const double ticks = clock_ticks();
  r.counter("process_cpu_seconds_total", "User and system CPU time of the process, in seconds")
      .set_total((std::stod(f[11]) + std::stod(f[12])) / ticks);
  r.gauge("process_resident_memory_bytes", "Resident memory of the process, in bytes")
      .set(std::stod(f[21]) * static_cast<double>(::sysconf(_SC_PAGESIZE)));
  std::ifstream uptime_file("/proc/uptime");
  double uptime = 0;
  uptime_file >> uptime;
  const double boot = static_cast<double>(::time(nullptr)) - uptime;
  r.gauge("process_start_time_seconds", "When the process started, in seconds since the epoch")
      .set(boot + std::stod(f[19]) / ticks);
  int open = 0;
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (const dirent* e = ::readdir(dir)) open += e->d_name[0] != '.';
    ::closedir(dir);
    --open;  // the directory's own descriptor
  }
  r.gauge("process_open_fds", "Open file descriptors of the process").set(open);
}

}  // namespace muster::hub::metrics
