#include <catch2/catch.hpp>

#include "veil/policies/consent_cookies.hpp"

using namespace veil::policies;

namespace {

// The decision `format` reads from a request's Cookie header.
std::optional<VendorCategories> read(ConsentFormat format, const std::string& cookie_header) {
  const auto cookies = parse_cookie_header(cookie_header);
  return read_consent(format, cookies);
}

VendorCategories set(std::initializer_list<const char*> names) {
  VendorCategories out;
  for (const char* name : names) out.emplace(name);
  return out;
}

}  // namespace

TEST_CASE("consent formats have stable names") {
  for (ConsentFormat format : kConsentFormats) {
    CHECK(parse_consent_format(to_string(format)) == format);
  }
  CHECK(parse_consent_format("onetrust") == ConsentFormat::onetrust);
  CHECK_FALSE(parse_consent_format("OneTrust"));
  CHECK_FALSE(parse_consent_format(""));
}

TEST_CASE("consent cookie names belong to their tool") {
  CHECK(is_consent_cookie(ConsentFormat::govuk, "cookies_policy"));
  CHECK(is_consent_cookie(ConsentFormat::govuk, "cookies_preferences_set"));
  CHECK(is_consent_cookie(ConsentFormat::civic, "CookieControl"));
  CHECK(is_consent_cookie(ConsentFormat::orestbida, "cc_cookie"));
  CHECK(is_consent_cookie(ConsentFormat::klaro, "klaro"));
  CHECK(is_consent_cookie(ConsentFormat::cookiebot, "CookieConsent"));
  CHECK(is_consent_cookie(ConsentFormat::onetrust, "OptanonAlertBoxClosed"));
  CHECK(is_consent_cookie(ConsentFormat::complianz, "cmplz_banner-status"));
  CHECK_FALSE(is_consent_cookie(ConsentFormat::govuk, "_ga"));
  CHECK_FALSE(is_consent_cookie(ConsentFormat::klaro, "cc_cookie"));
}

TEST_CASE("GOV.UK cookies_policy: raw JSON with cookies_preferences_set") {
  CHECK(read(ConsentFormat::govuk,
             R"(cookies_policy={"essential":true,"settings":true,"usage":true,"campaigns":false}; )"
             "cookies_preferences_set=true") == set({"essential", "settings", "usage"}));
  // Rejected everything: a decision with only the essential category.
  CHECK(read(ConsentFormat::govuk,
             R"(cookies_preferences_set=true; cookies_policy={"essential":true,"settings":false,)"
             R"("usage":false,"campaigns":false})") == set({"essential"}));
}

TEST_CASE("GOV.UK cookies_policy: percent-encoded JSON") {
  CHECK(
      read(ConsentFormat::govuk,
           "cookies_policy=%7B%22essential%22%3Atrue%2C%22settings%22%3Afalse%2C%22usage%22%3Atrue"
           "%2C%22campaigns%22%3Afalse%7D; cookies_preferences_set=true") ==
      set({"essential", "usage"}));
}

TEST_CASE("GOV.UK cookies_policy: no decision") {
  const std::string policy =
      R"(cookies_policy={"essential":true,"settings":false,"usage":true,"campaigns":false})";
  // GOV.UK writes a default policy on the first visit: without preferences_set it is no choice.
  CHECK_FALSE(read(ConsentFormat::govuk, policy));
  CHECK_FALSE(read(ConsentFormat::govuk, policy + "; cookies_preferences_set=false"));
  CHECK_FALSE(read(ConsentFormat::govuk, "cookies_preferences_set=true"));
  CHECK_FALSE(read(ConsentFormat::govuk, ""));
  for (const char* broken :
       {R"(cookies_policy={"essential":true,"usage":"yes"})",
        R"(cookies_policy={"essential":true,"usage":1})",
        R"(cookies_policy={"essential":true,"usage":true)", R"(cookies_policy=["usage"])",
        R"(cookies_policy=true)", "cookies_policy=%7B%22usage%22%3Atrue",
        "cookies_policy=%7B%ZZ%7D", "cookies_policy=", "cookies_policy=garbage"}) {
    INFO(broken);
    CHECK_FALSE(read(ConsentFormat::govuk, std::string(broken) + "; cookies_preferences_set=true"));
  }
}

TEST_CASE("veil's own consent cookie round-trips through the GOV.UK reader") {
  const std::vector<std::pair<std::string, bool>> choices = {
      {"essential", true}, {"settings", false}, {"usage", true}, {"campaigns", false}};
  const std::string value = govuk_cookies_policy_value(choices);
  CHECK(value == R"({"essential":true,"settings":false,"usage":true,"campaigns":false})");
  const std::string header = std::string(kGovukPolicyCookie) + "=" + value + "; " +
                             std::string(kGovukPreferencesSetCookie) + "=" +
                             std::string(kGovukPreferencesSetValue);
  CHECK(read(ConsentFormat::govuk, header) == set({"essential", "usage"}));

  const std::vector<std::pair<std::string, bool>> odd = {{"quote\"d", true}, {"x,y", true}};
  const std::string escaped = govuk_cookies_policy_value(odd);
  CHECK(escaped == R"({"quote\"d":true,"x,y":true})");
  CHECK(read(ConsentFormat::govuk, "cookies_preferences_set=true; cookies_policy=" + escaped) ==
        set({"quote\"d", "x,y"}));
}

TEST_CASE("Civic CookieControl: accepted categories") {
  CHECK(read(ConsentFormat::civic,
             R"(CookieControl={"necessaryCookies":[],"optionalCookies":{"analytics":"accepted",)"
             R"("marketing":"revoked"},"statement":{"shown":true,"updated":"09/07/2020"},)"
             R"("consentDate":1679692845768,"consentExpiry":90,"interactedWith":true,)"
             R"("user":"59D4A1B2"})") == set({"analytics"}));
  CHECK(
      read(ConsentFormat::civic,
           R"(CookieControl={"optionalCookies":{"analytics":"revoked","marketing":"revoked"}})") ==
      set({}));
  // Legitimate interest is no consent under PECR.
  CHECK(read(ConsentFormat::civic,
             R"(CookieControl={"optionalCookies":{"analytics":"legitimate interest",)"
             R"("os":"accepted"},"interactedWith":true})") == set({"os"}));
  // Percent-encoded variant.
  CHECK(
      read(ConsentFormat::civic,
           "CookieControl=%7B%22optionalCookies%22%3A%7B%22analytics%22%3A%22accepted%22%7D%7D") ==
      set({"analytics"}));
}

TEST_CASE("Civic CookieControl: no decision") {
  // As seen on highland.gov.uk before a choice: nothing accepted or revoked, no interaction.
  CHECK_FALSE(
      read(ConsentFormat::civic,
           R"(CookieControl={"necessaryCookies":[],"optionalCookies":{},)"
           R"("statement":{"shown":true,"updated":"09/07/2020"},"consentDate":1679692845768,)"
           R"("consentExpiry":90,"interactedWith":false,"user":"59D4"})"));
  CHECK_FALSE(read(ConsentFormat::civic, R"(CookieControl={"interactedWith":true})"));
  CHECK_FALSE(read(ConsentFormat::civic, R"(CookieControl={"optionalCookies":["analytics"]})"));
  CHECK_FALSE(
      read(ConsentFormat::civic, R"(CookieControl={"optionalCookies":{"analytics":true}})"));
  CHECK_FALSE(read(ConsentFormat::civic, R"(CookieControl={"optionalCookies":{"analytics":"acc)"));
  CHECK_FALSE(read(ConsentFormat::civic, "CookieControl=null"));
  CHECK_FALSE(read(ConsentFormat::civic, "cookieControl={}"));
}

TEST_CASE("orestbida cc_cookie: categories array") {
  const std::string raw =
      R"({"categories":["necessary","analytics"],"revision":0,"data":null,)"
      R"("consentTimestamp":"2024-11-24T14:12:51.927Z","consentId":"6c6dbf39-1d2e",)"
      R"("services":{"necessary":[],"analytics":[]},"languageCode":"en",)"
      R"("lastConsentTimestamp":"2024-11-24T14:12:51.927Z","expirationTime":1763993571927})";
  std::string encoded;
  for (unsigned char c : raw) {
    static const char* hex = "0123456789ABCDEF";
    const bool keep =
        std::isalnum(c) || std::string_view("-_.!~*'()").find(c) != std::string_view::npos;
    if (keep) {
      encoded += static_cast<char>(c);
    } else {
      encoded += '%';
      encoded += hex[c >> 4];
      encoded += hex[c & 15];
    }
  }
  CHECK(read(ConsentFormat::orestbida, "cc_cookie=" + encoded) == set({"necessary", "analytics"}));
  CHECK(read(ConsentFormat::orestbida, "cc_cookie=" + raw) == set({"necessary", "analytics"}));
  CHECK_FALSE(read(ConsentFormat::orestbida, "cc_cookie=" + encoded.substr(0, encoded.size() / 2)));
  CHECK_FALSE(read(ConsentFormat::orestbida, R"(cc_cookie={"categories":"analytics"})"));
  CHECK_FALSE(read(ConsentFormat::orestbida, R"(cc_cookie={"categories":["necessary",1]})"));
  CHECK_FALSE(read(ConsentFormat::orestbida, R"(cc_cookie={"revision":0})"));
}

TEST_CASE("Klaro klaro: services set true") {
  CHECK(read(ConsentFormat::klaro, "klaro=%7B%22matomo%22%3Atrue%2C%22youtube%22%3Afalse%7D") ==
        set({"matomo"}));
  CHECK(read(ConsentFormat::klaro, R"(klaro={"matomo":false,"youtube":true,"maps":true})") ==
        set({"youtube", "maps"}));
  CHECK(read(ConsentFormat::klaro, "klaro=%7B%7D") == set({}));
  CHECK_FALSE(read(ConsentFormat::klaro, R"(klaro={"matomo":"true"})"));
  CHECK_FALSE(read(ConsentFormat::klaro, "klaro=%7B%22matomo%22%3Atrue"));
  CHECK_FALSE(read(ConsentFormat::klaro, "klaro=[true]"));
}

TEST_CASE("Cookiebot CookieConsent: JavaScript object literal") {
  const std::string literal =
      "{stamp:'iL9jQx+abc/def==',necessary:true,preferences:false,statistics:true,"
      "marketing:false,method:'explicit',ver:7,utc:1731969341591,region:'gb'}";
  CHECK(read(ConsentFormat::cookiebot, "CookieConsent=" + literal) ==
        set({"necessary", "statistics"}));
  std::string encoded_commas;
  for (char c : literal) encoded_commas += c == ',' ? std::string("%2C") : std::string(1, c);
  CHECK(read(ConsentFormat::cookiebot, "CookieConsent=" + encoded_commas) ==
        set({"necessary", "statistics"}));
  CHECK(read(ConsentFormat::cookiebot,
             R"(CookieConsent={ "necessary" : true , 'marketing':true, })") ==
        set({"necessary", "marketing"}));
}

TEST_CASE("Cookiebot CookieConsent: no decision") {
  // -1: Cookiebot decided the visitor's region needs no consent. A vendor's geo claim, not a
  // choice the visitor made.
  CHECK_FALSE(read(ConsentFormat::cookiebot, "CookieConsent=-1"));
  // Implied consent (continued browsing) is not the visitor's choice either.
  CHECK_FALSE(read(ConsentFormat::cookiebot,
                   "CookieConsent={stamp:'x',necessary:true,preferences:true,statistics:true,"
                   "marketing:true,method:'implied',ver:1}"));
  for (const char* broken :
       {"CookieConsent={stamp:'x',necessary:'true'}", "CookieConsent={necessary:yes}",
        "CookieConsent={stamp:'x',ver:7}", "CookieConsent={necessary:true", "CookieConsent={}",
        "CookieConsent={necessary:true,statistics:{a:1}}", "CookieConsent={stamp:'unterminated}",
        "CookieConsent={necessary:true}x", "CookieConsent=necessary:true", "CookieConsent=%2",
        "CookieConsent={:true}", "CookieConsent={necessary:}", "CookieConsent="}) {
    INFO(broken);
    CHECK_FALSE(read(ConsentFormat::cookiebot, broken));
  }
}

TEST_CASE("OneTrust OptanonConsent: groups") {
  const std::string value =
      "isGpcEnabled=0&datestamp=Wed+Feb+01+2023+12%3A35%3A32+GMT%2B0100+(Central+European+Standard"
      "+Time)&version=202209.1.0&isIABGlobal=false&hosts=&consentId=7f3c2a&interactionCount=1&"
      "landingPath=NotLandingPage&groups=C0001%3A1%2CC0002%3A0%2CC0003%3A1%2CC0004%3A1%2CC0005%3A1"
      "&geolocation=AT%3B9&AwaitingReconsent=false";
  CHECK(read(ConsentFormat::onetrust, "OptanonConsent=" + value) ==
        set({"C0001", "C0003", "C0004", "C0005"}));
  // Older cookies without interactionCount count when the banner was closed.
  CHECK(read(ConsentFormat::onetrust,
             "OptanonConsent=groups=C0001%3A1%2CC0002%3A1; "
             "OptanonAlertBoxClosed=2021-08-04T15:45:37.821Z") == set({"C0001", "C0002"}));
  // Custom group ids.
  CHECK(read(ConsentFormat::onetrust, "OptanonConsent=interactionCount=3&groups=BG71:1,1:0,2:1") ==
        set({"BG71", "2"}));
}

TEST_CASE("OneTrust OptanonConsent: no decision") {
  // Before any interaction OneTrust writes the region's default groups: not a choice.
  CHECK_FALSE(read(ConsentFormat::onetrust,
                   "OptanonConsent=interactionCount=0&groups=C0001%3A1%2CC0002%3A1"));
  CHECK_FALSE(read(ConsentFormat::onetrust, "OptanonConsent=groups=C0001%3A1%2CC0002%3A1"));
  for (const char* broken :
       {"OptanonConsent=interactionCount=1&groups=", "OptanonConsent=interactionCount=1",
        "OptanonConsent=interactionCount=1&groups=C0001%3Ayes",
        "OptanonConsent=interactionCount=1&groups=C0001",
        "OptanonConsent=interactionCount=1&groups=%3A1",
        "OptanonConsent=interactionCount=1&groups=C0001%3A1%2C%2CC0002%3A1",
        "OptanonConsent=interactionCount=x&groups=C0001%3A1",
        "OptanonConsent=interactionCount=1&groups=C0001%3", "OptanonConsent="}) {
    INFO(broken);
    CHECK_FALSE(read(ConsentFormat::onetrust, broken));
  }
}

TEST_CASE("Complianz cmplz_ cookies: several cookies, one set") {
  CHECK(read(ConsentFormat::complianz,
             "cmplz_functional=allow; cmplz_preferences=deny; cmplz_statistics=allow; "
             "cmplz_marketing=deny; cmplz_banner-status=dismissed; cmplz_policy_id=14") ==
        set({"functional", "statistics"}));
  CHECK(read(ConsentFormat::complianz, "cmplz_rt_marketing=allow; cmplz_rt_statistics=deny") ==
        set({"marketing"}));
  CHECK_FALSE(read(ConsentFormat::complianz, "cmplz_functional=allow"));
  CHECK_FALSE(read(ConsentFormat::complianz, "cmplz_banner-status=show; cmplz_policy_id=14"));
  CHECK_FALSE(read(ConsentFormat::complianz, "cmplz_marketing=yes; cmplz_statistics=1"));
  CHECK_FALSE(read(ConsentFormat::complianz, "_ga=1"));
}

TEST_CASE("consent readers ignore other tools' cookies") {
  const std::string everything =
      R"(cookies_policy={"essential":true,"usage":true}; CookieControl={"optionalCookies":{}}; )"
      "klaro=%7B%22matomo%22%3Atrue%7D";
  CHECK_FALSE(read(ConsentFormat::govuk, everything));
  CHECK_FALSE(read(ConsentFormat::civic, everything));
  CHECK(read(ConsentFormat::klaro, everything) == set({"matomo"}));
  CHECK_FALSE(read(ConsentFormat::orestbida, everything));
  CHECK_FALSE(read(ConsentFormat::cookiebot, everything));
  CHECK_FALSE(read(ConsentFormat::onetrust, everything));
  CHECK_FALSE(read(ConsentFormat::complianz, everything));
}
