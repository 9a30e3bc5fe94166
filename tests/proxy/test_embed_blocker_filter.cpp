#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "bundled_policy.hpp"
#include "veil/anonymiser/gzip_codec.hpp"
#include "veil/proxy/embed_blocker.hpp"

using namespace veil::proxy;
using veil::anonymiser::GzipDecoder;
using veil::anonymiser::GzipEncoder;
using veil::proxy::test::bundled_policy;
namespace policies = veil::policies;
namespace http = boost::beast::http;

namespace {

constexpr std::string_view kPage =
    "<!DOCTYPE html><html><head><title>Bins</title></head><body class=\"x\">"
    "<a href=\"#main\">Skip to main content</a><main id=\"main\">"
    "<iframe src=\"https://www.youtube.com/embed/abc\" width=\"560\" height=\"315\"></iframe>"
    "</main></body></html>";

struct Proxied {
  ResponseHead head;
  std::string body;
};

// What the core does with one exchange: filters in chain order, then the body through the
// transform in `chunk`-byte pieces.
struct Chain {
  std::shared_ptr<const policies::Policy> policy;
  MetricsRegistry metrics;
  ConsentFilter consent{"2026-11-23"};
  EmbedBlocker blocker{consent, metrics};

  explicit Chain(const char* policy_file = "council-default.yaml")
      : policy(bundled_policy(policy_file)) {}

  Proxied run(std::string_view cookie, std::string_view accept_encoding, ResponseHead head,
              std::string_view body, std::size_t chunk = 1 << 20,
              std::string* forwarded_accept_encoding = nullptr) {
    Exchange exchange;
    exchange.policy = policy;
    exchange.request.method(http::verb::get);
    exchange.request.target("/bins?day=1");
    exchange.request.set(http::field::host, "www.example.gov.uk");
    if (!cookie.empty()) exchange.request.set(http::field::cookie, cookie);
    if (!accept_encoding.empty())
      exchange.request.set(http::field::accept_encoding, accept_encoding);
    consent.on_request(exchange);
    blocker.on_request(exchange);
    if (forwarded_accept_encoding != nullptr) {
      *forwarded_accept_encoding = std::string(exchange.request[http::field::accept_encoding]);
    }
    exchange.response = std::move(head);
    consent.on_response_head(exchange);
    blocker.on_response_head(exchange);
    Proxied proxied;
    auto transform = blocker.response_body_transform(exchange);
    proxied.body = std::string(body);
    if (transform) {
      std::string out;
      for (std::size_t at = 0; at < body.size(); at += chunk) {
        transform->transform(body.substr(at, chunk), out);
      }
      transform->finish(out);
      // As the core does: a transform that only reads writes nothing, and the body passes as it
      // came.
      if (transform->reads_only()) {
        CHECK(out.empty());
      } else {
        proxied.body = std::move(out);
      }
    }
    proxied.head = exchange.response;
    return proxied;
  }
};

ResponseHead html_head(std::string_view encoding = {}) {
  ResponseHead head;
  head.result(http::status::ok);
  head.set(http::field::content_type, "text/html; charset=utf-8");
  head.set(http::field::content_length, "1234");
  head.set(http::field::etag, "\"v1\"");
  if (!encoding.empty()) head.set(http::field::content_encoding, encoding);
  return head;
}

std::string gzip(std::string_view text) {
  GzipEncoder encoder;
  std::string out;
  encoder.encode(text, out);
  encoder.finish(out);
  return out;
}

std::string gunzip(std::string_view data) {
  GzipDecoder decoder;
  std::string out;
  decoder.decode(data, out);
  decoder.finish();
  return out;
}

std::size_t count(std::string_view text, std::string_view needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string_view::npos; at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

constexpr std::string_view kRejected =
    R"(cookies_policy={"essential":true,"settings":false,"usage":false,"campaigns":false}; )"
    "cookies_preferences_set=true";
constexpr std::string_view kAccepted =
    R"(cookies_policy={"essential":true,"settings":true,"usage":true,"campaigns":true}; )"
    "cookies_preferences_set=true";

}  // namespace

TEST_CASE("EmbedBlocker puts the banner right after <body>, once, only without a decision",
          "[embed_blocker]") {
  Chain chain;
  const auto first = chain.run("", "", html_head(), kPage);
  CHECK(count(first.body, "class=\"veil-cookie-banner\"") == 1);
  CHECK(first.body.find("<body class=\"x\"><div class=\"veil-cookie-banner\"") !=
        std::string::npos);
  CHECK(first.body.find("name=\"return\" value=\"/bins?day=1\"") != std::string::npos);
  CHECK(first.body.find("aria-label=\"YouTube content\"") != std::string::npos);
  CHECK(first.head.count(http::field::content_length) == 0);
  CHECK(first.head[http::field::etag] == "W/\"v1\"");
  CHECK(first.head[http::field::cache_control] == "private");
  CHECK(first.head[http::field::vary] == "Cookie");

  const auto decided = chain.run(kRejected, "", html_head(), kPage);
  CHECK(decided.body.find("veil-cookie-banner") == std::string::npos);
  CHECK(decided.body.find("aria-label=\"YouTube content\"") != std::string::npos);

  const auto accepted = chain.run(kAccepted, "", html_head(), kPage);
  CHECK(accepted.body == kPage);  // everything granted, nothing to say

  // The confirmation after a decision: shown, and its flag cookie expired by the same response.
  const auto confirmed =
      chain.run(std::string(kRejected) + "; veil_consent_saved=rejected", "", html_head(), kPage);
  CHECK(confirmed.body.find("You&#39;ve rejected additional cookies") != std::string::npos);
  bool expired = false;
  for (auto [field, end] = confirmed.head.equal_range(http::field::set_cookie); field != end;
       ++field) {
    const std::string value(field->value());
    if (value.starts_with("veil_consent_saved=;") && value.find("Max-Age=0") != std::string::npos)
      expired = true;
  }
  CHECK(expired);
}

TEST_CASE("EmbedBlocker decodes gzip and re-encodes it for clients that accept it",
          "[embed_blocker]") {
  Chain chain;
  const std::string compressed = gzip(kPage);
  std::string forwarded;
  const auto identity = chain.run(kRejected, "", html_head(), kPage, 1 << 20, &forwarded);
  CHECK(forwarded == "identity");

  for (std::size_t chunk : {1, 5, 64, 100000}) {
    INFO(chunk);
    const auto gzipped =
        chain.run(kRejected, "gzip, deflate, br", html_head("gzip"), compressed, chunk, &forwarded);
    CHECK(forwarded == "gzip");
    CHECK(gzipped.head[http::field::content_encoding] == "gzip");
    CHECK(gunzip(gzipped.body) == identity.body);

    const auto plain =
        chain.run(kRejected, "gzip;q=0, br", html_head("gzip"), compressed, chunk, &forwarded);
    CHECK(forwarded == "identity");
    CHECK(plain.head.count(http::field::content_encoding) == 0);
    CHECK(plain.body == identity.body);
  }

  // An encoding veil cannot decode passes unrewritten, counted as a bail-out.
  const auto brotli = chain.run(kRejected, "br", html_head("br"), "\x0b\x01\x80", 1 << 20);
  CHECK(brotli.body == "\x0b\x01\x80");
  CHECK(chain.metrics.render().find(
            "veil_html_rewrite_bailouts_total{reason=\"content_encoding\"} 1") !=
        std::string::npos);
}

TEST_CASE("EmbedBlocker leaves non-HTML, attachments and partial content alone",
          "[embed_blocker]") {
  Chain chain;
  ResponseHead json;
  json.result(http::status::ok);
  json.set(http::field::content_type, "application/json");
  CHECK(chain.run("", "", json, "{\"a\":\"<body>\"}").body == "{\"a\":\"<body>\"}");
  auto attachment = html_head();
  attachment.set(http::field::content_disposition, "attachment; filename=page.html");
  CHECK(chain.run("", "", attachment, kPage).body == kPage);
  auto partial = html_head();
  partial.result(http::status::partial_content);
  CHECK(chain.run("", "", partial, kPage).body == kPage);
}

TEST_CASE("report-only mode changes no byte and counts what it would block", "[embed_blocker]") {
  Chain chain("report-only.yaml");
  const std::string compressed = gzip(kPage);
  std::string forwarded;
  const auto proxied = chain.run("", "gzip, br", html_head("gzip"), compressed, 7, &forwarded);
  CHECK(forwarded == "gzip, br");  // the request is not touched either
  CHECK(proxied.body == compressed);
  CHECK(proxied.head[http::field::content_length] == "1234");
  CHECK(proxied.head.count(http::field::cache_control) == 0);
  CHECK(chain.metrics.render().find("veil_embeds_blocked_total{provider=\"YouTube\","
                                    "category=\"campaigns\",mode=\"report_only\"} 1") !=
        std::string::npos);
}

TEST_CASE("blocked embeds are counted by provider and category", "[embed_blocker]") {
  Chain chain;
  chain.run("", "", html_head(), kPage);
  chain.run(kRejected, "", html_head(), kPage, 3);
  CHECK(chain.metrics.render().find("veil_embeds_blocked_total{provider=\"YouTube\","
                                    "category=\"campaigns\",mode=\"enforce\"} 2") !=
        std::string::npos);
}
