#include <catch2/catch.hpp>

#include <string>

#include "bundled_policy.hpp"
#include "veil/proxy/consent_filter.hpp"

using namespace veil::proxy;
using veil::proxy::test::bundled_policy;
namespace policies = veil::policies;
namespace http = boost::beast::http;

namespace {

Exchange exchange_for(std::string target, std::string cookie = {}) {
  Exchange exchange;
  exchange.policy = bundled_policy("council-default.yaml");
  exchange.request.method(http::verb::get);
  exchange.request.target(target);
  exchange.request.set(http::field::host, "www.example.gov.uk");
  if (!cookie.empty()) exchange.request.set(http::field::cookie, cookie);
  return exchange;
}

}  // namespace

TEST_CASE("Consent filter reads the visitor's consent for later filters", "[consent_filter]") {
  ConsentFilter filter("2026-11-23");
  const auto policy = bundled_policy("council-default.yaml");

  auto none = exchange_for("/bins");
  filter.on_request(none);
  CHECK_FALSE(none.local_handler);
  REQUIRE(filter.consent_of(none));
  CHECK_FALSE(filter.consent_of(none)->decided);

  auto accepted = exchange_for(
      "/bins",
      R"(cookies_policy={"essential":true,"settings":false,"usage":true,"campaigns":false}; )"
      "cookies_preferences_set=true; veil_consent_saved=accepted");
  filter.on_request(accepted);
  const auto consent = filter.consent_of(accepted);
  REQUIRE(consent);
  CHECK(consent->decided);
  CHECK(consent->granted.contains(*policy->category_id("usage")));
  CHECK_FALSE(consent->granted.contains(*policy->category_id("campaigns")));
  CHECK(filter.confirmation_of(accepted) == ConsentSaved::accepted);

  auto gpc = exchange_for("/");
  gpc.request.set("Sec-GPC", "1");
  filter.on_request(gpc);
  CHECK(filter.consent_of(gpc)->gpc);

  Exchange without_policy;
  filter.on_request(without_policy);
  CHECK_FALSE(filter.consent_of(without_policy));
}

TEST_CASE("Consent filter answers its endpoints locally", "[consent_filter]") {
  ConsentFilter filter("2026-11-23");

  auto post = exchange_for("/_veil/consent");
  post.tls = true;
  filter.on_request(post);
  REQUIRE(post.local_handler);
  LocalRequest request{"POST",
                       "/_veil/consent",
                       {{"Origin", "https://www.example.gov.uk"}},
                       "action=reject&return=%2Fbins"};
  const auto response = post.local_handler(request);
  CHECK(response.status == 303);

  // The response head as the core builds it: the consent it records is what the exchange is under.
  post.response.result(response.status);
  for (const auto& [name, value] : response.headers) post.response.insert(name, value);
  const auto recorded = filter.consent_of(post);
  REQUIRE(recorded);
  CHECK(recorded->decided);
  CHECK(recorded->granted == bundled_policy("council-default.yaml")->always_on_categories());
  CHECK(consent_set_by_response(*bundled_policy("council-default.yaml"), post.response));

  auto settings = exchange_for("/_veil/consent?return=%2Fx");
  filter.on_request(settings);
  REQUIRE(settings.local_handler);
  CHECK(settings.local_handler({"GET", "/_veil/consent?return=%2Fx", {}, {}})
            .body.find("Cookie settings") != std::string::npos);

  auto gpc = exchange_for("/.well-known/gpc.json");
  filter.on_request(gpc);
  REQUIRE(gpc.local_handler);
  CHECK(gpc.local_handler({"GET", "/.well-known/gpc.json", {}, {}}).body ==
        "{\"gpc\": true, \"version\": 1, \"lastUpdate\": \"2026-11-23\"}\n");

  auto reserved = exchange_for("/_veil/anything");
  filter.on_request(reserved);
  REQUIRE(reserved.local_handler);
  CHECK(reserved.local_handler({"GET", "/_veil/anything", {}, {}}).status == 404);

  auto page = exchange_for("/_veilish/consent");
  filter.on_request(page);
  CHECK_FALSE(page.local_handler);
}
