#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "veil/policies/decisions.hpp"
#include "veil/policies/loader.hpp"
#include "veil/policies/set_cookie.hpp"
#include "veil/proxy/consent_filter.hpp"
#include "veil/proxy/consent_pages.hpp"
#include "veil/proxy/cookie_audit.hpp"
#include "veil/proxy/cookie_policy_filter.hpp"
#include "veil/proxy/metrics.hpp"
#include "veil/proxy/public_suffix.hpp"

using namespace veil::proxy;
namespace http = boost::beast::http;
namespace policies = veil::policies;

namespace {

std::string policy_text(std::string_view mode) {
  return std::string("version: 1\nmode: ") + std::string(mode) + R"(
cookies:
  unclassified: block
  rules:
    - {name: sid, category: essential, max_age: 2d, secure: true, http_only: true, same_site: lax}
    - {name: _ga, category: usage, max_age: 13mo}
    - {glob: "_ga_*", category: usage, max_age: 13mo}
    - {name: __Secure-track, category: usage}
    - {name: __Host-track, category: usage}
    - {name: lang, category: settings}
)";
}

std::shared_ptr<const policies::Policy> load(std::string_view mode) {
  auto loaded = policies::load_policy_from_string(policy_text(mode), "p.yaml");
  REQUIRE(loaded.ok());
  return loaded.policy;
}

const PublicSuffixList& suffixes() {
  static const PublicSuffixList list = PublicSuffixList::parse("uk\ngov.uk\nco.uk\n");
  return list;
}

constexpr std::string_view kDate = "Mon, 23 Nov 2026 10:00:00 GMT";
constexpr std::string_view kUsageGranted =
    R"(cookies_policy={"essential":true,"settings":false,"usage":true,"campaigns":false}; )"
    "cookies_preferences_set=true";
constexpr std::string_view kUsageRefused =
    R"(cookies_policy={"essential":true,"settings":false,"usage":false,"campaigns":false}; )"
    "cookies_preferences_set=true";

struct Harness {
  explicit Harness(std::string_view mode = "enforce", bool with_audit = false)
      : policy(load(mode)), filter(consent, metrics, suffixes(), with_audit ? &audit : nullptr) {}

  // The chain's order: the Consent filter reads consent, then this filter acts on it.
  void request(Exchange& exchange) {
    consent.on_request(exchange);
    filter.on_request(exchange);
  }

  // Runs on_request with `cookie_header` (omitted when empty), then on_response_head with the
  // given Set-Cookie headers.
  Exchange& run(std::string_view cookie_header, std::vector<std::string> set_cookies,
                bool gpc = false, bool tls = true) {
    exchange = std::make_unique<Exchange>();
    exchange->policy = policy;
    exchange->tls = tls;
    exchange->request.method(http::verb::get);
    exchange->request.target("/page?x=1");
    exchange->request.set(http::field::host, "www.example.gov.uk:443");
    if (!cookie_header.empty()) exchange->request.set(http::field::cookie, cookie_header);
    if (gpc) exchange->request.set("Sec-GPC", "1");
    request(*exchange);
    exchange->response.result(http::status::ok);
    exchange->response.set(http::field::date, kDate);
    for (const auto& value : set_cookies) exchange->response.insert(http::field::set_cookie, value);
    filter.on_response_head(*exchange);
    return *exchange;
  }

  std::string upstream_cookie() const {
    return std::string(exchange->request[http::field::cookie]);
  }
  std::vector<std::string> set_cookies() const {
    std::vector<std::string> values;
    auto [begin, end] = exchange->response.equal_range(http::field::set_cookie);
    for (auto it = begin; it != end; ++it) values.emplace_back(it->value());
    return values;
  }
  std::string cache_control() const {
    return std::string(exchange->response[http::field::cache_control]);
  }

  std::shared_ptr<const policies::Policy> policy;
  MetricsRegistry metrics;
  CookieAudit audit;
  ConsentFilter consent{"2026-11-23"};
  CookiePolicyFilter filter;
  std::unique_ptr<Exchange> exchange;
};

policies::SetCookie parsed(const std::string& header) {
  auto result = policies::parse_set_cookie(header);
  REQUIRE(result.cookie);
  return *result.cookie;
}

bool has_line(const std::string& text, std::string_view line) {
  return text.find(std::string(line) + "\n") != std::string::npos;
}

const policies::sys_seconds kResponseDate = *policies::parse_http_date(kDate);

}  // namespace

TEST_CASE("without a policy the filter changes nothing", "[cookie_filter]") {
  Harness harness;
  harness.policy = nullptr;
  harness.run("_ga=1; tracker=2", {"tracker=1; Max-Age=99999999"});
  CHECK(harness.upstream_cookie() == "_ga=1; tracker=2");
  CHECK(harness.set_cookies() == std::vector<std::string>{"tracker=1; Max-Age=99999999"});
  CHECK(harness.cache_control().empty());
}

TEST_CASE("enforce: non-consented Set-Cookies are removed, granted ones kept", "[cookie_filter]") {
  Harness harness;
  harness.run(kUsageRefused, {"_ga=GA1.2.3; Max-Age=3600", "lang=en", "unknown=1",
                              "cookies_policy=x; Max-Age=3600"});
  CHECK(harness.set_cookies() == std::vector<std::string>{"cookies_policy=x; Max-Age=3600"});
  CHECK(harness.cache_control() == "private");
  const auto metrics = harness.metrics.render();
  CHECK(has_line(metrics, R"(veil_cookies_removed_total{category="usage",mode="enforce"} 1)"));
  CHECK(has_line(metrics, R"(veil_cookies_removed_total{category="settings",mode="enforce"} 1)"));
  CHECK(
      has_line(metrics, R"(veil_cookies_removed_total{category="unclassified",mode="enforce"} 1)"));
  CHECK(has_line(metrics,
                 R"(veil_cookies_seen_total{category="unclassified",source="set_cookie"} 2)"));

  harness.run(kUsageGranted, {"_ga=GA1.2.3; Max-Age=3600"});
  CHECK(harness.set_cookies() == std::vector<std::string>{"_ga=GA1.2.3; Max-Age=3600"});
  CHECK(harness.cache_control().empty());  // nothing changed
}

TEST_CASE("veil's own consent cookies are never removed, even when no rule lists them",
          "[cookie_filter]") {
  Harness harness;
  harness.run(std::string(kUsageRefused) + "; other=1",
              {"cookies_policy=x; Max-Age=3600", "cookies_preferences_set=true; Max-Age=60"});
  CHECK(harness.upstream_cookie() == kUsageRefused);
  auto values = harness.set_cookies();
  REQUIRE(values.size() >= 2);
  CHECK(values[0] == "cookies_policy=x; Max-Age=3600");
  CHECK(values[1] == "cookies_preferences_set=true; Max-Age=60");
  for (std::size_t i = 2; i < values.size(); ++i) CHECK(parsed(values[i]).name() == "other");
}

TEST_CASE("enforce: lifetimes capped consistently relative to Date", "[cookie_filter]") {
  Harness harness;
  harness.run(kUsageGranted, {"_ga=1; Max-Age=63072000; Path=/",
                              "sid=abc; Expires=Wed, 01 Jan 2031 00:00:00 GMT; Secure; HttpOnly; "
                              "SameSite=Lax",
                              "sid2=session"});
  const auto values = harness.set_cookies();
  REQUIRE(values.size() == 2);  // sid2 is unclassified: removed
  const auto ga = parsed(values[0]);
  CHECK(ga.lifetime(kResponseDate) == 13 * 30 * 86400);
  CHECK(ga.max_age() == 13 * 30 * 86400);
  REQUIRE(ga.expires());
  CHECK(*ga.expires() == kResponseDate + std::chrono::seconds{13 * 30 * 86400});
  const auto sid = parsed(values[1]);
  CHECK(sid.max_age() == 2 * 86400);
  CHECK(*sid.expires() == kResponseDate + std::chrono::seconds{2 * 86400});
  CHECK(has_line(harness.metrics.render(),
                 R"(veil_cookies_capped_total{category="usage",mode="enforce"} 1)"));
}

TEST_CASE("enforce: session stays session, attributes added as the rule asks", "[cookie_filter]") {
  Harness harness;
  harness.run(kUsageRefused, {"sid=abc; Path=/"});
  auto values = harness.set_cookies();
  REQUIRE(values.size() == 1);
  auto sid = parsed(values[0]);
  CHECK(sid.is_session());
  CHECK(sid.secure());
  CHECK(sid.http_only());
  CHECK(sid.same_site() == policies::SameSite::lax);
  CHECK(harness.cache_control() == "private");

  // Secure is added only over TLS: a browser refuses it from an http:// origin.
  harness.run(kUsageRefused, {"sid=abc"}, false, false);
  values = harness.set_cookies();
  REQUIRE(values.size() == 1);
  sid = parsed(values[0]);
  CHECK_FALSE(sid.secure());
  CHECK(sid.http_only());
}

TEST_CASE("deletion cookies always pass, whatever the consent", "[cookie_filter]") {
  Harness harness;
  const std::vector<std::string> deletions = {"_ga=; Max-Age=0",
                                              "unknown=; Expires=Thu, 01 Jan 1970 00:00:00 GMT"};
  harness.run(kUsageRefused, deletions);
  CHECK(harness.set_cookies() == deletions);
  CHECK(harness.cache_control().empty());
}

TEST_CASE("unparseable Set-Cookie: removed in enforce, kept in report-only, counted",
          "[cookie_filter]") {
  Harness enforce;
  enforce.run(kUsageGranted, {"=", "_ga=1"});
  CHECK(enforce.set_cookies() == std::vector<std::string>{"_ga=1"});
  CHECK(
      has_line(enforce.metrics.render(), R"(veil_set_cookie_unparseable_total{mode="enforce"} 1)"));

  Harness report("report-only");
  report.run(kUsageGranted, {"=", "_ga=1"});
  CHECK(report.set_cookies() == std::vector<std::string>{"=", "_ga=1"});
  CHECK(has_line(report.metrics.render(),
                 R"(veil_set_cookie_unparseable_total{mode="report-only"} 1)"));
}

TEST_CASE("withdrawn request cookies: stripped upstream, expired on every domain",
          "[cookie_filter]") {
  Harness harness;
  harness.run(std::string(kUsageRefused) + "; _ga=GA1.2.3; sid=s1; _ga_ABC123=x; _ga=again", {});
  CHECK(harness.upstream_cookie() == std::string(kUsageRefused) + "; sid=s1");
  const auto values = harness.set_cookies();
  // _ga (sent twice: expired once) and _ga_ABC123, each host-only, on the host, on the parent.
  REQUIRE(values.size() == 6);
  std::vector<std::pair<std::string, std::string>> expired;
  for (const auto& value : values) {
    const auto cookie = parsed(value);
    CHECK(cookie.value().empty());
    CHECK(cookie.is_deletion(kResponseDate));
    CHECK(cookie.path() == "/");
    expired.emplace_back(cookie.name(), cookie.domain().value_or("(host-only)"));
  }
  std::sort(expired.begin(), expired.end());
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"_ga", "(host-only)"},           {"_ga", "example.gov.uk"},
      {"_ga", "www.example.gov.uk"},    {"_ga_ABC123", "(host-only)"},
      {"_ga_ABC123", "example.gov.uk"}, {"_ga_ABC123", "www.example.gov.uk"}};
  CHECK(expired == expected);
  CHECK(harness.cache_control() == "private");
  CHECK(has_line(harness.metrics.render(),
                 R"(veil_cookies_expired_total{category="usage",mode="enforce"} 2)"));
}

TEST_CASE("withdrawal respects the __Secure- and __Host- prefixes", "[cookie_filter]") {
  Harness harness;
  harness.run("__Secure-track=1; __Host-track=2", {});
  const auto values = harness.set_cookies();
  // __Secure-: three variants, each Secure; __Host-: host-only only (no Domain allowed).
  REQUIRE(values.size() == 4);
  int host_prefixed = 0;
  for (const auto& value : values) {
    const auto cookie = parsed(value);
    CHECK(cookie.secure());
    CHECK(policies::prefix_violation(cookie).empty());
    if (cookie.name() == "__Host-track") {
      ++host_prefixed;
      CHECK_FALSE(cookie.domain());
    }
  }
  CHECK(host_prefixed == 1);
}

TEST_CASE("Sec-GPC refuses non-essential cookies without a recorded choice", "[cookie_filter]") {
  Harness harness;
  harness.run("_ga=1; sid=2", {"_ga=3; Max-Age=60"}, true);
  CHECK(harness.upstream_cookie() == "sid=2");
  for (const auto& value : harness.set_cookies()) {
    CHECK(parsed(value).is_deletion(kResponseDate));  // _ga=3 removed, only deletions remain
  }
  // An explicit choice on the site beats the signal.
  harness.run(std::string(kUsageGranted) + "; _ga=1", {"_ga=3; Max-Age=60"}, true);
  CHECK(harness.upstream_cookie() == std::string(kUsageGranted) + "; _ga=1");
  CHECK(harness.set_cookies() == std::vector<std::string>{"_ga=3; Max-Age=60"});
}

TEST_CASE("report-only changes nothing but counts what enforce would do", "[cookie_filter]") {
  Harness harness("report-only");
  const std::vector<std::string> set_cookies = {"_ga=1; Max-Age=63072000", "unknown=1", "sid=2"};
  harness.run("_ga=1; other=2", set_cookies);
  CHECK(harness.upstream_cookie() == "_ga=1; other=2");
  CHECK(harness.set_cookies() == set_cookies);
  CHECK(harness.cache_control().empty());
  const auto metrics = harness.metrics.render();
  CHECK(has_line(metrics, R"(veil_cookies_removed_total{category="usage",mode="report-only"} 1)"));
  CHECK(
      has_line(metrics, R"(veil_cookies_capped_total{category="essential",mode="report-only"} 1)"));
  CHECK(has_line(metrics,
                 R"(veil_cookies_expired_total{category="unclassified",mode="report-only"} 1)"));
}

TEST_CASE("Cache-Control: public becomes private; private and no-store stay", "[cookie_filter]") {
  Harness harness;
  auto run_with = [&](std::string_view cache_control) {
    harness.exchange = std::make_unique<Exchange>();
    harness.exchange->policy = harness.policy;
    harness.exchange->request.set(http::field::host, "www.example.gov.uk");
    harness.exchange->request.target("/");
    harness.request(*harness.exchange);
    harness.exchange->response.set(http::field::date, kDate);
    harness.exchange->response.set(http::field::cache_control, cache_control);
    harness.exchange->response.insert(http::field::set_cookie, "unknown=1");
    harness.filter.on_response_head(*harness.exchange);
    return harness.cache_control();
  };
  CHECK(run_with("public, max-age=600") == "private, max-age=600");
  CHECK(run_with("no-store") == "no-store");
  CHECK(run_with("Private, max-age=0") == "Private, max-age=0");
}

TEST_CASE("the filter feeds the audit: server-set, sent by the browser, violations",
          "[cookie_filter]") {
  Harness harness("enforce", true);
  harness.run("_ga_XYZ987=1; tracker_12345=2",
              {"sid=1; Max-Age=999999", "_ga=1; Max-Age=60", "=", "_gid=1"});
  const auto records = harness.audit.take();
  const auto find = [&](std::string_view name) -> const CookieAuditRecord* {
    for (const auto& record : records) {
      if (record.name_pattern == name) return &record;
    }
    return nullptr;
  };
  const auto* sid = find("sid");
  REQUIRE(sid);
  CHECK(sid->how_set() == "server");
  CHECK(sid->domain == "www.example.gov.uk");
  CHECK(sid->category == "essential");
  CHECK(sid->rule == "p.yaml:6");
  CHECK(sid->max_requested_lifetime == 999999);
  CHECK(sid->max_enforced_lifetime == 2 * 86400);
  CHECK(sid->rewritten == 1);
  CHECK(sid->violations[static_cast<std::size_t>(CookieViolation::lifetime_over_policy)] == 1);
  CHECK(sid->violations[static_cast<std::size_t>(CookieViolation::missing_secure)] == 1);
  CHECK(sid->violations[static_cast<std::size_t>(CookieViolation::missing_http_only)] == 1);

  const auto* ga = find("_ga");
  REQUIRE(ga);
  CHECK(ga->removed == 1);
  CHECK(ga->violations[static_cast<std::size_t>(CookieViolation::set_before_consent)] == 1);

  const auto* ga4 = find("_ga_*");  // the rule's pattern, seen only in the request
  REQUIRE(ga4);
  CHECK(ga4->how_set() == "javascript");
  CHECK(ga4->expired == 1);

  const auto* tracker = find("tracker_*");  // unclassified: the name generalised
  REQUIRE(tracker);
  CHECK(tracker->violations[static_cast<std::size_t>(CookieViolation::unclassified)] == 1);
  CHECK(find("_gid"));
  CHECK(find("(unparseable)"));
  for (const auto& record : records) {
    const auto line = to_json_line(record);
    CHECK(line.find("GA1") == std::string::npos);
    CHECK(line.find("12345") == std::string::npos);
    CHECK(line.find("XYZ987") == std::string::npos);
  }
}

namespace {

// The Set-Cookies veil's consent POST answers with, recording `granted` (category names).
std::vector<std::string> consent_answer(const policies::Policy& policy,
                                        std::vector<std::string> granted) {
  const auto consent = policies::consent_for(policy, granted);
  return consent_set_cookies(policy, consent.granted, ConsentSaved::saved, true, kResponseDate);
}

std::vector<std::pair<std::string, std::string>> deletions_in(
    const std::vector<std::string>& values) {
  std::vector<std::pair<std::string, std::string>> deleted;
  for (const auto& value : values) {
    const auto cookie = parsed(value);
    if (cookie.is_deletion(kResponseDate)) {
      deleted.emplace_back(cookie.name(), cookie.domain().value_or("(host-only)"));
    }
  }
  std::sort(deleted.begin(), deleted.end());
  return deleted;
}

}  // namespace

TEST_CASE("withdrawing consent on veil's consent endpoint expires on that very response",
          "[cookie_filter]") {
  Harness harness;
  // The Consent filter answers the POST locally, so this filter's on_request never runs.
  harness.exchange = std::make_unique<Exchange>();
  Exchange& post = *harness.exchange;
  post.policy = harness.policy;
  post.tls = true;
  post.request.method(http::verb::post);
  post.request.target("/_veil/consent");
  post.request.set(http::field::host, "www.example.gov.uk");
  post.request.set(http::field::cookie, std::string(kUsageGranted) +
                                            "; _ga=GA1.2.3; lang=en; sid=s1; veil_consent_saved=x");
  harness.consent.on_request(post);
  REQUIRE(post.local_handler);
  post.response.result(http::status::see_other);
  post.response.set(http::field::date, kDate);
  const auto answer = consent_answer(*harness.policy, {"settings"});  // usage withdrawn
  for (const auto& value : answer) post.response.insert(http::field::set_cookie, value);
  harness.filter.on_response_head(post);

  const auto values = harness.set_cookies();
  // veil's own cookies pass untouched and first, in their order.
  REQUIRE(values.size() > answer.size());
  CHECK(std::vector<std::string>(values.begin(), values.begin() + answer.size()) == answer);
  // _ga (usage) goes now; lang (settings, still granted) and sid (essential) stay; veil's
  // confirmation flag is veil's own.
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"_ga", "(host-only)"}, {"_ga", "example.gov.uk"}, {"_ga", "www.example.gov.uk"}};
  CHECK(deletions_in(values) == expected);
  CHECK(harness.cache_control() == "private");
  CHECK(has_line(harness.metrics.render(),
                 R"(veil_cookies_expired_total{category="usage",mode="enforce"} 1)"));
}

TEST_CASE("a response recording consent is enforced under it, not under the request's",
          "[cookie_filter]") {
  Harness harness;
  // An origin page that records a refusal of usage (veil's cookie format) while the request
  // still carried the grant: its own _ga goes, and the _ga the request carried is expired.
  auto answer = consent_answer(*harness.policy, {"settings"});
  auto set_cookies = answer;
  set_cookies.push_back("_ga=GA1.9.9; Max-Age=3600");
  harness.run(std::string(kUsageGranted) + "; _ga=GA1.2.3", set_cookies);
  CHECK(harness.upstream_cookie() == std::string(kUsageGranted) + "; _ga=GA1.2.3");
  auto values = harness.set_cookies();
  CHECK(std::vector<std::string>(values.begin(), values.begin() + answer.size()) == answer);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"_ga", "(host-only)"}, {"_ga", "example.gov.uk"}, {"_ga", "www.example.gov.uk"}};
  CHECK(deletions_in(values) == expected);
  CHECK(std::none_of(values.begin(), values.end(),
                     [](const std::string& value) { return value.starts_with("_ga=GA1.9.9"); }));

  // The other way round: a response granting usage keeps the request's _ga (already stripped
  // upstream under the old refusal, but not expired in the browser) and its own _ga.
  answer = consent_answer(*harness.policy, {"usage"});
  set_cookies = answer;
  set_cookies.push_back("_ga=GA1.9.9; Max-Age=3600");
  harness.run(std::string(kUsageRefused) + "; _ga=GA1.2.3", set_cookies);
  CHECK(harness.upstream_cookie() == kUsageRefused);
  values = harness.set_cookies();
  CHECK(deletions_in(values).empty());
  CHECK(std::find(values.begin(), values.end(), "_ga=GA1.9.9; Max-Age=3600") != values.end());
}

TEST_CASE("veil's confirmation cookie is never stripped or expired", "[cookie_filter]") {
  Harness harness;
  harness.run(std::string(kUsageRefused) + "; veil_consent_saved=rejected", {});
  CHECK(harness.upstream_cookie() == std::string(kUsageRefused) + "; veil_consent_saved=rejected");
  CHECK(harness.set_cookies().empty());
}

TEST_CASE("Set-Cookies of one name keep their order when one of them changes", "[cookie_filter]") {
  Harness harness;
  // The rewritten sid must still come before the deletion that follows it, or the browser
  // would end up with the cookie instead of without it.
  harness.run(kUsageGranted, {"sid=a; Max-Age=999999", "_ga=1; Max-Age=60", "sid=; Max-Age=0"});
  auto values = harness.set_cookies();
  REQUIRE(values.size() == 3);
  CHECK(parsed(values[0]).name() == "sid");
  CHECK(parsed(values[0]).max_age() == 2 * 86400);
  CHECK(values[1] == "_ga=1; Max-Age=60");
  CHECK(values[2] == "sid=; Max-Age=0");

  // With distinct names, what passes unchanged stays; the changed ones follow.
  harness.run(kUsageGranted, {"sid=a; Max-Age=999999", "_ga=1; Max-Age=60", "unknown=1"});
  values = harness.set_cookies();
  REQUIRE(values.size() == 2);
  CHECK(values[0] == "_ga=1; Max-Age=60");
  CHECK(parsed(values[1]).max_age() == 2 * 86400);
}
