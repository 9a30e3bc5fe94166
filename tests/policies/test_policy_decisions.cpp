#include <catch2/catch.hpp>
#include <string>

#include "veil/policies/decisions.hpp"
#include "veil/policies/loader.hpp"

using namespace veil::policies;

namespace {

const char* kPolicy = R"(version: 1
consent:
  honour:
    - {format: onetrust, map: {C0002: usage, C0004: campaigns}}
cookies:
  unclassified: block
  rules:
    - {name: sid, category: essential, max_age: 2d, secure: true, http_only: true, same_site: lax}
    - {name: _ga, category: usage, max_age: 13mo}
    - {glob: "_fb*", category: campaigns, max_age: 90d}
embeds:
  - {hosts: ["*.youtube.com"], category: campaigns, provider: YouTube}
)";

std::shared_ptr<const Policy> policy() {
  static auto loaded = load_policy_from_string(kPolicy, "p.yaml");
  REQUIRE(loaded.ok());
  return loaded.policy;
}

SetCookie cookie(std::string_view header) {
  auto parsed = parse_set_cookie(header);
  REQUIRE(parsed.cookie);
  return *parsed.cookie;
}

const sys_seconds kDate = *parse_http_date("Mon, 23 Nov 2026 10:00:00 GMT");
ResponseContext https_context() {
  return {"www.example.gov.uk", kDate, true, Mode::enforce};
}

}  // namespace

TEST_CASE("consent: own cookie, honoured tools, GPC", "[decisions]") {
  auto p = policy();
  auto usage = *p->category_id("usage");
  auto campaigns = *p->category_id("campaigns");
  auto essential = *p->category_id("essential");

  auto none = read_consent_state(*p, {}, false);
  CHECK_FALSE(none.decided);
  CHECK(none.granted.contains(essential));
  CHECK_FALSE(none.granted.contains(usage));

  auto own_cookies = parse_cookie_header(
      R"(cookies_policy={"essential":true,"settings":false,"usage":true,"campaigns":false}; )"
      "cookies_preferences_set=true");
  auto own = read_consent_state(*p, own_cookies, true);
  CHECK(own.decided);
  CHECK(own.source == "cookies_policy");
  CHECK(own.granted.contains(usage));
  CHECK_FALSE(own.granted.contains(campaigns));
  CHECK_FALSE(own.gpc);  // an explicit choice on this site beats Sec-GPC

  auto onetrust_cookies = parse_cookie_header(
      "OptanonConsent=isGpcEnabled=0&interactionCount=1&groups=C0001%3A1%2CC0002%3A0%2CC0004%3A1");
  auto onetrust = read_consent_state(*p, onetrust_cookies, false);
  CHECK(onetrust.decided);
  CHECK(onetrust.source == "onetrust");
  CHECK_FALSE(onetrust.granted.contains(usage));
  CHECK(onetrust.granted.contains(campaigns));

  auto gpc = read_consent_state(*p, {}, true);
  CHECK(gpc.decided);
  CHECK(gpc.gpc);
  CHECK_FALSE(gpc.granted.contains(usage));
}

TEST_CASE("Set-Cookie: no consent removes, with the rule named", "[decisions]") {
  auto p = policy();
  auto consent = read_consent_state(*p, {}, false);
  auto decision = decide_set_cookie(*p, cookie("_ga=GA1.2.3; Max-Age=63072000; Path=/"), consent,
                                    https_context());
  CHECK(decision.action == CookieAction::remove);
  CHECK(decision.enforced);
  CHECK(decision.rule == &p->cookies.rules[1]);
  CHECK(decision.requested_lifetime == 63072000);
  CHECK(decision.reasons == std::vector<std::string>{"category usage (p.yaml:9)", "no consent"});

  auto refused = consent_for(*p, std::vector<std::string>{});
  CHECK(decide_set_cookie(*p, cookie("_fbp=1"), refused, https_context()).reasons.back() ==
        "consent refused (given)");
  auto gpc = read_consent_state(*p, {}, true);
  CHECK(decide_set_cookie(*p, cookie("_fbp=1"), gpc, https_context()).reasons.back() ==
        "refused by Sec-GPC");
}

TEST_CASE("Set-Cookie: granted cookies are capped and get required attributes", "[decisions]") {
  auto p = policy();
  auto consent = consent_for(*p, std::vector<std::string>{"usage"});
  auto ga = decide_set_cookie(*p, cookie("_ga=GA1.2.3; Max-Age=63072000; Path=/"), consent,
                              https_context());
  CHECK(ga.action == CookieAction::rewrite);
  CHECK(ga.enforced_lifetime == 390 * 86400);
  REQUIRE(ga.rewritten);
  CHECK(ga.rewritten->max_age() == 390 * 86400);
  CHECK(ga.reasons == std::vector<std::string>{"category usage (p.yaml:9)", "consent given (given)",
                                               "lifetime capped to 13mo"});

  auto session = decide_set_cookie(*p, cookie("sid=abc; Path=/"), consent, https_context());
  CHECK(session.action == CookieAction::rewrite);
  CHECK(session.rewritten->is_session());  // session cookies stay session cookies
  CHECK(session.rewritten->secure());
  CHECK(session.rewritten->http_only());
  CHECK(session.rewritten->same_site() == SameSite::lax);
  CHECK(session.reasons == std::vector<std::string>{"category essential (always on, p.yaml:8)",
                                                    "Secure added", "HttpOnly added",
                                                    "SameSite=Lax set"});

  // On plain HTTP, Secure is not added (a browser would refuse the cookie).
  auto http = https_context();
  http.tls = false;
  auto plain = decide_set_cookie(*p, cookie("sid=abc; HttpOnly; SameSite=Lax"), consent, http);
  CHECK(plain.action == CookieAction::keep);

  auto short_lived = decide_set_cookie(*p, cookie("_ga=1; Max-Age=60"), consent, https_context());
  CHECK(short_lived.action == CookieAction::keep);
  CHECK(short_lived.reasons.back() == "within max_age 13mo");
}

TEST_CASE("Set-Cookie: deletions pass, unclassified follows the policy, report-only",
          "[decisions]") {
  auto p = policy();
  auto consent = read_consent_state(*p, {}, false);
  auto deletion = decide_set_cookie(*p, cookie("_ga=; Max-Age=0"), consent, https_context());
  CHECK(deletion.action == CookieAction::keep);
  CHECK(deletion.deletion);

  auto unknown = decide_set_cookie(*p, cookie("mystery=1"), consent, https_context());
  CHECK(unknown.action == CookieAction::remove);
  CHECK(unknown.rule == nullptr);
  CHECK(unknown.reasons ==
        std::vector<std::string>{"no rule matches", "unclassified: block (p.yaml:6)"});

  auto report_only = https_context();
  report_only.mode = Mode::report_only;
  auto reported = decide_set_cookie(*p, cookie("_ga=1; Max-Age=60"), consent, report_only);
  CHECK(reported.action == CookieAction::remove);  // what enforce would do
  CHECK_FALSE(reported.enforced);
}

TEST_CASE("request cookies and embeds", "[decisions]") {
  auto p = policy();
  auto consent = consent_for(*p, std::vector<std::string>{"usage"});
  CHECK(decide_request_cookie(*p, "_ga", consent, "www.example.gov.uk", Mode::enforce).action ==
        RequestCookieAction::forward);
  auto fbp = decide_request_cookie(*p, "_fbp", consent, "www.example.gov.uk", Mode::enforce);
  CHECK(fbp.action == RequestCookieAction::expire);
  CHECK(fbp.reasons.back() == "consent refused (given)");
  CHECK(decide_request_cookie(*p, "sid", consent, "www.example.gov.uk", Mode::enforce).action ==
        RequestCookieAction::forward);
  CHECK(decide_request_cookie(*p, "mystery", consent, "www.example.gov.uk", Mode::enforce).action ==
        RequestCookieAction::expire);

  auto youtube = decide_embed(*p, "www.youtube.com", consent, Mode::enforce);
  CHECK(youtube.blocked);
  CHECK(youtube.reasons == std::vector<std::string>{"YouTube, category campaigns (p.yaml:12)",
                                                    "consent refused (given)"});
  auto granted = consent_for(*p, std::vector<std::string>{"campaigns"});
  CHECK_FALSE(decide_embed(*p, "www.youtube.com", granted, Mode::enforce).blocked);
  CHECK_FALSE(decide_embed(*p, "www.example.gov.uk", consent, Mode::enforce).blocked);
}

TEST_CASE("decisions without reasons are the same decisions", "[decisions]") {
  auto p = policy();
  const std::vector<std::string> granted_usage = {"usage"};
  for (const auto& consent : {consent_for(*p, {}), consent_for(*p, granted_usage)}) {
    for (const std::string_view header :
         {"sid=1; Max-Age=999999", "sid=1; Secure; HttpOnly; SameSite=Lax", "_ga=1",
          "_ga=1; Max-Age=63072000", "_fbp=1; Expires=Wed, 01 Jan 2031 00:00:00 GMT", "other=1",
          "_ga=; Max-Age=0"}) {
      INFO(header);
      const auto explained = decide_set_cookie(*p, cookie(header), consent, https_context());
      const auto quiet =
          decide_set_cookie(*p, cookie(header), consent, https_context(), Reasons::omit);
      CHECK_FALSE(explained.reasons.empty());
      CHECK(quiet.reasons.empty());
      CHECK(quiet.action == explained.action);
      CHECK(quiet.rule == explained.rule);
      CHECK(quiet.category == explained.category);
      CHECK(quiet.granted == explained.granted);
      CHECK(quiet.deletion == explained.deletion);
      CHECK(quiet.requested_lifetime == explained.requested_lifetime);
      CHECK(quiet.enforced_lifetime == explained.enforced_lifetime);
      CHECK(quiet.rewritten == explained.rewritten);
      // The rewritten cookie exists exactly when the cookie changes.
      CHECK(quiet.rewritten.has_value() == (quiet.action == CookieAction::rewrite));
    }
    for (const std::string_view name : {"sid", "_ga", "_fbc", "other"}) {
      INFO(name);
      const auto explained =
          decide_request_cookie(*p, name, consent, "www.example.gov.uk", Mode::enforce);
      const auto quiet = decide_request_cookie(*p, name, consent, "www.example.gov.uk",
                                               Mode::enforce, Reasons::omit);
      CHECK_FALSE(explained.reasons.empty());
      CHECK(quiet.reasons.empty());
      CHECK(quiet.action == explained.action);
      CHECK(quiet.rule == explained.rule);
      CHECK(quiet.granted == explained.granted);
    }
  }
}
