// CPU cost of the CookiePolicy filter per exchange, single thread: on_request and on_response_head
// (with the Consent filter's on_request before it, which reads the consent it acts on) on a
// realistic council exchange under policies/council-default.yaml (issue 5's bench case):
// the request carries 10 cookies (consent, sign-in, anti-forgery, load balancer, analytics), the
// origin sets 5 (a session cookie without Secure, a 30-day "remember me", a 2-year `_ga` on the
// parent domain, `_gid`, a load-balancer cookie).
//
//   bench_cookie_filter [CPU seconds per case, default 2] [accepted|rejected: that case only]
//
// Cases: "accepted" (the visitor accepted every category: cookies pass, lifetimes are capped,
// attributes added) and "rejected" (analytics cookies stripped upstream, removed from the
// response and expired on the host and its parent domain), each without and with the cookie
// audit. Building the two heads is timed separately and subtracted. Output: one line per case,
// tab-separated: case, audit, ns per exchange (filter only), ns per exchange (heads only).
#include <fmt/core.h>

#include <time.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "veil/policies/loader.hpp"
#include "veil/proxy/consent_filter.hpp"
#include "veil/proxy/cookie_audit.hpp"
#include "veil/proxy/cookie_policy_filter.hpp"
#include "veil/proxy/metrics.hpp"
#include "veil/proxy/public_suffix.hpp"

using namespace veil::proxy;
namespace http = boost::beast::http;

namespace {

constexpr std::string_view kAccepted =
    R"(cookies_policy={"essential":true,"settings":true,"usage":true,"campaigns":true})";
constexpr std::string_view kRejected =
    R"(cookies_policy={"essential":true,"settings":false,"usage":false,"campaigns":false})";

std::string request_cookies(std::string_view consent) {
  return std::string(consent) +
         "; cookies_preferences_set=true; ASP.NET_SessionId=k3j4h5g6f7d8s9a0q1w2e3r4; "
         "_ga=GA1.1.1234567890.1700000000; _ga_ABC123DEF4=GS1.1.1700000000.3.1.1700000100.0.0.0; "
         "_gid=GA1.3.987654321.1700000000; "
         "__RequestVerificationToken=CfDJ8Nq1-2RtVxYz_abcdefghijklmnopqrstuvwxyz0123456789; "
         "ARRAffinity=5f2c1e0d9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e; "
         "nmstat=a1b2c3d4-e5f6-7a8b-9c0d-e1f2a3b4c5d6; _hjSessionUser_1234567=eyJpZCI6IjEyMyJ9";
}

const std::vector<std::string> kSetCookies = {
    "ASP.NET_SessionId=z9y8x7w6v5u4t3s2r1q0p9o8; path=/; HttpOnly; SameSite=Lax",
    "remember_me=1a2b3c4d5e6f7a8b9c0d; expires=Wed, 23 Dec 2026 10:00:00 GMT; path=/; HttpOnly",
    "_ga=GA1.1.1234567890.1700000000; Max-Age=63072000; Domain=.example.gov.uk; Path=/",
    "_gid=GA1.3.987654321.1700000000; Max-Age=86400; Path=/",
    "ARRAffinity=5f2c1e0d9b8a7f6e5d4c3b2a1f0e9d8c; Path=/; HttpOnly; Domain=www.example.gov.uk",
};

double thread_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

void build_request(Exchange& exchange, const std::shared_ptr<const void>& policy,
                   const std::string& cookies) {
  exchange.policy = policy;
  exchange.tls = true;
  exchange.request.method(http::verb::get);
  exchange.request.target("/bins-and-recycling/collections?postcode=AB1+2CD");
  exchange.request.set(http::field::host, "www.example.gov.uk");
  exchange.request.set(http::field::user_agent, "Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0");
  exchange.request.set(http::field::cookie, cookies);
}

void build_response(Exchange& exchange) {
  exchange.response.result(http::status::ok);
  exchange.response.set(http::field::date, "Mon, 23 Nov 2026 10:00:00 GMT");
  exchange.response.set(http::field::content_type, "text/html; charset=utf-8");
  exchange.response.set(http::field::cache_control, "no-cache");
  for (const auto& value : kSetCookies) exchange.response.insert(http::field::set_cookie, value);
}

// ns per exchange of building the heads, with (`filter` set, `consent` running before it) or
// without running the filters.
double measure(ConsentFilter& consent, CookiePolicyFilter* filter,
               const std::shared_ptr<const void>& policy, const std::string& cookies,
               double seconds) {
  std::uint64_t exchanges = 0;
  const double start = thread_cpu_seconds();
  double elapsed = 0;
  do {
    for (int i = 0; i < 1000; ++i) {
      Exchange exchange;
      build_request(exchange, policy, cookies);
      if (filter != nullptr) {
        consent.on_request(exchange);
        filter->on_request(exchange);
      }
      build_response(exchange);
      if (filter != nullptr) filter->on_response_head(exchange);
    }
    exchanges += 1000;
    elapsed = thread_cpu_seconds() - start;
  } while (elapsed < seconds);
  return elapsed * 1e9 / static_cast<double>(exchanges);
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  const std::string policy_path = std::string(VEIL_SOURCE_DIR) + "/policies/council-default.yaml";
  auto loaded = veil::policies::load_policy(policy_path);
  if (!loaded.ok()) {
    fmt::print(stderr, "bench_cookie_filter: cannot load {}\n", policy_path);
    return 1;
  }
  const std::shared_ptr<const void> policy = loaded.policy;
  const PublicSuffixList suffixes = PublicSuffixList::parse("uk\ngov.uk\nco.uk\n");

  fmt::print("case\taudit\tfilter_ns_per_exchange\theads_ns_per_exchange\n");
  const std::string_view only = argc > 2 ? argv[2] : "";
  ConsentFilter consent("2026-11-23");
  for (std::string_view consent_cookie : {kAccepted, kRejected}) {
    const std::string_view name = consent_cookie == kAccepted ? "accepted" : "rejected";
    if (!only.empty() && only != name) continue;
    const std::string cookies = request_cookies(consent_cookie);
    const double heads = measure(consent, nullptr, policy, cookies, seconds);
    for (bool with_audit : {false, true}) {
      MetricsRegistry metrics;
      CookieAudit audit;
      CookiePolicyFilter filter(consent, metrics, suffixes, with_audit ? &audit : nullptr);
      const double total = measure(consent, &filter, policy, cookies, seconds);
      fmt::print("{}\t{}\t{:.0f}\t{:.0f}\n", name, with_audit ? "on" : "off", total - heads, heads);
    }
  }
  return 0;
}
