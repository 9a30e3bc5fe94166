#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "veil/policies/loader.hpp"

using namespace veil::policies;

namespace {

// Loads `text` as "test.yaml" and returns every diagnostic as printed by `veil policy check`.
std::vector<std::string> diagnostics_of(const std::string& text, const std::string& base = {}) {
  auto result = load_policy_from_string(text, "test.yaml", base);
  std::vector<std::string> lines;
  for (const auto& diagnostic : result.diagnostics) lines.push_back(to_string(diagnostic));
  return lines;
}

std::shared_ptr<const Policy> load_ok(const std::string& text) {
  auto result = load_policy_from_string(text, "test.yaml");
  for (const auto& diagnostic : result.diagnostics) INFO(to_string(diagnostic));
  REQUIRE(result.ok());
  return result.policy;
}

// A temporary directory removed at the end of the test.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char pattern[] = "/tmp/veil-policy-test-XXXXXX";
    path = mkdtemp(pattern);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string write(const std::string& name, const std::string& content, int mode) const {
    auto file = path / name;
    std::ofstream(file) << content;
    ::chmod(file.c_str(), static_cast<mode_t>(mode));
    return file.string();
  }
};

}  // namespace

TEST_CASE("a minimal policy gets the documented defaults", "[loader]") {
  auto policy = load_ok("version: 1\n");
  CHECK(to_string(policy->listen) == "0.0.0.0:8080");
  CHECK(to_string(policy->admin.listen) == "127.0.0.1:9901");
  CHECK(policy->limits.header_line_bytes == 8192);
  CHECK(policy->limits.header_total_bytes == 32768);
  CHECK(policy->limits.header_fields == 100);
  CHECK(policy->limits.body_bytes == 1024 * 1024);
  CHECK(policy->limits.header_timeout == std::chrono::seconds(10));
  CHECK(policy->forward_client_ip == ForwardClientIp::anonymised);
  CHECK(policy->mode == Mode::enforce);
  CHECK(policy->cookies.unclassified == Unclassified::block);
  REQUIRE(policy->consent.categories.size() == 4);
  CHECK(policy->consent.categories[0].name == "essential");
  CHECK(policy->consent.categories[0].always_on);
  CHECK(policy->consent.categories[2].name == "usage");
  CHECK_FALSE(policy->consent.categories[2].always_on);
  CHECK(policy->consent.cookie_name == "cookies_policy");
  CHECK(policy->consent.preferences_set_cookie == "cookies_preferences_set");
  CHECK(policy->consent.cookie_max_age == std::chrono::hours(24 * 365));
  CHECK(policy->consent.honour_gpc);
  // The default honour list maps OneTrust's groups onto GOV.UK's categories.
  auto onetrust = std::find_if(policy->consent.honour.begin(), policy->consent.honour.end(),
                               [](const auto& h) { return h.format == ConsentFormat::onetrust; });
  REQUIRE(onetrust != policy->consent.honour.end());
  CHECK(onetrust->map_category("C0002") == policy->category_id("usage"));
  CHECK_FALSE(onetrust->map_category("C0009"));
}

TEST_CASE("every section is read into the model", "[loader]") {
  auto policy = load_ok(R"(version: 1
listen: "[::]:8443"
upstreams:
  - name: main
    url: http://127.0.0.1:8081
  - name: jobs
    url: https://jobs.internal:9443/
    hosts: [jobs.example.gov.uk, "*.jobs.example.gov.uk"]
trusted_proxies: [10.0.0.0/8, "2001:db8::/32"]
forward_client_ip: none
admin: {listen: 127.0.0.1:9999}
limits: {header_line: 4k, body: 2MiB, idle_timeout: 1m30s, max_connections: 500}
access_log: {path: /var/log/veil/access.log, format: json}
anonymise:
  method: truncate
  ipv4_prefix: 16
  pii_rules:
    - {name: ticket, pattern: "TKT-[0-9]+", marker: "[ticket]"}
  scrub: [email, ticket]
audit: {path: audit.jsonl, flush_interval: 5m}
mode: report-only
routes:
  - {path: /beta/, mode: enforce}
consent:
  categories:
    essential: {description: Needed}
    stats: {description: Counting}
  honour:
    - {format: cookiebot, map: {statistics: stats}}
  honour_gpc: false
  banner: {service_name: Test Council}
cookies:
  unclassified: allow
  rules:
    - {name: sid, category: essential, max_age: 2d, secure: true, http_only: true, same_site: strict}
    - {glob: "_ga_*", category: stats, max_age: 13mo, provider: Google}
embeds:
  - {hosts: [www.youtube.com], category: stats, provider: YouTube}
)");
  CHECK(to_string(policy->listen) == "[::]:8443");
  REQUIRE(policy->upstreams.size() == 2);
  CHECK(policy->upstreams[1].scheme == "https");
  CHECK(policy->upstreams[1].host == "jobs.internal");
  CHECK(policy->upstreams[1].port == 9443);
  CHECK(policy->upstreams[0].port == 8081);
  CHECK(policy->upstream_for_host("jobs.example.gov.uk:443")->name == "jobs");
  CHECK(policy->upstream_for_host("a.jobs.example.gov.uk")->name == "jobs");
  CHECK(policy->upstream_for_host("www.example.gov.uk")->name == "main");
  REQUIRE(policy->trusted_proxies.size() == 2);
  CHECK(policy->is_trusted_proxy(*veil::anonymiser::IpAddress::parse("10.9.8.7")));
  CHECK_FALSE(policy->is_trusted_proxy(*veil::anonymiser::IpAddress::parse("192.0.2.1")));
  CHECK(policy->trusted_proxies[1].prefix_length == 32);
  CHECK(policy->forward_client_ip == ForwardClientIp::none);
  CHECK(policy->admin.listen.port == 9999);
  CHECK(policy->limits.header_line_bytes == 4096);
  CHECK(policy->limits.body_bytes == 2 * 1024 * 1024);
  CHECK(policy->limits.idle_timeout == std::chrono::seconds(90));
  CHECK(policy->limits.max_connections == 500);
  CHECK(policy->access_log.format == AccessLogFormat::json);
  CHECK(policy->anonymise.ipv4_prefix == 16);
  CHECK(policy->anonymise.pii_rules.back().name == "ticket");
  CHECK(policy->anonymise.scrub == std::vector<std::string>{"email", "ticket"});
  CHECK(policy->audit.path == "audit.jsonl");
  CHECK(policy->audit.flush_interval == std::chrono::minutes(5));
  CHECK(policy->mode_for_path("/beta/page") == Mode::enforce);
  CHECK(policy->mode_for_path("/other") == Mode::report_only);
  REQUIRE(policy->consent.categories.size() == 2);
  CHECK(policy->consent.categories[0].always_on);
  CHECK(policy->consent.honour.size() == 1);
  CHECK(policy->consent.honour[0].format == ConsentFormat::cookiebot);
  CHECK(policy->consent.honour[0].map_category("statistics") == CategoryId{1});
  CHECK_FALSE(policy->consent.honour_gpc);
  CHECK(policy->consent.banner.service_name == "Test Council");
  REQUIRE(policy->cookies.rules.size() == 2);
  const auto& sid = policy->cookies.rules[0];
  CHECK(sid.max_age == std::chrono::hours(48));
  CHECK(sid.required.secure);
  CHECK(sid.required.http_only);
  CHECK(sid.required.same_site == SameSite::strict);
  CHECK(sid.where.line == 35);
  CHECK(policy->classify_cookie("_ga_ABC123") == &policy->cookies.rules[1]);
  CHECK(policy->classify_cookie("_gid") == nullptr);
  CHECK(policy->embed_for_host("WWW.YouTube.com")->provider == "YouTube");
}

TEST_CASE("YAML syntax errors carry their position", "[loader][diagnostics]") {
  CHECK(diagnostics_of("version: 1\nlisten: [unclosed\n") ==
        std::vector<std::string>{
            "test.yaml:3:1: error: YAML syntax: end of sequence flow not found"});
  CHECK(diagnostics_of("") ==
        std::vector<std::string>{
            "test.yaml:1:1: error: the policy is empty: it needs at least 'version: 1'"});
}

TEST_CASE("version is required and must be 1", "[loader][diagnostics]") {
  CHECK(diagnostics_of("mode: enforce\n") ==
        std::vector<std::string>{
            "test.yaml:1:1: error: missing 'version: 1' at the top of the policy"});
  CHECK(diagnostics_of("version: 2\n") ==
        std::vector<std::string>{
            "test.yaml:1:10: error: unsupported policy version '2': this veil reads version 1"});
}

TEST_CASE("unknown keys are reported with a did-you-mean", "[loader][diagnostics]") {
  CHECK(diagnostics_of("version: 1\nlsten: 0.0.0.0:80\n") ==
        std::vector<std::string>{
            "test.yaml:2:1: error: unknown key 'lsten'; did you mean 'listen'?"});
  CHECK(
      diagnostics_of("version: 1\nlimits:\n  header_timout: 5s\n") ==
      std::vector<std::string>{"test.yaml:3:3: error: unknown key 'header_timout' in 'limits'; did "
                               "you mean 'header_timeout'?"});
  // Nothing close: no suggestion.
  CHECK(diagnostics_of("version: 1\nfrobnicate: yes\n") ==
        std::vector<std::string>{"test.yaml:2:1: error: unknown key 'frobnicate'"});
  CHECK(diagnostics_of("version: 1\ncookies:\n  rules:\n    - name: a\n      catgory: usage\n") ==
        std::vector<std::string>{"test.yaml:4:7: error: 'cookies.rules[0]' needs a 'category'",
                                 "test.yaml:5:7: error: unknown key 'catgory' in "
                                 "'cookies.rules[0]'; did you mean 'category'?"});
}

TEST_CASE("duplicate keys are errors", "[loader][diagnostics]") {
  CHECK(diagnostics_of("version: 1\nmode: enforce\nmode: report-only\n") ==
        std::vector<std::string>{"test.yaml:3:1: error: duplicate key 'mode' (first at line 2)"});
}

TEST_CASE("wrong types and bad words name the key", "[loader][diagnostics]") {
  CHECK(diagnostics_of("version: 1\nlimits: 5\n") ==
        std::vector<std::string>{
            "test.yaml:2:9: error: expected a mapping for 'limits', got a single value"});
  CHECK(diagnostics_of("version: 1\nupstreams: {name: a}\n") ==
        std::vector<std::string>{
            "test.yaml:2:12: error: expected a list for 'upstreams', got a mapping"});
  CHECK(diagnostics_of("version: 1\nconsent:\n  honour_gpc: yes\n") ==
        std::vector<std::string>{
            "test.yaml:3:15: error: expected true or false for 'consent.honour_gpc', got 'yes'"});
  CHECK(diagnostics_of("version: 1\nmode: enforced\n") ==
        std::vector<std::string>{
            "test.yaml:2:7: error: invalid value 'enforced' for 'mode': expected "
            "enforce or report-only; did you mean 'enforce'?"});
  CHECK(diagnostics_of("version: 1\nlimits: {header_fields: -3}\n") ==
        std::vector<std::string>{
            "test.yaml:2:25: error: expected a whole number from 1 to 1000000 for "
            "'limits.header_fields', got '-3'"});
  CHECK(diagnostics_of("version: 1\nlisten: 8080\n") ==
        std::vector<std::string>{
            "test.yaml:2:9: error: invalid address '8080' for 'listen': expected "
            "IP:PORT, e.g. 0.0.0.0:8080 or [::]:8443"});
}

TEST_CASE("bad durations and sizes", "[loader][diagnostics]") {
  CHECK(
      diagnostics_of("version: 1\nlimits:\n  header_timeout: 10 seconds\n  body: 1 megabyte\n") ==
      std::vector<std::string>{
          "test.yaml:3:19: error: invalid duration '10 seconds' for 'limits.header_timeout': "
          "expected "
          "a number and a unit (s, m, h, d, w, mo, y), e.g. 30m, 14d, 13mo",
          "test.yaml:4:9: error: invalid size '1 megabyte' for 'limits.body': expected bytes or a "
          "number with KiB, MiB or GiB, e.g. 8KiB, 1MiB"});
  CHECK(
      diagnostics_of("version: 1\nlimits: {header_line: 64KiB}\n") ==
      std::vector<std::string>{"test.yaml:2:9: error: 'limits.header_line' (65536 bytes) is larger "
                               "than 'limits.header_total' (32768 bytes)"});
}

TEST_CASE("bad CIDRs, and host bits set", "[loader][diagnostics]") {
  CHECK(diagnostics_of("version: 1\ntrusted_proxies: [10.0.0.0/33, bogus, 10.1.2.3/8]\n") ==
        std::vector<std::string>{
            "test.yaml:2:19: error: invalid CIDR '10.0.0.0/33' in 'trusted_proxies': expected a "
            "network such as 10.0.0.0/8 or 2001:db8::/32",
            "test.yaml:2:32: error: invalid CIDR 'bogus' in 'trusted_proxies': expected a network "
            "such "
            "as 10.0.0.0/8 or 2001:db8::/32",
            "test.yaml:2:39: warning: CIDR '10.1.2.3/8' has host bits set; it means 10.0.0.0/8"});
}

TEST_CASE("bad URLs and upstream routing conflicts", "[loader][diagnostics]") {
  CHECK(diagnostics_of("version: 1\nupstreams:\n  - {name: a, url: 'ftp://x'}\n") ==
        std::vector<std::string>{
            "test.yaml:3:20: error: invalid URL 'ftp://x' for 'upstreams[0].url': "
            "the scheme must be http or https"});
  CHECK(diagnostics_of("version: 1\nupstreams:\n  - {name: a, url: 'http://h:99999'}\n") ==
        std::vector<std::string>{"test.yaml:3:20: error: invalid URL 'http://h:99999' for "
                                 "'upstreams[0].url': expected http://HOST[:PORT] with no path"});
  CHECK(diagnostics_of("version: 1\nupstreams:\n  - {name: a, url: 'http://h/app'}\n") ==
        std::vector<std::string>{"test.yaml:3:20: error: invalid URL 'http://h/app' for "
                                 "'upstreams[0].url': expected http://HOST[:PORT] with no path"});
  CHECK(diagnostics_of("version: 1\nupstreams:\n  - {name: a, url: 'http://h'}\n"
                       "  - {name: b, url: 'http://i'}\n") ==
        std::vector<std::string>{"test.yaml:4:5: error: only one upstream may omit 'hosts' (the "
                                 "default); another is at test.yaml:3"});
  CHECK(diagnostics_of("version: 1\nupstreams:\n  - {name: a, url: 'http://h', hosts: [x.uk]}\n"
                       "  - {name: a, url: 'http://i', hosts: [X.uk]}\n") ==
        std::vector<std::string>{
            "test.yaml:4:12: error: upstream name 'a' is already used at test.yaml:3",
            "test.yaml:4:40: error: host 'X.uk' is already routed by the upstream at test.yaml:3"});
}

TEST_CASE("invalid RE2 patterns carry RE2's own message", "[loader][diagnostics]") {
  CHECK(diagnostics_of("version: 1\ncookies:\n  rules:\n    - {regex: '(a', category: usage}\n") ==
        std::vector<std::string>{"test.yaml:4:15: error: invalid regex '(a' for "
                                 "'cookies.rules[0].regex': missing ): (a"});
  CHECK(diagnostics_of("version: 1\nanonymise:\n  pii_rules:\n    - {name: x, pattern: 'a**'}\n") ==
        std::vector<std::string>{"test.yaml:4:26: error: invalid regex 'a**' for "
                                 "'anonymise.pii_rules[0].pattern': bad repetition operator: **"});
}

TEST_CASE("categories that are referenced but not defined", "[loader][diagnostics]") {
  CHECK(diagnostics_of(
            "version: 1\ncookies:\n  rules:\n    - {name: a, category: usge, max_age: 1d}\n") ==
        std::vector<std::string>{
            "test.yaml:4:27: error: category 'usge' for 'cookies.rules[0].category' "
            "is not defined in consent.categories; did you mean 'usage'?"});
  CHECK(diagnostics_of(
            "version: 1\nembeds:\n  - {hosts: [a.com], category: marketing, provider: A}\n") ==
        std::vector<std::string>{
            "test.yaml:3:32: error: category 'marketing' for 'embeds[0].category' is "
            "not defined in consent.categories (defined: essential, settings, "
            "usage, campaigns)"});
  // Referenced before the consent section that defines it: still resolved.
  CHECK(diagnostics_of(
            "version: 1\ncookies:\n  rules:\n    - {name: a, category: stats, max_age: 1d}\n"
            "consent:\n  categories:\n    essential: {}\n    stats: {}\n")
            .empty());
  CHECK(
      diagnostics_of(
          "version: 1\nconsent:\n  honour:\n    - {format: onetrust, map: {C0002: analytics}}\n") ==
      std::vector<std::string>{"test.yaml:4:39: error: category 'analytics' for "
                               "'consent.honour[0].map.C0002' is not defined in consent.categories "
                               "(defined: essential, settings, usage, campaigns)"});
  CHECK(diagnostics_of("version: 1\nconsent:\n  honour:\n    - {format: onetrst, map: {}}\n") ==
        std::vector<std::string>{
            "test.yaml:4:16: error: unknown consent format 'onetrst' for "
            "'consent.honour[0].format': expected govuk, civic, orestbida, klaro, "
            "cookiebot, onetrust or complianz; did you mean 'onetrust'?"});
  CHECK(diagnostics_of("version: 1\nconsent:\n  categories:\n    usage: {}\n") ==
        std::vector<std::string>{
            "test.yaml:4:5: error: 'consent.categories' needs an always-on category "
            "for essential cookies (e.g. 'essential')"});
}

TEST_CASE("a cookie rule shadowed by an earlier one is an error", "[loader][diagnostics]") {
  CHECK(diagnostics_of("version: 1\ncookies:\n  rules:\n"
                       "    - {glob: '_ga*', category: usage, max_age: 13mo}\n"
                       "    - {glob: '_ga_*', category: usage, max_age: 13mo}\n") ==
        std::vector<std::string>{
            "test.yaml:5:7: error: cookie rule '_ga_*' never applies: rule '_ga*' at "
            "test.yaml:4 comes first and matches every cookie it matches"});
  CHECK(diagnostics_of("version: 1\ncookies:\n  rules:\n"
                       "    - {regex: '_pk_(id|ses)\\..*', category: usage, max_age: 13mo}\n"
                       "    - {name: _pk_id.1.ab, category: usage, max_age: 13mo}\n") ==
        std::vector<std::string>{
            "test.yaml:5:7: error: cookie rule '_pk_id.1.ab' never applies: rule "
            "'_pk_(id|ses)\\..*' at test.yaml:4 comes first and matches every cookie "
            "it matches"});
  // The narrower rule first is the right order; a domain condition on the earlier rule narrows it.
  CHECK(diagnostics_of("version: 1\ncookies:\n  rules:\n"
                       "    - {glob: '_ga_*', category: usage, max_age: 13mo}\n"
                       "    - {glob: '_ga*', category: usage, max_age: 13mo}\n"
                       "    - {name: sid, domain: a.example.gov.uk, category: essential}\n"
                       "    - {name: sid, category: essential}\n")
            .empty());
}

TEST_CASE("cookie rule checks", "[loader][diagnostics]") {
  CHECK(diagnostics_of(
            "version: 1\ncookies:\n  rules:\n    - {name: a, glob: 'b*', category: usage}\n") ==
        std::vector<std::string>{"test.yaml:4:7: error: 'cookies.rules[0]' needs exactly one of "
                                 "'name', 'glob' or 'regex'"});
  CHECK(
      diagnostics_of(
          "version: 1\ncookies:\n  rules:\n    - {name: a, category: usage, max_age: 2 days}\n") ==
      std::vector<std::string>{
          "test.yaml:4:43: error: invalid duration '2 days' for "
          "'cookies.rules[0].max_age': expected a number and a unit (s, m, h, d, "
          "w, mo, y), e.g. 30m, 14d, 13mo"});
  CHECK(diagnostics_of("version: 1\ncookies:\n  rules:\n"
                       "    - {name: a, category: usage, max_age: 1d, same_site: none}\n") ==
        std::vector<std::string>{
            "test.yaml:4:58: error: 'cookies.rules[0].same_site' none needs 'secure: "
            "true': browsers reject SameSite=None cookies without Secure"});
  CHECK(diagnostics_of(
            "version: 1\ncookies:\n  rules:\n    - {name: a, category: usage, max_age: 2y}\n") ==
        std::vector<std::string>{"test.yaml:4:43: warning: max_age 2y of 'a' is over the 400 days "
                                 "browsers allow; they will cap it"});
  CHECK(diagnostics_of("version: 1\ncookies:\n  rules:\n    - {name: a, category: usage}\n") ==
        std::vector<std::string>{"test.yaml:4:7: warning: cookie rule 'a' (category usage) has no "
                                 "max_age: its lifetime is not capped"});
}

TEST_CASE("embed host checks", "[loader][diagnostics]") {
  CHECK(diagnostics_of(
            "version: 1\nembeds:\n"
            "  - {hosts: [www.youtube.com, 'www.*.com'], category: campaigns, provider: Y}\n"
            "  - {hosts: [WWW.youtube.com], category: campaigns, provider: Y}\n") ==
        std::vector<std::string>{
            "test.yaml:3:31: error: invalid host 'www.*.com' in 'embeds[0].hosts': expected a host "
            "name "
            "or *.domain",
            "test.yaml:4:14: error: host 'WWW.youtube.com' is already listed at test.yaml:3"});
}

TEST_CASE("risky but legal choices are warnings", "[loader][diagnostics]") {
  auto result = load_policy_from_string(
      "version: 1\nforward_client_ip: real\ncookies: {unclassified: allow}\nadmin: {listen: "
      "0.0.0.0:9901}\nanonymise: {ipv4_prefix: 32}\n",
      "test.yaml");
  CHECK(result.ok());
  std::vector<std::string> lines;
  for (const auto& diagnostic : result.diagnostics) lines.push_back(to_string(diagnostic));
  CHECK(lines == std::vector<std::string>{"test.yaml:2:20: warning: 'forward_client_ip: real' "
                                          "sends every visitor's raw address to the "
                                          "origin, and no 'trusted_proxies' are set",
                                          "test.yaml:3:25: warning: 'cookies.unclassified: allow' "
                                          "in enforce mode lets cookies no rule "
                                          "knows through without consent",
                                          "test.yaml:4:17: warning: the admin endpoints listen on "
                                          "0.0.0.0:9901, which is not a loopback "
                                          "address: /metrics becomes reachable from the network",
                                          "test.yaml:5:12: warning: truncating to /32 (IPv4) and "
                                          "/48 (IPv6) keeps more than /24 and "
                                          "/48: addresses may stay identifying"});
  // The same choices with their mitigations are silent.
  CHECK(diagnostics_of("version: 1\nforward_client_ip: real\ntrusted_proxies: [10.0.0.0/8]\n"
                       "mode: report-only\ncookies: {unclassified: allow}\n")
            .empty());
}

TEST_CASE("key files: missing, world-readable, required", "[loader][diagnostics]") {
  TempDir dir;
  dir.write("good.key", std::string(64, 'a'), 0600);
  dir.write("open.key", std::string(64, 'a'), 0644);
  const std::string base = dir.path.string();
  CHECK(
      diagnostics_of("version: 1\nanonymise: {method: hash, key_file: good.key}\n", base).empty());
  CHECK(diagnostics_of("version: 1\nanonymise: {method: hash, key_file: open.key}\n", base) ==
        std::vector<std::string>{
            "test.yaml:2:37: error: key file '" + base +
            "/open.key' for 'anonymise.key_file' is readable by every user (mode "
            "0644); run chmod 600 on it"});
  CHECK(diagnostics_of("version: 1\nanonymise: {method: hash, key_file: none.key}\n", base) ==
        std::vector<std::string>{
            "test.yaml:2:37: error: key file '" + base +
            "/none.key' for 'anonymise.key_file' does not exist or cannot be read"});
  CHECK(diagnostics_of("version: 1\nanonymise: {method: cryptopan}\n") ==
        std::vector<std::string>{
            "test.yaml:2:12: error: 'anonymise.key_file' is required for method 'cryptopan'"});
}

TEST_CASE("TLS files that do not load", "[loader][diagnostics]") {
  TempDir dir;
  const std::string base = dir.path.string();
  dir.write("not-a-cert.pem", "hello\n", 0644);
  dir.write("key.pem", "hello\n", 0600);
  CHECK(diagnostics_of("version: 1\ntls: {certificate: not-a-cert.pem, key: key.pem}\n", base) ==
        std::vector<std::string>{"test.yaml:2:20: error: cannot load TLS certificate '" + base +
                                 "/not-a-cert.pem': no start line"});
  CHECK(diagnostics_of("version: 1\ntls: {certificate: missing.pem, key: key.pem}\n", base) ==
        std::vector<std::string>{"test.yaml:2:20: error: TLS certificate '" + base +
                                 "/missing.pem' does not exist or cannot be read"});
  CHECK(diagnostics_of("version: 1\ntls: {certificate: missing.pem}\n", base) ==
        std::vector<std::string>{"test.yaml:2:6: error: 'tls' needs 'key'"});
}

TEST_CASE("a policy file that cannot be read", "[loader][diagnostics]") {
  auto result = load_policy("/nonexistent/policy.yaml");
  CHECK_FALSE(result.ok());
  REQUIRE(result.diagnostics.size() == 1);
  CHECK(to_string(result.diagnostics[0]) ==
        "/nonexistent/policy.yaml: error: cannot read the policy file");
}

TEST_CASE("every shipped policy loads", "[loader][shipped]") {
  for (const char* name : {"council-default.yaml", "report-only.yaml"}) {
    auto result = load_policy(std::string(VEIL_SOURCE_DIR) + "/policies/" + name);
    for (const auto& diagnostic : result.diagnostics) UNSCOPED_INFO(to_string(diagnostic));
    CHECK(result.ok());
    CHECK(result.diagnostics.empty());
  }
  // strict.yaml reads its hash key from beside itself.
  TempDir dir;
  std::filesystem::copy_file(std::string(VEIL_SOURCE_DIR) + "/policies/strict.yaml",
                             dir.path / "strict.yaml");
  dir.write("anonymise.key", std::string(64, 'b') + "\n", 0600);
  auto strict = load_policy((dir.path / "strict.yaml").string());
  for (const auto& diagnostic : strict.diagnostics) UNSCOPED_INFO(to_string(diagnostic));
  REQUIRE(strict.ok());
  CHECK(strict.policy->anonymise.rotation == veil::anonymiser::Rotation::daily);
  CHECK(strict.policy->anonymise.method == veil::anonymiser::Method::hash);
  CHECK_FALSE(strict.policy->anonymise.scrub.has_value());  // all PII rules
}

TEST_CASE("the council default keeps its promises", "[loader][shipped]") {
  auto result = load_policy(std::string(VEIL_SOURCE_DIR) + "/policies/council-default.yaml");
  REQUIRE(result.ok());
  const auto& policy = *result.policy;
  const auto thirteen_months = std::chrono::hours(24 * 390);
  for (const auto& rule : policy.cookies.rules) {
    INFO(rule.pattern);
    if (!policy.always_on(rule.category)) {
      REQUIRE(rule.max_age);
      CHECK(*rule.max_age <= thirteen_months);
    }
  }
  CHECK(policy.classify_cookie("PHPSESSID")->max_age == std::chrono::hours(48));
  CHECK(policy.classify_cookie("remember_me")->max_age == std::chrono::hours(24 * 14));
  CHECK(policy.category_name(policy.classify_cookie("_ga_XYZ123")->category) == "usage");
  CHECK(policy.category_name(policy.classify_cookie("_fbp")->category) == "campaigns");
  CHECK(policy.category_name(policy.classify_cookie("BIGipServerpool_web")->category) ==
        "essential");
  CHECK(policy.category_name(policy.classify_cookie("TS01a2b3c4")->category) == "essential");
  CHECK(policy.category_name(policy.classify_cookie("OptanonConsent")->category) == "essential");
  CHECK(policy.classify_cookie("unknown_cookie") == nullptr);
  CHECK(policy.embed_for_host("www.youtube-nocookie.com")->provider == "YouTube");
  CHECK(policy.embed_for_host("player.vimeo.com")->provider == "Vimeo");
  CHECK(policy.category_name(policy.embed_for_host("www.googletagmanager.com")->category) ==
        "usage");
  CHECK(policy.embed_for_host("www.example.gov.uk") == nullptr);
  CHECK(policy.anonymise.method == veil::anonymiser::Method::truncate);
  CHECK(policy.anonymise.ipv4_prefix == 24);
}
