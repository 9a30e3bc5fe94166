// Readers for the consent cookies that existing consent-management tools write, and the writer for
// veil's own consent cookie (GOV.UK format).
//
// Each reader returns the category names *in the vendor's own vocabulary* that the visitor has
// granted (the policy maps them to its categories), or std::nullopt for "no decision": the cookie
// is absent, unreadable, of the wrong shape, or records no choice by the visitor. Nothing a reader
// cannot read ever counts as consent.
#pragma once

#include <array>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "veil/policies/cookie_header.hpp"

namespace veil::policies {

enum class ConsentFormat {
  // `cookies_policy` (raw or percent-encoded JSON category → bool) counted only together with
  // `cookies_preferences_set=true`: GOV.UK writes a default `cookies_policy` before anyone chooses.
  govuk,
  // Civic Cookie Control `CookieControl` (JSON): `optionalCookies` entries "accepted" are granted;
  // "revoked" and "legitimate interest" are not (PECR needs consent for non-essential cookies). A
  // decision needs `interactedWith: true` or at least one accepted/revoked entry.
  civic,
  // orestbida CookieConsent v3 `cc_cookie` (percent-encoded JSON): the `categories` array.
  orestbida,
  // Klaro `klaro` (percent-encoded JSON service → bool): the services set true.
  klaro,
  // Cookiebot `CookieConsent` (JavaScript object literal, often with `%2C` for commas): the true
  // ones of necessary/preferences/statistics/marketing. The value `-1` is Cookiebot's claim that
  // the visitor's region needs no consent, and `method:'implied'` is consent inferred from
  // browsing: neither is the visitor's choice, so both are "no decision".
  cookiebot,
  // OneTrust `OptanonConsent` (form-urlencoded): the `groups` ids flagged 1 (e.g. "C0002"). A
  // decision needs `interactionCount` ≥ 1 or, when that field is absent, `OptanonAlertBoxClosed`:
  // OneTrust writes default groups before the visitor has seen the banner.
  onetrust,
  // Complianz `cmplz_<category>=allow|deny` (also `cmplz_rt_<category>` on a multisite root): the
  // categories allowed. A decision needs an allow/deny for a category other than `functional`,
  // which Complianz records as allowed without asking.
  complianz,
};

inline constexpr std::array<ConsentFormat, 7> kConsentFormats = {
    ConsentFormat::govuk,    ConsentFormat::civic,     ConsentFormat::orestbida,
    ConsentFormat::klaro,    ConsentFormat::cookiebot, ConsentFormat::onetrust,
    ConsentFormat::complianz};

// "govuk", "civic", "orestbida", "klaro", "cookiebot", "onetrust", "complianz".
std::string_view to_string(ConsentFormat format);
std::optional<ConsentFormat> parse_consent_format(std::string_view name);

// Whether cookie `name` belongs to the consent tool (it is consent state: essential).
bool is_consent_cookie(ConsentFormat format, std::string_view name);

using VendorCategories = std::set<std::string, std::less<>>;

// The visitor's decision recorded by `format` among the request's cookies.
std::optional<VendorCategories> read_consent(ConsentFormat format,
                                             std::span<const CookiePair> cookies);

// veil's own consent cookie, in GOV.UK's format.
inline constexpr std::string_view kGovukPolicyCookie = "cookies_policy";
inline constexpr std::string_view kGovukPreferencesSetCookie = "cookies_preferences_set";
inline constexpr std::string_view kGovukPreferencesSetValue = "true";

// Raw (not percent-encoded) JSON, in the order given, as GOV.UK writes it:
// {"essential":true,"settings":false,"usage":false,"campaigns":false}
std::string govuk_cookies_policy_value(std::span<const std::pair<std::string, bool>> choices);

}  // namespace veil::policies
