#include "veil/proxy/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace veil::proxy {
namespace {

bool is_name_start(char c, bool allow_colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
}

bool is_valid_name(std::string_view name, bool allow_colon) {
  if (name.empty() || !is_name_start(name.front(), allow_colon)) return false;
  return std::all_of(name.begin() + 1, name.end(), [&](char c) {
    return is_name_start(c, allow_colon) || (c >= '0' && c <= '9');
  });
}

void check_names(const std::string& name, const std::vector<std::string>& label_names) {
  if (!is_valid_name(name, true)) {
    throw std::invalid_argument("metrics: invalid metric name '" + name + "'");
  }
  for (const auto& label : label_names) {
    if (!is_valid_name(label, false) || label.starts_with("__") || label == "le") {
      throw std::invalid_argument("metrics: invalid label name '" + label + "' in " + name);
    }
  }
}

void append_number(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    char buffer[32];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    out.append(buffer, result.ptr);
  }
}

template <class Integer>
void append_integer(std::string& out, Integer value) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

// HELP text escapes backslash and newline; label values also escape the double quote.
void append_escaped(std::string& out, std::string_view text, bool is_label_value) {
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && is_label_value) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// `{a="x",b="y"` plus an optional `le` label, then `}`; nothing when there are no labels at all.
void append_labels(std::string& out, const std::vector<std::string>& names,
                   const std::vector<std::string>& values, std::string_view le = {}) {
  if (names.empty() && le.empty()) return;
  out += '{';
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    append_escaped(out, values[i], true);
    out += '"';
  }
  if (!le.empty()) {
    if (!names.empty()) out += ',';
    out += "le=\"";
    out += le;
    out += '"';
  }
  out += '}';
}

std::string_view type_name(MetricType type) {
  switch (type) {
    case MetricType::counter:
      return "counter";
    case MetricType::gauge:
      return "gauge";
    case MetricType::histogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

const Buckets& latency_buckets_seconds() {
  static const Buckets buckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                               0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  return buckets;
}

Histogram::Histogram(std::span<const double> upper_bounds)
    : bounds_(upper_bounds.begin(), upper_bounds.end()),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
      std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end() ||
      std::any_of(bounds_.begin(), bounds_.end(), [](double b) { return !std::isfinite(b); })) {
    throw std::invalid_argument("metrics: histogram bounds must be finite and strictly ascending");
  }
}

void Histogram::observe(double value) noexcept {
  if (std::isnan(value)) return;  // would poison the sum forever
  const auto bucket = static_cast<std::size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snapshot;
  snapshot.cumulative.reserve(bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    snapshot.cumulative.push_back(running);
  }
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

template <class Metric>
Family<Metric>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                       Buckets buckets)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      buckets_(std::move(buckets)) {}

template <class Metric>
Metric& Family<Metric>::with(std::initializer_list<std::string_view> label_values) {
  return with(std::span<const std::string_view>(label_values.begin(), label_values.size()));
}

template <class Metric>
Metric& Family<Metric>::with(std::span<const std::string_view> label_values) {
  if (label_values.size() != label_names_.size()) {
    throw std::invalid_argument("metrics: " + name_ + " takes " +
                                std::to_string(label_names_.size()) + " label values, got " +
                                std::to_string(label_values.size()));
  }
  const std::lock_guard lock(mutex_);
  for (auto& series : series_) {
    if (std::equal(series.label_values.begin(), series.label_values.end(), label_values.begin())) {
      return series.metric;
    }
  }
  std::vector<std::string> values(label_values.begin(), label_values.end());
  if constexpr (std::is_same_v<Metric, Histogram>) {
    return series_.emplace_back(std::move(values), std::span<const double>(buckets_)).metric;
  } else {
    return series_.emplace_back(std::move(values)).metric;
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

struct MetricsRegistry::Entry {
  MetricType type;
  std::unique_ptr<Family<Counter>> counters;
  std::unique_ptr<Family<Gauge>> gauges;
  std::unique_ptr<Family<Histogram>> histograms;

  const std::string& name() const {
    return counters ? counters->name() : gauges ? gauges->name() : histograms->name();
  }
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

void MetricsRegistry::add(std::unique_ptr<Entry> entry) {
  const std::lock_guard lock(mutex_);
  for (const auto& existing : entries_) {
    if (existing->name() == entry->name()) {
      throw std::invalid_argument("metrics: " + entry->name() + " is registered twice");
    }
  }
  entries_.push_back(std::move(entry));
}

Family<Counter>& MetricsRegistry::counter_family(std::string name, std::string help,
                                                 std::vector<std::string> label_names) {
  check_names(name, label_names);
  auto entry = std::make_unique<Entry>();
  entry->type = MetricType::counter;
  entry->counters.reset(
      new Family<Counter>(std::move(name), std::move(help), std::move(label_names), {}));
  auto& family = *entry->counters;
  add(std::move(entry));
  return family;
}

Family<Gauge>& MetricsRegistry::gauge_family(std::string name, std::string help,
                                             std::vector<std::string> label_names) {
  check_names(name, label_names);
  auto entry = std::make_unique<Entry>();
  entry->type = MetricType::gauge;
  entry->gauges.reset(
      new Family<Gauge>(std::move(name), std::move(help), std::move(label_names), {}));
  auto& family = *entry->gauges;
  add(std::move(entry));
  return family;
}

Family<Histogram>& MetricsRegistry::histogram_family(std::string name, std::string help,
                                                     std::vector<std::string> label_names,
                                                     Buckets upper_bounds) {
  check_names(name, label_names);
  Histogram validate(upper_bounds);  // throws on bad bounds now, not at the first series
  auto entry = std::make_unique<Entry>();
  entry->type = MetricType::histogram;
  entry->histograms.reset(new Family<Histogram>(std::move(name), std::move(help),
                                                std::move(label_names), std::move(upper_bounds)));
  auto& family = *entry->histograms;
  add(std::move(entry));
  return family;
}

Counter& MetricsRegistry::counter(std::string name, std::string help) {
  return counter_family(std::move(name), std::move(help)).with({});
}

Gauge& MetricsRegistry::gauge(std::string name, std::string help) {
  return gauge_family(std::move(name), std::move(help)).with({});
}

template <class Metric>
void Family<Metric>::render(std::string& out, MetricType type) const {
  out += "# HELP ";
  out += name_;
  out += ' ';
  append_escaped(out, help_, false);
  out += "\n# TYPE ";
  out += name_;
  out += ' ';
  out += type_name(type);
  out += '\n';
  const std::lock_guard lock(mutex_);
  for (const auto& series : series_) {
    if constexpr (std::is_same_v<Metric, Histogram>) {
      const auto snapshot = series.metric.snapshot();
      const auto bounds = series.metric.upper_bounds();
      for (std::size_t i = 0; i < snapshot.cumulative.size(); ++i) {
        std::string le;
        if (i < bounds.size()) {
          append_number(le, bounds[i]);
        } else {
          le = "+Inf";
        }
        out += name_;
        out += "_bucket";
        append_labels(out, label_names_, series.label_values, le);
        out += ' ';
        append_integer(out, snapshot.cumulative[i]);
        out += '\n';
      }
      out += name_;
      out += "_sum";
      append_labels(out, label_names_, series.label_values);
      out += ' ';
      append_number(out, snapshot.sum);
      out += '\n';
      out += name_;
      out += "_count";
      append_labels(out, label_names_, series.label_values);
      out += ' ';
      append_integer(out, snapshot.cumulative.back());
      out += '\n';
    } else {
      out += name_;
      append_labels(out, label_names_, series.label_values);
      out += ' ';
      append_integer(out, series.metric.value());
      out += '\n';
    }
  }
}

std::string MetricsRegistry::render() const {
  std::string out;
  const std::lock_guard lock(mutex_);
  for (const auto& entry : entries_) {
    switch (entry->type) {
      case MetricType::counter:
        entry->counters->render(out, entry->type);
        break;
      case MetricType::gauge:
        entry->gauges->render(out, entry->type);
        break;
      case MetricType::histogram:
        entry->histograms->render(out, entry->type);
        break;
    }
  }
  return out;
}

ProxyMetrics::ProxyMetrics(MetricsRegistry& registry)
    : requests_(registry.counter_family("veil_http_requests_total",
                                        "Requests answered, by status class and upstream.",
                                        {"status_class", "upstream"})),
      duration_(registry.histogram_family(
          "veil_http_request_duration_seconds",
          "Time from a request's head being read to its response being written, by upstream.",
          {"upstream"}, latency_buckets_seconds())),
      upstream_errors_(registry.counter_family("veil_upstream_errors_total",
                                               "Failed exchanges with an upstream, by kind.",
                                               {"upstream", "kind"})),
      policy_reloads_(registry.counter_family("veil_policy_reloads_total",
                                              "Policy reloads (SIGHUP) by result.", {"result"})),
      active_connections(
          registry.gauge("veil_client_connections_active", "Client connections currently open.")),
      connections_accepted(registry.counter("veil_client_connections_accepted_total",
                                            "Client connections accepted.")),
      received_bytes(registry.counter("veil_client_received_bytes_total",
                                      "Bytes read from clients (headers and bodies).")),
      sent_bytes(registry.counter("veil_client_sent_bytes_total",
                                  "Bytes written to clients (headers and bodies).")),
      access_log_lines(registry.counter("veil_access_log_lines_total",
                                        "Access-log lines written to the log file.")),
      access_log_dropped_lines(registry.counter(
          "veil_access_log_dropped_lines_total",
          "Access-log lines dropped: the writer fell behind, or the file could not be written.")),
      access_log_write_errors(registry.counter("veil_access_log_write_errors_total",
                                               "Failed writes to the access-log file.")),
      policy_reloads_ok(policy_reloads_.with({"ok"})),
      policy_reloads_failed(policy_reloads_.with({"failed"})) {}

std::size_t ProxyMetrics::status_class_index(unsigned status) noexcept {
  return status >= 100 && status <= 599 ? status / 100 - 1 : 4;
}

const ProxyMetrics::UpstreamMetrics& ProxyMetrics::upstream(std::string_view name) {
  static constexpr std::array<std::string_view, 5> kStatusClasses{"1xx", "2xx", "3xx", "4xx",
                                                                  "5xx"};
  static constexpr std::array<std::string_view, kUpstreamErrorKinds> kErrorKinds{
      "connect", "timeout", "reset", "protocol"};
  const std::lock_guard lock(mutex_);
  for (const auto& [existing, metrics] : upstreams_) {
    if (existing == name) return metrics;
  }
  UpstreamMetrics metrics;
  for (std::size_t i = 0; i < kStatusClasses.size(); ++i) {
    metrics.requests[i] = &requests_.with({kStatusClasses[i], name});
  }
  metrics.duration = &duration_.with({name});
  for (std::size_t i = 0; i < kErrorKinds.size(); ++i) {
    metrics.errors[i] = &upstream_errors_.with({name, kErrorKinds[i]});
  }
  return upstreams_.emplace_back(std::string(name), metrics).second;
}

}  // namespace veil::proxy
