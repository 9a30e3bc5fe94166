#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "bundled_policy.hpp"
#include "veil/policies/loader.hpp"
#include "veil/proxy/consent_pages.hpp"

using namespace veil::proxy;
using veil::proxy::test::bundled_policy;
namespace policies = veil::policies;

namespace {

policies::ConsentState undecided(const policies::Policy& policy) {
  return policies::read_consent_state(policy, {}, false);
}

policies::ConsentState granted(const policies::Policy& policy, std::vector<std::string> names) {
  return policies::consent_for(policy, names);
}

ConsentRequestContext context_for(const policies::Policy& policy, bool tls = false) {
  ConsentRequestContext context;
  context.consent = undecided(policy);
  context.tls = tls;
  context.host = "www.example.gov.uk";
  context.now = policies::sys_seconds{std::chrono::seconds{1'700'000'000}};
  return context;
}

LocalRequest post(std::string body, HeaderList headers = {}) {
  LocalRequest request;
  request.method = "POST";
  request.target = "/_veil/consent";
  request.headers = std::move(headers);
  request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  request.body = std::move(body);
  return request;
}

std::vector<std::string> header_values(const LocalResponse& response, std::string_view name) {
  std::vector<std::string> values;
  for (const auto& [field, value] : response.headers) {
    if (field == name) values.push_back(value);
  }
  return values;
}

// The consent a browser holding the response's cookies would send back.
policies::ConsentState consent_after(const policies::Policy& policy,
                                     const LocalResponse& response) {
  std::vector<std::string> cookies;
  for (const auto& value : header_values(response, "Set-Cookie")) {
    cookies.push_back(value.substr(0, value.find(';')));
  }
  std::string header;
  for (const auto& cookie : cookies) header += (header.empty() ? "" : "; ") + cookie;
  const auto pairs = policies::parse_cookie_header(header);
  return policies::read_consent_state(policy, pairs, false);
}

std::size_t count(std::string_view text, std::string_view needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string_view::npos; at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("safe_return_path keeps same-origin paths and refuses everything else", "[consent]") {
  CHECK(safe_return_path("/") == "/");
  CHECK(safe_return_path("/bins/collections?week=2#today") == "/bins/collections?week=2#today");
  for (std::string_view hostile :
       {"//evil.example/", "/\\evil.example", "https://evil.example/", "javascript:alert(1)",
        "evil.example", "", "/\t/evil.example", "/a\\..\\", "/x\ny", "\\\\evil"}) {
    INFO(hostile);
    CHECK(safe_return_path(hostile) == "/");
  }
  CHECK(safe_return_path("/" + std::string(3000, 'a')) == "/");
}

TEST_CASE("same_origin_path accepts the site's own URLs only", "[consent]") {
  CHECK(same_origin_path("https://www.example.gov.uk/bins?x=1", "www.example.gov.uk") ==
        "/bins?x=1");
  CHECK(same_origin_path("HTTP://WWW.EXAMPLE.GOV.UK", "www.example.gov.uk") == "/");
  CHECK_FALSE(same_origin_path("https://evil.example/bins", "www.example.gov.uk"));
  CHECK_FALSE(same_origin_path("https://www.example.gov.uk.evil.example/", "www.example.gov.uk"));
}

TEST_CASE("POST accept sets every category, reject only essential, in GOV.UK format", "[consent]") {
  const auto policy = bundled_policy("council-default.yaml");
  auto accept = handle_consent_request(*policy, post("action=accept&return=%2Fbins"),
                                       context_for(*policy, true));
  CHECK(accept.status == 303);
  CHECK(header_values(accept, "Location") == std::vector<std::string>{"/bins"});
  const auto cookies = header_values(accept, "Set-Cookie");
  REQUIRE(cookies.size() == 3);
  CHECK(cookies[0].starts_with(
      "cookies_policy={\"essential\":true,\"settings\":true,\"usage\":true,\"campaigns\":true}"));
  for (const auto& cookie : cookies) {
    CHECK(cookie.find("Path=/") != std::string::npos);
    CHECK(cookie.find("SameSite=Lax") != std::string::npos);
    CHECK(cookie.find("Secure") != std::string::npos);
  }
  CHECK(cookies[0].find("Max-Age=31536000") != std::string::npos);
  CHECK(cookies[1].starts_with("cookies_preferences_set=true"));
  CHECK(cookies[2].starts_with("veil_consent_saved=accepted"));
  const auto after_accept = consent_after(*policy, accept);
  CHECK(after_accept.decided);
  for (auto name : {"settings", "usage", "campaigns"}) {
    CHECK(after_accept.granted.contains(*policy->category_id(name)));
  }

  auto reject = handle_consent_request(*policy, post("action=reject"), context_for(*policy));
  CHECK(reject.status == 303);
  CHECK(header_values(reject, "Location") == std::vector<std::string>{"/"});
  const auto reject_cookies = header_values(reject, "Set-Cookie");
  REQUIRE(reject_cookies.size() == 3);
  CHECK(reject_cookies[0].find("Secure") == std::string::npos);  // plain HTTP
  const auto after_reject = consent_after(*policy, reject);
  CHECK(after_reject.decided);
  CHECK(after_reject.granted == policy->always_on_categories());
  CHECK(reject_cookies[2].starts_with("veil_consent_saved=rejected"));
}

TEST_CASE("POST per category and a placeholder's grant", "[consent]") {
  const auto policy = bundled_policy("council-default.yaml");
  auto context = context_for(*policy);
  context.consent = granted(*policy, {"settings"});
  auto saved = handle_consent_request(
      *policy, post("action=save&cookies%5Busage%5D=yes&cookies[settings]=no&return=/a"), context);
  REQUIRE(saved.status == 303);
  auto state = consent_after(*policy, saved);
  CHECK(state.granted.contains(*policy->category_id("usage")));
  CHECK_FALSE(state.granted.contains(*policy->category_id("settings")));
  CHECK_FALSE(state.granted.contains(*policy->category_id("campaigns")));
  CHECK(header_values(saved, "Set-Cookie")[2].starts_with("veil_consent_saved=saved"));

  auto grant = handle_consent_request(
      *policy, post("action=grant&category=campaigns&return=%2Fvideo"), context);
  REQUIRE(grant.status == 303);
  state = consent_after(*policy, grant);
  CHECK(state.granted.contains(*policy->category_id("campaigns")));
  CHECK(state.granted.contains(*policy->category_id("settings")));  // kept
  CHECK_FALSE(state.granted.contains(*policy->category_id("usage")));

  std::string error;
  CHECK_FALSE(
      parse_consent_form(*policy, "action=grant&category=nonsense", context.consent, error));
  CHECK_FALSE(error.empty());
  CHECK(handle_consent_request(*policy, post("action=explode"), context).status == 400);
  CHECK(handle_consent_request(*policy, post("cookies[usage]=yes"), context).status == 400);
  CHECK(handle_consent_request(*policy, post("action=save&cookies[usage]=maybe"), context).status ==
        400);

  auto hide = handle_consent_request(*policy, post("action=hide&return=/x"), context);
  CHECK(hide.status == 303);
  CHECK(header_values(hide, "Set-Cookie").empty());
}

TEST_CASE("POST never redirects off the site", "[consent]") {
  const auto policy = bundled_policy("council-default.yaml");
  for (std::string_view hostile :
       {"%2F%2Fevil.example", "%2F%5Cevil.example", "https%3A%2F%2Fevil.example%2F",
        "javascript%3Aalert(1)", "evil.example", "%2F%09%2Fevil.example"}) {
    INFO(hostile);
    auto response = handle_consent_request(
        *policy, post("action=accept&return=" + std::string(hostile)), context_for(*policy));
    CHECK(response.status == 303);
    CHECK(header_values(response, "Location") == std::vector<std::string>{"/"});
  }
  // Without a return field, a same-origin Referer is used; another site's is not.
  auto referred = handle_consent_request(
      *policy, post("action=reject", {{"Referer", "https://www.example.gov.uk/parking?zone=4"}}),
      context_for(*policy));
  CHECK(header_values(referred, "Location") == std::vector<std::string>{"/parking?zone=4"});
  auto foreign = handle_consent_request(
      *policy, post("action=reject", {{"Referer", "https://evil.example/x"}}),
      context_for(*policy));
  CHECK(header_values(foreign, "Location") == std::vector<std::string>{"/"});
}

TEST_CASE("cross-site posts are refused with 403 and set nothing", "[consent]") {
  const auto policy = bundled_policy("council-default.yaml");
  const auto context = context_for(*policy);
  for (HeaderList headers :
       {HeaderList{{"Sec-Fetch-Site", "cross-site"}}, HeaderList{{"sec-fetch-site", "same-site"}},
        HeaderList{{"Origin", "https://evil.example"}}, HeaderList{{"Origin", "null"}},
        HeaderList{{"Origin", "https://www.example.gov.uk"}, {"Sec-Fetch-Site", "cross-site"}}}) {
    auto response = handle_consent_request(*policy, post("action=accept", headers), context);
    CHECK(response.status == 403);
    CHECK(header_values(response, "Set-Cookie").empty());
  }
  auto same = handle_consent_request(
      *policy,
      post("action=accept",
           {{"Origin", "https://www.example.gov.uk"}, {"Sec-Fetch-Site", "same-origin"}}),
      context);
  CHECK(same.status == 303);
}

TEST_CASE("the settings page shows every category with the current state", "[consent]") {
  const auto policy = bundled_policy("council-default.yaml");
  auto context = context_for(*policy);
  context.consent = granted(*policy, {"usage"});
  LocalRequest request;
  request.method = "GET";
  request.target = "/_veil/consent?return=%2Fbins%3Fday%3D1";
  auto response = handle_consent_request(*policy, request, context);
  CHECK(response.status == 200);
  const auto& page = response.body;
  CHECK(page.find("<form method=\"post\" action=\"/_veil/consent\">") != std::string::npos);
  CHECK(page.find("name=\"return\" value=\"/bins?day=1\"") != std::string::npos);
  CHECK(page.find("id=\"veil-usage-yes\" name=\"cookies[usage]\" value=\"yes\" checked") !=
        std::string::npos);
  CHECK(page.find("id=\"veil-campaigns-no\" name=\"cookies[campaigns]\" value=\"no\" checked") !=
        std::string::npos);
  CHECK(page.find("name=\"cookies[essential]\"") == std::string::npos);  // always on: no choice
  CHECK(count(page, " checked") == 3);
  CHECK(page.find("<label for=\"veil-settings-yes\">") != std::string::npos);
  CHECK(page.find("<script") == std::string::npos);
  CHECK(page.find("<link") == std::string::npos);

  request.method = "DELETE";
  CHECK(handle_consent_request(*policy, request, context).status == 405);
}

TEST_CASE("gpc.json follows the GPC spec", "[consent]") {
  auto response = gpc_json_response("2026-11-23");
  CHECK(response.body == "{\"gpc\": true, \"version\": 1, \"lastUpdate\": \"2026-11-23\"}\n");
  CHECK(response.headers[0].second == "application/json");
  CHECK(gpc_json_response("2026\"-11").body.find("2026-11\"") != std::string::npos);
}

TEST_CASE("the banner asks only without a decision, and confirms once", "[consent]") {
  const auto policy = bundled_policy("council-default.yaml");
  const auto banner =
      consent_banner_html(*policy, undecided(*policy), ConsentSaved::none, "/bins?a=1&b=<2>");
  CHECK(
      banner.starts_with("<div class=\"veil-cookie-banner\" data-nosnippet role=\"region\" "
                         "aria-label=\"Cookies on this council&#39;s website\">"));
  CHECK(banner.find("value=\"accept\">Accept additional cookies</button>") != std::string::npos);
  CHECK(banner.find("value=\"reject\">Reject additional cookies</button>") != std::string::npos);
  CHECK(banner.find("href=\"/_veil/consent?return=/bins%3Fa%3D1%26b%3D%3C2%3E\"") !=
        std::string::npos);
  CHECK(banner.find("<2>") == std::string::npos);  // the return path is escaped
  CHECK(banner.find("position:fixed") == std::string::npos);
  CHECK(banner.find("position:sticky") == std::string::npos);

  const auto decided = granted(*policy, {});
  CHECK(consent_banner_html(*policy, decided, ConsentSaved::none, "/").empty());
  const auto confirmation = consent_banner_html(*policy, decided, ConsentSaved::rejected, "/");
  CHECK(confirmation.find("You&#39;ve rejected additional cookies") != std::string::npos);
  CHECK(confirmation.find("value=\"accept\"") == std::string::npos);

  auto gpc = policies::read_consent_state(*policy, {}, true);
  const auto gpc_banner = consent_banner_html(*policy, gpc, ConsentSaved::none, "/");
  CHECK(gpc_banner.find("Global Privacy Control") != std::string::npos);
  CHECK(gpc_banner.find("value=\"accept\"") != std::string::npos);
}

TEST_CASE("policy texts are escaped wherever they are inserted", "[consent]") {
  std::ifstream file(std::string(VEIL_SOURCE_DIR) + "/policies/council-default.yaml");
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  auto replace = [&](std::string_view from, std::string_view to) {
    const auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
  };
  replace("service_name: this council's website", "service_name: \"<script>alert(1)</script>\"");
  replace("accept: Accept additional cookies", "accept: \"\\\"><img src=x onerror=alert(1)>\"");
  const auto loaded = policies::load_policy_from_string(text, "hostile.yaml");
  REQUIRE(loaded.ok());
  const auto& policy = loaded.policy;
  const auto banner = consent_banner_html(*policy, undecided(*policy), ConsentSaved::none, "/");
  CHECK(banner.find("<script>") == std::string::npos);
  CHECK(banner.find("<img") == std::string::npos);
  CHECK(banner.find("&lt;script&gt;") != std::string::npos);
}

TEST_CASE("a consent response's cookie is readable as the new consent", "[consent]") {
  const auto policy = bundled_policy("council-default.yaml");
  const auto values = consent_set_cookies(*policy, policy->always_on_categories(),
                                          ConsentSaved::rejected, true, {});
  std::vector<std::string_view> views(values.begin(), values.end());
  auto state = consent_set_by_response(*policy, views);
  REQUIRE(state);
  CHECK(state->decided);
  CHECK(state->granted == policy->always_on_categories());
  std::vector<std::string_view> other = {"session=1; Path=/"};
  CHECK_FALSE(consent_set_by_response(*policy, other));
}

TEST_CASE("the placeholder names the provider and posts consent for its category", "[consent]") {
  const auto policy = bundled_policy("council-default.yaml");
  EmbedPlaceholder placeholder;
  placeholder.provider = "YouTube";
  placeholder.category = *policy->category_id("campaigns");
  placeholder.content_url = "//www.youtube.com/embed/abc?x=1&y=2";
  placeholder.width = "560";
  placeholder.height = "50%";
  placeholder.return_path = "/news";
  const auto html = embed_placeholder_html(*policy, placeholder);
  CHECK(html.find("role=\"region\" aria-label=\"YouTube content\"") != std::string::npos);
  CHECK(html.find("width:560px") != std::string::npos);
  CHECK(html.find("min-height:50%") != std::string::npos);
  CHECK(html.find("name=\"category\" value=\"campaigns\"") != std::string::npos);
  CHECK(html.find("name=\"return\" value=\"/news\"") != std::string::npos);
  CHECK(html.find("value=\"grant\"") != std::string::npos);
  CHECK(html.find("Accept campaigns cookies and load YouTube content") != std::string::npos);
  CHECK(html.find("href=\"https://www.youtube.com/embed/abc?x=1&amp;y=2\"") != std::string::npos);

  placeholder.content_url = "javascript:alert(1)";
  placeholder.width = "100;background:url(x)";
  const auto hostile = embed_placeholder_html(*policy, placeholder);
  CHECK(hostile.find("javascript:") == std::string::npos);
  CHECK(hostile.find("url(x)") == std::string::npos);
}
