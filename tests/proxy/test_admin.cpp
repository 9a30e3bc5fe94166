#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "veil/proxy/admin.hpp"

using namespace veil::proxy;

namespace {

LocalRequest get(std::string target, std::string method = "GET") {
  LocalRequest request;
  request.method = std::move(method);
  request.target = std::move(target);
  return request;
}

std::string header(const LocalResponse& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return {};
}

}  // namespace

TEST_CASE("healthz answers while the process runs", "[admin]") {
  AdminState state;
  MetricsRegistry metrics;
  const auto response = answer_admin_request(get("/healthz"), state, metrics);
  CHECK(response.status == 200);
  CHECK(response.body == "ok\n");
  CHECK(header(response, "Cache-Control") == "no-store");
}

TEST_CASE("readyz needs a policy and a listener, and fails while draining", "[admin]") {
  AdminState state;
  MetricsRegistry metrics;
  auto response = answer_admin_request(get("/readyz"), state, metrics);
  CHECK(response.status == 503);
  CHECK(response.body == "not ready: no policy loaded\n");

  state.policy_loaded = true;
  response = answer_admin_request(get("/readyz"), state, metrics);
  CHECK(response.status == 503);
  CHECK(response.body == "not ready: listener not up\n");

  state.listening = true;
  CHECK(answer_admin_request(get("/readyz"), state, metrics).status == 200);
  CHECK(answer_admin_request(get("/readyz?verbose=1"), state, metrics).status == 200);

  state.draining = true;
  response = answer_admin_request(get("/readyz"), state, metrics);
  CHECK(response.status == 503);
  CHECK(response.body == "not ready: draining\n");
}

TEST_CASE("metrics serves the registry in the Prometheus text format", "[admin]") {
  AdminState state;
  MetricsRegistry metrics;
  ProxyMetrics proxy_metrics(metrics);
  proxy_metrics.upstream("council").count_response(200, 0.003);
  const auto response = answer_admin_request(get("/metrics"), state, metrics);
  CHECK(response.status == 200);
  CHECK(header(response, "Content-Type") == kPrometheusContentType);
  CHECK(response.body == metrics.render());
  CHECK_THAT(response.body, Catch::Contains("veil_http_requests_total{status_class=\"2xx\","
                                            "upstream=\"council\"} 1"));
}

TEST_CASE("HEAD is answered like GET; other methods and paths are refused", "[admin]") {
  AdminState state;
  MetricsRegistry metrics;
  const auto head = answer_admin_request(get("/healthz", "HEAD"), state, metrics);
  CHECK(head.status == 200);
  CHECK(head.body == "ok\n");  // the server sends only the length for HEAD

  const auto post = answer_admin_request(get("/healthz", "POST"), state, metrics);
  CHECK(post.status == 405);
  CHECK(header(post, "Allow") == "GET, HEAD");

  CHECK(answer_admin_request(get("/"), state, metrics).status == 404);
  CHECK(answer_admin_request(get("/metricsx"), state, metrics).status == 404);
  CHECK(answer_admin_request(get("/healthz/"), state, metrics).status == 404);
}
