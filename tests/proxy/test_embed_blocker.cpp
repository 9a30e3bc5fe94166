#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "bundled_policy.hpp"
#include "veil/proxy/embed_blocker.hpp"
#include "veil/proxy/embed_blocker_html.hpp"

using namespace veil::proxy;
using veil::proxy::test::bundled_policy;
namespace policies = veil::policies;
namespace http = boost::beast::http;

namespace {

struct Rewritten {
  std::string html;
  std::vector<std::string> blocked;  // provider names, in order
};

Rewritten rewrite(std::string_view html, std::vector<std::string> granted = {}, bool enforce = true,
                  std::size_t chunk = 1 << 20) {
  const auto policy = bundled_policy("council-default.yaml");
  EmbedHtmlRewrite::Settings settings;
  settings.policy = policy;
  settings.granted = policies::consent_for(*policy, granted).granted;
  settings.enforce = enforce;
  settings.return_path = "/page";
  Rewritten result;
  EmbedHtmlRewrite rewriter(std::move(settings), [&](const policies::EmbedRule& rule, HtmlTag) {
    result.blocked.push_back(rule.provider);
  });
  for (std::size_t at = 0; at < html.size(); at += chunk) {
    rewriter.write(html.substr(at, chunk), result.html);
  }
  rewriter.end(result.html);
  return result;
}

constexpr std::string_view kPage =
    "<!DOCTYPE html><html><head>"
    "<link rel=\"preconnect\" href=\"https://www.youtube.com\">"
    "<link rel=\"stylesheet\" href=\"/site.css\">"
    "<script async src=\"https://www.googletagmanager.com/gtag/js?id=G-1\"></script>"
    "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}"
    "gtag('js',new Date());gtag('config','G-1');</script>"
    "<script type=\"application/ld+json\">{\"sameAs\":\"https://www.facebook.com/council\"}"
    "</script>"
    "<script>var s = '<iframe src=\"https://www.youtube.com/embed/x\">';</script>"
    "</head><body><h1>News</h1>"
    "<IFRAME width=\"560\" height=\"315\" SRC=\"//WWW.YouTube.com/embed/abc?a=1&amp;b=2\">"
    "</IFRAME>"
    "<iframe src=\"https://www.example.gov.uk/form\"></iframe>"
    "<img src=\"https://www.facebook.com/tr?id=1&amp;ev=PageView\" height=1 width=1>"
    "<img src=\"/logo.png\" alt=\"Council\">"
    "<object data=\"https://player.vimeo.com/x\">fallback</object>"
    "<embed src=\"https://open.spotify.com/embed/1\">"
    "</body></html>";

}  // namespace

TEST_CASE("url_host decodes what a browser would contact", "[embed_blocker]") {
  CHECK(url_host("https://www.youtube.com/embed/x") == "www.youtube.com");
  CHECK(url_host("  //WWW.YouTube.COM./embed") == "www.youtube.com");
  CHECK(url_host("HTTPS://user:pw@maps.google.com:443/x") == "maps.google.com");
  CHECK(url_host("https:\\\\www.youtube.com\\x") == "www.youtube.com");
  CHECK(url_host("ht\ttps://www.you\ntube.com/") == "www.youtube.com");
  CHECK(url_host("https://www.you%74ube.com/") == "www.youtube.com");
  CHECK_FALSE(url_host("/local/path"));
  CHECK_FALSE(url_host("embed/x"));
  CHECK_FALSE(url_host("data:text/html,<b>"));
  CHECK_FALSE(url_host("javascript://www.youtube.com/%0aalert(1)"));
}

TEST_CASE("inline scripts are recognised by host and by well-known tag calls", "[embed_blocker]") {
  const auto policy = bundled_policy("council-default.yaml");
  const auto none = policy->always_on_categories();
  const auto* gtm = inline_script_rule(
      *policy, "(function(w,d,s,l,i){j.src='https://www.googletagmanager.com/gtm.js?id='+i})",
      none);
  REQUIRE(gtm != nullptr);
  CHECK(gtm->provider == "Google Tag Manager");
  const auto* ga =
      inline_script_rule(*policy,
                         "ga.src=('https:'==document.location.protocol?'https://ssl':'http://www')+"
                         "'.google-analytics.com/ga.js';",
                         none);
  REQUIRE(ga != nullptr);
  CHECK(ga->provider == "Google Analytics");
  CHECK(inline_script_rule(*policy, "fbq('init', '123'); fbq('track', 'PageView');", none) !=
        nullptr);
  CHECK(inline_script_rule(*policy, "gtag('config','G-1')", none) != nullptr);
  CHECK(inline_script_rule(*policy, "document.title = 'Bins'; mygtag(1); x.fbq(2)", none) ==
        nullptr);
  const std::vector<std::string> usage = {"usage"};
  CHECK(inline_script_rule(*policy, "gtag('config','G-1')",
                           policies::consent_for(*policy, usage).granted) == nullptr);
}

TEST_CASE("without consent, embeds are blocked per element kind", "[embed_blocker]") {
  const auto result = rewrite(kPage);
  const auto& html = result.html;
  // iframe → placeholder sized like it, with the provider's link (entities decoded, re-escaped)
  CHECK(html.find("<iframe width") == std::string::npos);
  CHECK(html.find("aria-label=\"YouTube content\"") != std::string::npos);
  CHECK(html.find("width:560px") != std::string::npos);
  CHECK(html.find("href=\"https://WWW.YouTube.com/embed/abc?a=1&amp;b=2\"") != std::string::npos);
  CHECK(html.find("name=\"return\" value=\"/page\"") != std::string::npos);
  // first-party iframe untouched
  CHECK(html.find("<iframe src=\"https://www.example.gov.uk/form\"></iframe>") !=
        std::string::npos);
  // scripts inert, with the category noted
  CHECK(html.find("<script type=\"text/plain\" data-veil-category=\"usage\" "
                  "data-veil-provider=\"Google Tag Manager\" async "
                  "src=\"https://www.googletagmanager.com/gtag/js?id=G-1\"></script>") !=
        std::string::npos);
  CHECK(html.find("<script type=\"text/plain\" data-veil-category=\"usage\" "
                  "data-veil-provider=\"Google Tag Manager\">window.dataLayer") !=
        std::string::npos);
  // JSON-LD is data; markup inside a script string is not a tag (the script names YouTube: inert)
  CHECK(html.find("<script type=\"application/ld+json\">") != std::string::npos);
  CHECK(html.find("var s = '<iframe src=\"https://www.youtube.com/embed/x\">';") !=
        std::string::npos);
  // pixels, preconnects, objects and embeds to blocked hosts removed; the site's own kept
  CHECK(html.find("facebook.com/tr") == std::string::npos);
  CHECK(html.find("preconnect") == std::string::npos);
  CHECK(html.find("<link rel=\"stylesheet\" href=\"/site.css\">") != std::string::npos);
  CHECK(html.find("<img src=\"/logo.png\" alt=\"Council\">") != std::string::npos);
  CHECK(html.find("player.vimeo.com") == std::string::npos);
  CHECK(html.find("fallback</object>") != std::string::npos);
  CHECK(html.find("spotify") == std::string::npos);
  CHECK(result.blocked == std::vector<std::string>{"YouTube", "Google Tag Manager",
                                                   "Google Tag Manager", "YouTube", "YouTube",
                                                   "Facebook", "Vimeo", "Spotify"});
}

TEST_CASE("granted categories pass untouched; report-only changes nothing", "[embed_blocker]") {
  const auto all = rewrite(kPage, {"settings", "usage", "campaigns"});
  CHECK(all.html == kPage);
  CHECK(all.blocked.empty());

  const auto usage_only = rewrite(kPage, {"usage"});
  CHECK(usage_only.html.find("data-veil-category=\"usage\"") == std::string::npos);
  CHECK(usage_only.html.find("aria-label=\"YouTube content\"") != std::string::npos);

  const auto report = rewrite(kPage, {}, false);
  CHECK(report.html == kPage);
  CHECK(report.blocked.size() == 8);
}

TEST_CASE("report-only scanning reports exactly what enforce blocks", "[embed_blocker]") {
  const auto policy = bundled_policy("council-default.yaml");
  for (const std::vector<std::string>& granted :
       {std::vector<std::string>{}, std::vector<std::string>{"usage"}}) {
    const auto enforced = rewrite(kPage, granted).blocked;
    REQUIRE_FALSE(enforced.empty());
    for (std::size_t chunk : {1, 5, 64, 1 << 20}) {
      INFO(chunk);
      EmbedHtmlRewrite::Settings settings;
      settings.policy = policy;
      settings.granted = policies::consent_for(*policy, granted).granted;
      settings.enforce = false;
      std::vector<std::string> reported;
      EmbedHtmlRewrite scanner(std::move(settings), [&](const policies::EmbedRule& rule, HtmlTag) {
        reported.push_back(rule.provider);
      });
      for (std::size_t at = 0; at < kPage.size(); at += chunk)
        scanner.scan(kPage.substr(at, chunk));
      scanner.end_scan();
      CHECK(reported == enforced);
      CHECK(rewrite(kPage, granted, false, chunk).blocked == enforced);
    }
  }
}

TEST_CASE("the rewrite does not depend on chunk boundaries", "[embed_blocker]") {
  const auto whole = rewrite(kPage).html;
  for (std::size_t chunk : {1, 2, 3, 7, 64, 333}) {
    INFO(chunk);
    CHECK(rewrite(kPage, {}, true, chunk).html == whole);
  }
}
