#include <catch2/catch.hpp>

#include <unistd.h>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "veil/proxy/cookie_audit.hpp"

using namespace veil::proxy;
using namespace std::chrono_literals;

namespace {

CookieObservation observation(std::string_view name, std::int64_t unix_seconds) {
  CookieObservation seen;
  seen.name_pattern = name;
  seen.domain = "www.example.gov.uk";
  seen.category = "usage";
  seen.rule = "p.yaml:9";
  seen.from_set_cookie = true;
  seen.requested_lifetime = 63072000;
  seen.enforced_lifetime = 33696000;
  seen.rewritten = true;
  seen.when = std::chrono::system_clock::time_point{std::chrono::seconds{unix_seconds}};
  return seen;
}

}  // namespace

TEST_CASE("cookie names lose their identifiers", "[cookie_audit]") {
  CHECK(generalise_cookie_name("_ga_ABC123") == "_ga_*");
  CHECK(generalise_cookie_name("_pk_id.1.1fff") == "_pk_id.*");
  CHECK(generalise_cookie_name("TS01a2b3c4") == "TS*");
  CHECK(generalise_cookie_name("wordpress_logged_in_5f4dcc3b") == "wordpress_logged_in_*");
  CHECK(generalise_cookie_name("session") == "session");
  CHECK(generalise_cookie_name("x-user@example.com") == "x-*.com");
  CHECK(generalise_cookie_name("123") == "*");
  CHECK(generalise_cookie_name(std::string(200, 'a')).size() <= 64);
}

TEST_CASE("observations aggregate per key; take starts afresh", "[cookie_audit]") {
  CookieAudit audit;
  audit.record(observation("_ga", 1000));
  auto later = observation("_ga", 2000);
  later.requested_lifetime.reset();  // a session cookie
  later.enforced_lifetime.reset();
  later.secure = true;
  later.violations[static_cast<std::size_t>(CookieViolation::lifetime_over_policy)] = true;
  audit.record(later);
  auto request = observation("_ga", 1500);
  request.from_set_cookie = false;
  request.rewritten = false;
  request.expired = true;
  audit.record(request);
  auto other_path = observation("_ga", 1200);
  other_path.path = "/app";
  audit.record(other_path);

  auto records = audit.take();
  REQUIRE(records.size() == 2);
  const auto& ga = records[0];  // sorted: "/" before "/app"
  CHECK(ga.path == "/");
  CHECK(ga.seen == 3);
  CHECK(ga.set_by_server == 2);
  CHECK(ga.sent_by_browser == 1);
  CHECK(ga.session == 1);
  CHECK(ga.rewritten == 2);
  CHECK(ga.expired == 1);
  CHECK(ga.secure == 1);
  CHECK(ga.first_seen == 1000);
  CHECK(ga.last_seen == 2000);
  CHECK(ga.max_requested_lifetime == 63072000);
  CHECK(ga.violations[static_cast<std::size_t>(CookieViolation::lifetime_over_policy)] == 1);
  CHECK(audit.take().empty());
}

TEST_CASE("observations without an action count only as seen", "[cookie_audit]") {
  CookieAudit audit;
  auto seen = observation("_ga", 1000);
  seen.rewritten = false;  // report-only: observed, not acted on
  audit.record(seen);
  const auto records = audit.take();
  REQUIRE(records.size() == 1);
  CHECK(records[0].removed + records[0].rewritten + records[0].expired == 0);
  CHECK(records[0].seen == 1);
}

TEST_CASE("JSON lines round-trip and merge across flushes and instances", "[cookie_audit]") {
  CookieAudit first, second;
  first.record(observation("_ga", 5000));
  auto early = observation("_ga", 100);
  early.violations[static_cast<std::size_t>(CookieViolation::missing_secure)] = true;
  second.record(early);
  second.record(observation("_ga", 100));

  const auto a = first.take().at(0);
  const auto b = second.take().at(0);
  const auto line = to_json_line(b);
  CHECK(line.find('\n') == std::string::npos);
  CHECK(line.find("\"first_seen\":\"1970-01-01T00:01:40Z\"") != std::string::npos);
  const auto parsed = parse_audit_line(line);
  CHECK(parsed.seen == 2);
  CHECK(parsed.first_seen == 100);
  CHECK(parsed.violations == b.violations);
  CHECK(parsed.max_enforced_lifetime == b.max_enforced_lifetime);

  auto merged = parse_audit_line(to_json_line(a));
  merged.merge(parsed);
  CHECK(merged.seen == 3);
  CHECK(merged.first_seen == 100);
  CHECK(merged.last_seen == 5000);
  CHECK(merged.violations[static_cast<std::size_t>(CookieViolation::missing_secure)] == 1);
}

TEST_CASE("bad audit lines say what is wrong", "[cookie_audit]") {
  CHECK_THROWS_WITH(parse_audit_line("{"), Catch::Contains("not JSON"));
  CHECK_THROWS_WITH(parse_audit_line("[]"), Catch::Contains("not a JSON object"));
  auto line = to_json_line(parse_audit_line(to_json_line([] {
    CookieAudit audit;
    audit.record(observation("_ga", 1));
    return audit.take().at(0);
  }())));
  auto broken = line;
  broken.replace(broken.find("\"seen\":1"), 8, "\"seen\":-1");
  CHECK_THROWS_WITH(parse_audit_line(broken), Catch::Contains("\"seen\" is not a count"));
  broken = line;
  broken.replace(broken.find("1970"), 4, "19x0");
  CHECK_THROWS_WITH(parse_audit_line(broken), Catch::Contains("first_seen"));
}

TEST_CASE("the audit is safe from many threads and bounded in keys", "[cookie_audit]") {
  CookieAudit audit;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&audit] {
      for (int i = 0; i < 2000; ++i) audit.record(observation(i % 2 ? "_ga" : "sid", 1000 + i));
    });
  }
  for (auto& thread : threads) thread.join();
  const auto records = audit.take();
  REQUIRE(records.size() == 2);
  CHECK(records[0].seen + records[1].seen == 8000);

  std::vector<std::string> names;
  for (std::size_t i = 0; i < CookieAudit::kMaxKeys + 10; ++i)
    names.push_back(std::to_string(i) + "n");
  for (const auto& name : names) audit.record(observation(name, 1));
  CHECK(audit.take().size() == CookieAudit::kMaxKeys);
  CHECK(audit.dropped() == 10);
}

TEST_CASE("the flusher appends on shutdown and records merge", "[cookie_audit]") {
  const auto path = std::filesystem::temp_directory_path() /
                    ("veil-audit-" + std::to_string(::getpid()) + ".jsonl");
  std::filesystem::remove(path);
  CookieAudit audit;
  {
    CookieAuditFlusher flusher(audit, path.string(), 3600s);
    audit.record(observation("_ga", 10));
    flusher.flush();
    audit.record(observation("_ga", 20));
  }  // the destructor writes the rest
  std::ifstream in(path);
  std::vector<CookieAuditRecord> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(parse_audit_line(line));
  std::filesystem::remove(path);
  REQUIRE(lines.size() == 2);
  lines[0].merge(lines[1]);
  CHECK(lines[0].seen == 2);
  CHECK(lines[0].first_seen == 10);
  CHECK(lines[0].last_seen == 20);
}

TEST_CASE("an unwritable audit file reports the error with its name", "[cookie_audit]") {
  CookieAudit audit;
  std::string error;
  {
    CookieAuditFlusher flusher(audit, "/nonexistent/dir/audit.jsonl", 3600s,
                               [&](const std::string& message) { error = message; });
    audit.record(observation("_ga", 10));
  }
  CHECK_THAT(error, Catch::Contains("/nonexistent/dir/audit.jsonl"));
}
