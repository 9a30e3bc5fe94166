#include <catch2/catch.hpp>
#include <string>

#include "veil/policies/policy_cases.hpp"

using namespace veil::policies;

namespace {

std::shared_ptr<const Policy> policy() {
  static auto loaded = load_policy_from_string(R"(version: 1
cookies:
  rules:
    - {name: sid, category: essential, max_age: 2d}
    - {name: _ga, category: usage, max_age: 13mo}
embeds:
  - {hosts: [www.youtube.com], category: campaigns, provider: YouTube}
routes:
  - {path: /beta/, mode: report-only}
)",
                                               "p.yaml");
  REQUIRE(loaded.ok());
  return loaded.policy;
}

std::vector<std::string> lines(const std::vector<Diagnostic>& diagnostics) {
  std::vector<std::string> out;
  for (const auto& diagnostic : diagnostics) out.push_back(to_string(diagnostic));
  return out;
}

}  // namespace

TEST_CASE("case files: one case or a list, with positioned diagnostics", "[cases]") {
  auto single = load_cases_from_string("request: POST /form\nhost: a.example\n", "c.yaml");
  REQUIRE(single.ok());
  REQUIRE(single.cases.size() == 1);
  CHECK(single.cases[0].method == "POST");
  CHECK(single.cases[0].path == "/form");
  CHECK(single.cases[0].host == "a.example");

  auto bad = load_cases_from_string(
      "cases:\n  - request: nonsense\n    expect:\n      set_cookies: {_ga: removd}\n"
      "      embeds: {www.youtube.com: hidden}\n",
      "c.yaml");
  CHECK_FALSE(bad.ok());
  CHECK(lines(bad.diagnostics) ==
        std::vector<std::string>{
            "c.yaml:2:14: error: expected 'METHOD /path' for 'cases[0].request', got 'nonsense'",
            "c.yaml:4:26: error: invalid value 'removd' for 'cases[0].expect.set_cookies._ga': "
            "expected kept, rewritten or removed; did you mean 'removed'?",
            "c.yaml:5:33: error: invalid value 'hidden' for "
            "'cases[0].expect.embeds.www.youtube.com': "
            "expected blocked or loaded"});
}

TEST_CASE("differences name the expectation's position and the rule", "[cases]") {
  auto p = policy();
  auto file = load_cases_from_string(R"(cases:
  - name: beta is report-only
    request: GET /beta/page
    set_cookies: ["_ga=1; Max-Age=63072000", "sid=x"]
    cookies: "_ga=1"
    embeds: [www.youtube.com]
    expect:
      consent: [essential]
      set_cookies:
        _ga: {action: removed, category: usage}
        sid: {action: kept, max_age: session}
        other: kept
      request_cookies: {_ga: forwarded}
      embeds: {www.youtube.com: loaded}
)",
                                     "c.yaml");
  REQUIRE(file.ok());
  const auto& exchange = file.cases[0];
  auto outcome = evaluate_case(*p, exchange);
  CHECK(outcome.mode == Mode::report_only);
  REQUIRE(outcome.set_cookies.size() == 2);
  CHECK_FALSE(outcome.set_cookies[0].decision.enforced);
  CHECK(case_differences(*p, exchange, outcome) ==
        std::vector<std::string>{
            "c.yaml:12: case 'beta is report-only': Set-Cookie other: not among the case's "
            "set_cookies",
            "c.yaml:13: case 'beta is report-only': Cookie _ga: expected forwarded, got expired "
            "(category usage (p.yaml:5); no consent)",
            "c.yaml:14: case 'beta is report-only': Embed www.youtube.com: expected loaded, got "
            "blocked (YouTube, category campaigns (p.yaml:7); no consent)"});
  auto explained = explain_outcome(*p, exchange, outcome);
  CHECK(explained[0] == "Request GET /beta/page (host localhost, http): mode report-only");
  CHECK(explained[3] ==
        "Set-Cookie _ga (Max-Age 63072000): category usage (p.yaml:5); no consent "
        "→ would be removed (report-only)");
}
