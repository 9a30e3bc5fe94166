// The proxy's metrics: counters, gauges and fixed-bucket histograms grouped in labelled families,
// and their rendering in the Prometheus text exposition format (version 0.0.4) for the admin
// `/metrics`.
//
// Hot path: look a series up once (at startup, or when an upstream is created) and keep the
// reference; updating it is one relaxed atomic operation, no lock, no allocation. Series live as
// long as the registry and never move.
//
// Privacy: label values come from closed sets (status classes, upstream names from the policy,
// results), never from a request. A client address must never be a label value.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace veil::proxy {

// Each series sits on its own cache line so that threads updating different series never share one.
inline constexpr std::size_t kCacheLine = 64;

class Counter {
 public:
  void inc(std::uint64_t amount = 1) noexcept {
    value_.fetch_add(amount, std::memory_order_relaxed);
  }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  alignas(kCacheLine) std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void set(std::int64_t value) noexcept { value_.store(value, std::memory_order_relaxed); }
  void add(std::int64_t amount) noexcept { value_.fetch_add(amount, std::memory_order_relaxed); }
  void sub(std::int64_t amount) noexcept { value_.fetch_sub(amount, std::memory_order_relaxed); }
  std::int64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  alignas(kCacheLine) std::atomic<std::int64_t> value_{0};
};

// Upper bounds (inclusive, ascending) of a histogram's finite buckets; `+Inf` is implied.
using Buckets = std::vector<double>;

// Request latency in seconds: 0.5 ms up to 10 s, roughly 2-2.5x apart.
const Buckets& latency_buckets_seconds();

class Histogram {
 public:
  explicit Histogram(std::span<const double> upper_bounds);

  // Counts `value` in the first bucket whose upper bound is >= value (the last, +Inf, otherwise).
  void observe(double value) noexcept;

  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // one per finite bound, then +Inf (= count)
    double sum = 0;
  };
  // Not atomic across buckets (a scrape during updates may be one observation behind in some
  // buckets), but always self-consistent: cumulative counts never decrease and count == +Inf
  // bucket.
  Snapshot snapshot() const;
  std::span<const double> upper_bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // bounds_.size() + 1 buckets
  alignas(kCacheLine) std::atomic<double> sum_{0};
};

enum class MetricType : std::uint8_t { counter, gauge, histogram };

// One metric name with a fixed list of label names; a series per distinct list of label values.
template <class Metric>
class Family {
 public:
  // The series for `label_values` (one per label name, in order), created on first use. Takes a
  // lock: call it when setting up, keep the reference for the hot path. Throws
  // std::invalid_argument when the number of values does not match the label names.
  Metric& with(std::initializer_list<std::string_view> label_values);
  Metric& with(std::span<const std::string_view> label_values);

  const std::string& name() const { return name_; }

 private:
  friend class MetricsRegistry;
  Family(std::string name, std::string help, std::vector<std::string> label_names, Buckets buckets);
  void render(std::string& out, MetricType type) const;

  struct Series {
    std::vector<std::string> label_values;
    Metric metric;
    template <class... Args>
    explicit Series(std::vector<std::string> values, Args&&... args)
        : label_values(std::move(values)), metric(std::forward<Args>(args)...) {}
  };

  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  Buckets buckets_;  // histograms only
  mutable std::mutex mutex_;
  std::deque<Series> series_;  // a deque never moves its elements
};

class MetricsRegistry {
 public:
  MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;
  ~MetricsRegistry();

  // Registers a family. `name` must be a valid Prometheus metric name (counters should end in
  // `_total`), label names valid label names, not `le`; registering a name twice, or an invalid
  // name, throws std::invalid_argument. The returned family lives as long as the registry.
  Family<Counter>& counter_family(std::string name, std::string help,
                                  std::vector<std::string> label_names = {});
  Family<Gauge>& gauge_family(std::string name, std::string help,
                              std::vector<std::string> label_names = {});
  Family<Histogram>& histogram_family(std::string name, std::string help,
                                      std::vector<std::string> label_names, Buckets upper_bounds);

  // A family without labels, and its only series.
  Counter& counter(std::string name, std::string help);
  Gauge& gauge(std::string name, std::string help);

  // Every family in registration order, series in creation order, in the text exposition format.
  std::string render() const;

 private:
  struct Entry;
  void add(std::unique_ptr<Entry> entry);

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Entry>> entries_;
};

// Content-Type of MetricsRegistry::render()'s output.
inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

// The families the proxy core reports (issue 4). Filters add their own families to `registry`.
class ProxyMetrics {
  // Declared first: some public series below are initialised from them.
  Family<Counter>& requests_;
  Family<Histogram>& duration_;
  Family<Counter>& upstream_errors_;
  Family<Counter>& policy_reloads_;

 public:
  // Registers the families in `registry`, which must outlive this object.
  explicit ProxyMetrics(MetricsRegistry& registry);

  // Index into UpstreamMetrics::requests: 0 = 1xx … 4 = 5xx; a status outside 100-599 counts as
  // 5xx.
  static std::size_t status_class_index(unsigned status) noexcept;

  enum class UpstreamError : std::uint8_t { connect, timeout, reset, protocol };
  static constexpr std::size_t kUpstreamErrorKinds = 4;

  // Everything counted per upstream, resolved once per upstream.
  struct UpstreamMetrics {
    std::array<Counter*, 5> requests{};  // by status class
    Histogram* duration = nullptr;       // seconds from request head read to response complete
    std::array<Counter*, kUpstreamErrorKinds> errors{};

    void count_response(unsigned status, double seconds) const noexcept {
      requests[status_class_index(status)]->inc();
      duration->observe(seconds);
    }
    void count_error(UpstreamError kind) const noexcept {
      errors[static_cast<std::size_t>(kind)]->inc();
    }
  };
  // Takes a lock: call when an upstream is set up, not per request. `name` is the upstream's name
  // from the policy, or kNoUpstream for responses veil makes itself (errors, admin, consent). The
  // returned reference stays valid as long as this object.
  const UpstreamMetrics& upstream(std::string_view name);
  static constexpr std::string_view kNoUpstream = "none";

  Gauge& active_connections;
  Counter& connections_accepted;
  Counter& received_bytes;  // from clients, headers and bodies
  Counter& sent_bytes;      // to clients, headers and bodies
  Counter& access_log_lines;
  Counter& access_log_dropped_lines;
  Counter& access_log_write_errors;
  Counter& policy_reloads_ok;
  Counter& policy_reloads_failed;

 private:
  std::mutex mutex_;
  std::deque<std::pair<std::string, UpstreamMetrics>> upstreams_;
};

}  // namespace veil::proxy
