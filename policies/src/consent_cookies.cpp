#include "veil/policies/consent_cookies.hpp"

#include "veil/policies/percent_decode.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <vector>

#include "cookie_header_text.hpp"

namespace veil::policies {
namespace {

namespace json = boost::json;
using cookie_text::is_whitespace;

constexpr std::array<std::string_view, kConsentFormats.size()> kFormatNames = {
    "govuk", "civic", "orestbida", "klaro", "cookiebot", "onetrust", "complianz"};

// A JSON object written raw (GOV.UK, Civic) or through encodeURIComponent (orestbida, Klaro);
// tools differ between versions, so both are accepted for every JSON format.
std::optional<json::object> json_object(std::string_view cookie_value) {
  json::error_code error;
  json::value parsed = json::parse(cookie_value, error);
  if (error && cookie_value.find('%') != std::string_view::npos) {
    if (auto decoded = percent_decode(cookie_value, false)) {
      error = {};
      parsed = json::parse(*decoded, error);
    }
  }
  if (error || !parsed.is_object()) return std::nullopt;
  return std::move(parsed.as_object());
}

std::optional<VendorCategories> read_govuk(std::span<const CookiePair> cookies) {
  if (find_cookie(cookies, kGovukPreferencesSetCookie) != kGovukPreferencesSetValue) {
    return std::nullopt;
  }
  const auto value = find_cookie(cookies, kGovukPolicyCookie);
  if (!value) return std::nullopt;
  const auto policy = json_object(*value);
  if (!policy) return std::nullopt;
  VendorCategories granted;
  for (const auto& [category, choice] : *policy) {
    if (!choice.is_bool()) return std::nullopt;
    if (choice.get_bool()) granted.emplace(category);
  }
  return granted;
}

std::optional<VendorCategories> read_civic(std::span<const CookiePair> cookies) {
  const auto value = find_cookie(cookies, "CookieControl");
  if (!value) return std::nullopt;
  const auto control = json_object(*value);
  if (!control) return std::nullopt;
  const json::value* optional_cookies = control->if_contains("optionalCookies");
  if (!optional_cookies || !optional_cookies->is_object()) return std::nullopt;
  VendorCategories granted;
  bool chosen = false;
  for (const auto& [category, state] : optional_cookies->get_object()) {
    if (!state.is_string()) return std::nullopt;
    if (state.get_string() == "accepted") {
      granted.emplace(category);
      chosen = true;
    } else if (state.get_string() == "revoked") {
      chosen = true;
    }
  }
  const json::value* interacted = control->if_contains("interactedWith");
  if (interacted && interacted->is_bool() && interacted->get_bool()) chosen = true;
  if (!chosen) return std::nullopt;
  return granted;
}

std::optional<VendorCategories> read_orestbida(std::span<const CookiePair> cookies) {
  const auto value = find_cookie(cookies, "cc_cookie");
  if (!value) return std::nullopt;
  const auto consent = json_object(*value);
  if (!consent) return std::nullopt;
  const json::value* categories = consent->if_contains("categories");
  if (!categories || !categories->is_array()) return std::nullopt;
  VendorCategories granted;
  for (const json::value& category : categories->get_array()) {
    if (!category.is_string()) return std::nullopt;
    granted.emplace(category.get_string());
  }
  return granted;
}

std::optional<VendorCategories> read_klaro(std::span<const CookiePair> cookies) {
  const auto value = find_cookie(cookies, "klaro");
  if (!value) return std::nullopt;
  const auto services = json_object(*value);
  if (!services) return std::nullopt;
  VendorCategories granted;
  for (const auto& [service, choice] : *services) {
    if (!choice.is_bool()) return std::nullopt;
    if (choice.get_bool()) granted.emplace(service);
  }
  return granted;
}

struct LiteralMember {
  std::string key;
  std::string value;
  bool quoted = false;
};

// A flat JavaScript object literal as Cookiebot writes it: {key:'text',flag:true,n:7}. Keys bare
// or quoted, strings in ' or " (no escapes: Cookiebot writes none), other values bare tokens.
// Nested objects or arrays, or anything else unexpected, make it unreadable.
std::optional<std::vector<LiteralMember>> read_object_literal(std::string_view text) {
  std::size_t pos = 0;
  const auto skip_space = [&] {
    while (pos < text.size() && is_whitespace(text[pos])) ++pos;
  };
  const auto read_quoted = [&](std::string& out) {
    const char quote = text[pos++];
    const std::size_t end = text.find(quote, pos);
    if (end == std::string_view::npos) return false;
    out.assign(text.substr(pos, end - pos));
    pos = end + 1;
    return true;
  };
  const auto read_bare = [&](std::string& out, std::string_view stops) {
    const std::size_t start = pos;
    while (pos < text.size() && stops.find(text[pos]) == std::string_view::npos) ++pos;
    out.assign(cookie_text::trim_whitespace(text.substr(start, pos - start)));
    return !out.empty();
  };
  std::vector<LiteralMember> members;
  skip_space();
  if (pos >= text.size() || text[pos] != '{') return std::nullopt;
  ++pos;
  for (;;) {
    skip_space();
    if (pos >= text.size()) return std::nullopt;
    if (text[pos] == '}') break;
    LiteralMember member;
    const bool key_read = (text[pos] == '\'' || text[pos] == '"')
                              ? read_quoted(member.key)
                              : read_bare(member.key, ":,{}[]'\"");
    if (!key_read) return std::nullopt;
    skip_space();
    if (pos >= text.size() || text[pos] != ':') return std::nullopt;
    ++pos;
    skip_space();
    if (pos >= text.size()) return std::nullopt;
    member.quoted = text[pos] == '\'' || text[pos] == '"';
    const bool value_read =
        member.quoted ? read_quoted(member.value) : read_bare(member.value, ",{}[]'\"");
    if (!value_read) return std::nullopt;
    members.push_back(std::move(member));
    skip_space();
    if (pos < text.size() && text[pos] == ',') {
      ++pos;
      continue;
    }
    if (pos >= text.size() || text[pos] != '}') return std::nullopt;
  }
  ++pos;
  skip_space();
  if (pos != text.size()) return std::nullopt;
  return members;
}

std::optional<VendorCategories> read_cookiebot(std::span<const CookiePair> cookies) {
  const auto value = find_cookie(cookies, "CookieConsent");
  if (!value || *value == "-1") return std::nullopt;
  const auto decoded = percent_decode(*value, false);
  if (!decoded) return std::nullopt;
  const auto members = read_object_literal(*decoded);
  if (!members) return std::nullopt;
  constexpr std::array<std::string_view, 4> kCategories = {"necessary", "preferences", "statistics",
                                                           "marketing"};
  VendorCategories granted;
  bool any_category = false;
  for (const LiteralMember& member : *members) {
    if (member.key == "method" && member.value == "implied") return std::nullopt;
    if (std::find(kCategories.begin(), kCategories.end(), member.key) == kCategories.end()) {
      continue;
    }
    if (member.quoted || (member.value != "true" && member.value != "false")) return std::nullopt;
    any_category = true;
    if (member.value == "true") granted.emplace(member.key);
  }
  if (!any_category) return std::nullopt;
  return granted;
}

std::optional<VendorCategories> read_onetrust(std::span<const CookiePair> cookies) {
  const auto value = find_cookie(cookies, "OptanonConsent");
  if (!value) return std::nullopt;
  std::optional<std::string> groups;
  std::optional<std::string> interaction_count;
  std::string_view rest = *value;
  while (!rest.empty()) {
    const std::size_t end = std::min(rest.find('&'), rest.size());
    const std::string_view field = rest.substr(0, end);
    rest.remove_prefix(std::min(end + 1, rest.size()));
    const std::size_t equals = field.find('=');
    if (equals == std::string_view::npos) continue;
    const std::string_view key = field.substr(0, equals);
    if (key != "groups" && key != "interactionCount") continue;
    auto decoded = percent_decode(field.substr(equals + 1), true);
    if (!decoded) return std::nullopt;
    (key == "groups" ? groups : interaction_count) = std::move(decoded);
  }
  if (interaction_count) {
    int count = 0;
    const char* end = interaction_count->data() + interaction_count->size();
    const auto [ptr, error] = std::from_chars(interaction_count->data(), end, count);
    if (error != std::errc{} || ptr != end || count < 1) return std::nullopt;
  } else if (!find_cookie(cookies, "OptanonAlertBoxClosed")) {
    return std::nullopt;
  }
  if (!groups || groups->empty()) return std::nullopt;
  VendorCategories granted;
  std::string_view entries = *groups;
  while (!entries.empty()) {
    const std::size_t end = std::min(entries.find(','), entries.size());
    const std::string_view entry = entries.substr(0, end);
    entries.remove_prefix(std::min(end + 1, entries.size()));
    const std::size_t colon = entry.find(':');
    if (colon == 0 || colon == std::string_view::npos) return std::nullopt;
    const std::string_view flag = entry.substr(colon + 1);
    if (flag == "1") {
      granted.emplace(entry.substr(0, colon));
    } else if (flag != "0") {
      return std::nullopt;
    }
  }
  return granted;
}

// The category of a Complianz consent cookie, "" for other cookies (banner status, policy id).
std::string_view complianz_category(std::string_view name) {
  constexpr std::string_view kPrefix = "cmplz_";
  constexpr std::string_view kMultisiteRootPrefix = "cmplz_rt_";
  if (name.starts_with(kMultisiteRootPrefix)) return name.substr(kMultisiteRootPrefix.size());
  if (name.starts_with(kPrefix)) return name.substr(kPrefix.size());
  return "";
}

std::optional<VendorCategories> read_complianz(std::span<const CookiePair> cookies) {
  VendorCategories granted;
  bool chosen = false;
  for (const CookiePair& cookie : cookies) {
    const std::string_view category = complianz_category(cookie.name);
    if (category.empty() || (cookie.value != "allow" && cookie.value != "deny")) continue;
    if (category != "functional") chosen = true;
    if (cookie.value == "allow") granted.emplace(category);
  }
  if (!chosen) return std::nullopt;
  return granted;
}

}  // namespace

std::string_view to_string(ConsentFormat format) {
  return kFormatNames[static_cast<std::size_t>(format)];
}

std::optional<ConsentFormat> parse_consent_format(std::string_view name) {
  for (std::size_t i = 0; i < kFormatNames.size(); ++i) {
    if (kFormatNames[i] == name) return kConsentFormats[i];
  }
  return std::nullopt;
}

bool is_consent_cookie(ConsentFormat format, std::string_view name) {
  switch (format) {
    case ConsentFormat::govuk:
      return name == kGovukPolicyCookie || name == kGovukPreferencesSetCookie;
    case ConsentFormat::civic:
      return name == "CookieControl";
    case ConsentFormat::orestbida:
      return name == "cc_cookie";
    case ConsentFormat::klaro:
      return name == "klaro";
    case ConsentFormat::cookiebot:
      return name == "CookieConsent" || name == "CookieConsentBulkTicket";
    case ConsentFormat::onetrust:
      return name == "OptanonConsent" || name == "OptanonAlertBoxClosed";
    case ConsentFormat::complianz:
      return name.starts_with("cmplz_");
  }
  return false;
}

std::optional<VendorCategories> read_consent(ConsentFormat format,
                                             std::span<const CookiePair> cookies) {
  switch (format) {
    case ConsentFormat::govuk:
      return read_govuk(cookies);
    case ConsentFormat::civic:
      return read_civic(cookies);
    case ConsentFormat::orestbida:
      return read_orestbida(cookies);
    case ConsentFormat::klaro:
      return read_klaro(cookies);
    case ConsentFormat::cookiebot:
      return read_cookiebot(cookies);
    case ConsentFormat::onetrust:
      return read_onetrust(cookies);
    case ConsentFormat::complianz:
      return read_complianz(cookies);
  }
  return std::nullopt;
}

std::string govuk_cookies_policy_value(std::span<const std::pair<std::string, bool>> choices) {
  std::string out = "{";
  for (const auto& [category, granted] : choices) {
    if (out.size() > 1) out += ',';
    out += json::serialize(json::value(category));
    out += granted ? ":true" : ":false";
  }
  out += '}';
  return out;
}

}  // namespace veil::policies
