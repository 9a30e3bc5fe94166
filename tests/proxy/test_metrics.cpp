#include <catch2/catch.hpp>

#include <string>
#include <thread>
#include <vector>

#include "veil/proxy/metrics.hpp"

using veil::proxy::Counter;
using veil::proxy::MetricsRegistry;
using veil::proxy::ProxyMetrics;

namespace {

bool contains_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("counters and gauges render with HELP and TYPE lines", "[metrics]") {
  MetricsRegistry registry;
  auto& requests = registry.counter("veil_test_requests_total", "Requests seen.");
  auto& open = registry.gauge("veil_test_open", "Open things.");
  requests.inc();
  requests.inc(41);
  open.add(5);
  open.sub(2);

  const auto text = registry.render();
  CHECK(text ==
        "# HELP veil_test_requests_total Requests seen.\n"
        "# TYPE veil_test_requests_total counter\n"
        "veil_test_requests_total 42\n"
        "# HELP veil_test_open Open things.\n"
        "# TYPE veil_test_open gauge\n"
        "veil_test_open 3\n");
}

TEST_CASE("labelled series are created once and keep their identity", "[metrics]") {
  MetricsRegistry registry;
  auto& family = registry.counter_family("veil_test_total", "By result.", {"result"});
  auto& ok = family.with({"ok"});
  auto& failed = family.with({"failed"});
  CHECK(&ok != &failed);
  CHECK(&family.with({"ok"}) == &ok);
  ok.inc(3);
  failed.inc();

  const auto text = registry.render();
  CHECK(contains_line(text, "veil_test_total{result=\"ok\"} 3"));
  CHECK(contains_line(text, "veil_test_total{result=\"failed\"} 1"));
  CHECK_THROWS_AS(family.with({"ok", "extra"}), std::invalid_argument);
}

TEST_CASE("label values and HELP text are escaped", "[metrics]") {
  MetricsRegistry registry;
  auto& family =
      registry.counter_family("veil_test_total", "Back\\slash and\nnewline.", {"upstream"});
  family.with({"a\"b\\c\nd"}).inc();

  const auto text = registry.render();
  CHECK(contains_line(text, "# HELP veil_test_total Back\\\\slash and\\nnewline."));
  CHECK(contains_line(text, "veil_test_total{upstream=\"a\\\"b\\\\c\\nd\"} 1"));
}

TEST_CASE("histograms render cumulative buckets, sum and count", "[metrics]") {
  MetricsRegistry registry;
  auto& family =
      registry.histogram_family("veil_test_seconds", "Latency.", {"upstream"}, {0.01, 0.1, 1});
  auto& histogram = family.with({"origin"});
  histogram.observe(0.005);  // first bucket
  histogram.observe(0.01);   // upper bounds are inclusive
  histogram.observe(0.5);
  histogram.observe(3);  // only +Inf

  const auto text = registry.render();
  CHECK(contains_line(text, "# TYPE veil_test_seconds histogram"));
  CHECK(contains_line(text, "veil_test_seconds_bucket{upstream=\"origin\",le=\"0.01\"} 2"));
  CHECK(contains_line(text, "veil_test_seconds_bucket{upstream=\"origin\",le=\"0.1\"} 2"));
  CHECK(contains_line(text, "veil_test_seconds_bucket{upstream=\"origin\",le=\"1\"} 3"));
  CHECK(contains_line(text, "veil_test_seconds_bucket{upstream=\"origin\",le=\"+Inf\"} 4"));
  CHECK(contains_line(text, "veil_test_seconds_sum{upstream=\"origin\"} 3.515"));
  CHECK(contains_line(text, "veil_test_seconds_count{upstream=\"origin\"} 4"));
}

TEST_CASE("a histogram without labels puts only le in braces", "[metrics]") {
  MetricsRegistry registry;
  registry.histogram_family("veil_test_seconds", "Latency.", {}, {1}).with({}).observe(0.5);
  const auto text = registry.render();
  CHECK(contains_line(text, "veil_test_seconds_bucket{le=\"1\"} 1"));
  CHECK(contains_line(text, "veil_test_seconds_sum 0.5"));
  CHECK(contains_line(text, "veil_test_seconds_count 1"));
}

TEST_CASE("invalid names, duplicate families and bad buckets are refused", "[metrics]") {
  MetricsRegistry registry;
  registry.counter("veil_once_total", "Once.");
  CHECK_THROWS_AS(registry.counter("veil_once_total", "Twice."), std::invalid_argument);
  CHECK_THROWS_AS(registry.counter("9starts_with_digit", "x"), std::invalid_argument);
  CHECK_THROWS_AS(registry.counter("has-dash_total", "x"), std::invalid_argument);
  CHECK_THROWS_AS(registry.counter_family("veil_x_total", "x", {"le"}), std::invalid_argument);
  CHECK_THROWS_AS(registry.counter_family("veil_y_total", "x", {"__reserved"}),
                  std::invalid_argument);
  CHECK_THROWS_AS(registry.histogram_family("veil_z_seconds", "x", {}, {1, 0.5}),
                  std::invalid_argument);
}

TEST_CASE("concurrent increments are not lost", "[metrics]") {
  MetricsRegistry registry;
  auto& counter = registry.counter("veil_test_total", "x");
  auto& histogram = registry.histogram_family("veil_test_seconds", "x", {}, {1}).with({});
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        counter.inc();
        histogram.observe(0.25);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(counter.value() == kThreads * kPerThread);
  const auto snapshot = histogram.snapshot();
  CHECK(snapshot.cumulative.back() == kThreads * kPerThread);
  CHECK(snapshot.sum == Approx(0.25 * kThreads * kPerThread));
}

TEST_CASE("the proxy families are registered and counted per upstream", "[metrics]") {
  MetricsRegistry registry;
  ProxyMetrics metrics(registry);
  const auto& origin = metrics.upstream("origin");
  CHECK(&metrics.upstream("origin") == &origin);
  origin.count_response(200, 0.002);
  origin.count_response(204, 0.002);
  origin.count_response(404, 0.002);
  origin.count_response(999, 0.002);
  origin.count_error(ProxyMetrics::UpstreamError::timeout);
  metrics.upstream(ProxyMetrics::kNoUpstream).count_response(431, 0.0001);
  metrics.active_connections.add(2);
  metrics.access_log_dropped_lines.inc(7);
  metrics.policy_reloads_ok.inc();
  metrics.policy_reloads_failed.inc(2);

  const auto text = registry.render();
  CHECK(
      contains_line(text, "veil_http_requests_total{status_class=\"2xx\",upstream=\"origin\"} 2"));
  CHECK(
      contains_line(text, "veil_http_requests_total{status_class=\"4xx\",upstream=\"origin\"} 1"));
  CHECK(
      contains_line(text, "veil_http_requests_total{status_class=\"5xx\",upstream=\"origin\"} 1"));
  CHECK(contains_line(text, "veil_http_requests_total{status_class=\"4xx\",upstream=\"none\"} 1"));
  CHECK(contains_line(text, "veil_http_request_duration_seconds_count{upstream=\"origin\"} 4"));
  CHECK(contains_line(text, "veil_upstream_errors_total{upstream=\"origin\",kind=\"timeout\"} 1"));
  CHECK(contains_line(text, "veil_upstream_errors_total{upstream=\"origin\",kind=\"connect\"} 0"));
  CHECK(contains_line(text, "veil_client_connections_active 2"));
  CHECK(contains_line(text, "veil_access_log_dropped_lines_total 7"));
  CHECK(contains_line(text, "veil_policy_reloads_total{result=\"ok\"} 1"));
  CHECK(contains_line(text, "veil_policy_reloads_total{result=\"failed\"} 2"));
  // A family added later by a filter is one line and shows up in the same output.
  registry.counter_family("veil_cookies_blocked_total", "Cookies blocked.", {"category"})
      .with({"analytics"})
      .inc();
  CHECK(contains_line(registry.render(), "veil_cookies_blocked_total{category=\"analytics\"} 1"));
}

TEST_CASE("status classes", "[metrics]") {
  CHECK(ProxyMetrics::status_class_index(100) == 0);
  CHECK(ProxyMetrics::status_class_index(199) == 0);
  CHECK(ProxyMetrics::status_class_index(200) == 1);
  CHECK(ProxyMetrics::status_class_index(308) == 2);
  CHECK(ProxyMetrics::status_class_index(499) == 3);
  CHECK(ProxyMetrics::status_class_index(503) == 4);
  CHECK(ProxyMetrics::status_class_index(0) == 4);
  CHECK(ProxyMetrics::status_class_index(600) == 4);
}
