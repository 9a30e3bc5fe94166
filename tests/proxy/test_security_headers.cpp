#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "bundled_policy.hpp"
#include "veil/proxy/security_headers.hpp"

using namespace veil::proxy;
using veil::proxy::test::bundled_policy;
namespace policies = veil::policies;
namespace http = boost::beast::http;

namespace {

std::vector<std::string> values(const ResponseHead& head, std::string_view name) {
  std::vector<std::string> out;
  for (auto [field, end] = head.equal_range(name); field != end; ++field) {
    out.emplace_back(field->value());
  }
  return out;
}

}  // namespace

TEST_CASE("CSP lists only granted categories' hosts", "[security_headers]") {
  const auto policy = bundled_policy("council-default.yaml");
  const auto rejected = policies::consent_for(*policy, {});
  const auto csp = consent_content_security_policy(*policy, rejected);
  for (auto directive :
       {"script-src 'self'", "frame-src 'self'", "img-src 'self'", "connect-src 'self'"}) {
    CHECK(csp.find(directive) != std::string::npos);
  }
  CHECK(csp.find("youtube") == std::string::npos);
  CHECK(csp.find("googletagmanager") == std::string::npos);

  const std::vector<std::string> campaigns = {"campaigns"};
  const auto granted =
      consent_content_security_policy(*policy, policies::consent_for(*policy, campaigns));
  CHECK(granted.find("frame-src 'self' ") != std::string::npos);
  CHECK(granted.find(" *.youtube.com") != std::string::npos);
  CHECK(granted.find(" youtube.com") != std::string::npos);
  CHECK(granted.find("googletagmanager") == std::string::npos);  // usage not granted
  CHECK(granted.find("'unsafe-inline'") != std::string::npos);
}

TEST_CASE("SecurityHeaders adds a CSP beside the origin's and marks the page private",
          "[security_headers]") {
  ConsentFilter consent("2026-11-23");
  SecurityHeaders filter(consent);
  Exchange exchange;
  exchange.policy = bundled_policy("council-default.yaml");
  exchange.request.target("/news");
  consent.on_request(exchange);
  exchange.response.set(http::field::content_type, "text/html; charset=utf-8");
  exchange.response.insert("Content-Security-Policy", "default-src 'self'");
  exchange.response.set(http::field::cache_control, "public, max-age=600, s-maxage=3600");
  exchange.response.set(http::field::vary, "Accept-Encoding");
  filter.on_response_head(exchange);
  const auto csps = values(exchange.response, "Content-Security-Policy");
  REQUIRE(csps.size() == 2);
  CHECK(csps[0] == "default-src 'self'");  // the origin's, untouched
  CHECK(csps[1].starts_with("script-src 'self'"));
  CHECK(exchange.response[http::field::cache_control] == "private, max-age=600");
  CHECK(exchange.response[http::field::vary] == "Accept-Encoding, Cookie");

  Exchange image;
  image.policy = exchange.policy;
  consent.on_request(image);
  image.response.set(http::field::content_type, "image/png");
  filter.on_response_head(image);
  CHECK(values(image.response, "Content-Security-Policy").empty());
}

TEST_CASE("report-only mode sends Content-Security-Policy-Report-Only", "[security_headers]") {
  ConsentFilter consent("2026-11-23");
  SecurityHeaders filter(consent);
  Exchange exchange;
  exchange.policy = bundled_policy("report-only.yaml");
  exchange.request.target("/");
  consent.on_request(exchange);
  exchange.response.set(http::field::content_type, "text/html");
  filter.on_response_head(exchange);
  CHECK(values(exchange.response, "Content-Security-Policy").empty());
  CHECK(values(exchange.response, "Content-Security-Policy-Report-Only").size() == 1);
}

TEST_CASE("mark_personalised keeps stricter caching as it is", "[security_headers]") {
  ResponseHead head;
  head.set(http::field::cache_control, "no-store");
  head.set(http::field::vary, "*");
  mark_personalised(head);
  CHECK(head[http::field::cache_control] == "no-store");
  CHECK(head[http::field::vary] == "*");
  ResponseHead bare;
  mark_personalised(bare);
  CHECK(bare[http::field::cache_control] == "private");
  CHECK(bare[http::field::vary] == "Cookie");
}
