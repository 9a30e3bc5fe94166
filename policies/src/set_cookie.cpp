#include "veil/policies/set_cookie.hpp"

#include <algorithm>
#include <limits>

#include "cookie_header_text.hpp"

namespace veil::policies {
namespace {

using namespace cookie_text;

// RFC 6265bis §5.6: limits browsers apply before storing anything.
constexpr std::size_t kMaxNameValueOctets = 4096;
constexpr std::size_t kMaxAttributeValueOctets = 1024;

// Max-Age = ["-"] 1*DIGIT, clamped to ±kMaxAgeLimit; nullopt for anything else ("", "-", "1.5").
std::optional<std::int64_t> parse_max_age(std::string_view text) {
  const bool negative = !text.empty() && text.front() == '-';
  if (negative) text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  std::int64_t magnitude = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    if (magnitude < SetCookie::kMaxAgeLimit) magnitude = magnitude * 10 + (c - '0');
  }
  magnitude = std::min(magnitude, SetCookie::kMaxAgeLimit);
  return negative ? -magnitude : magnitude;
}

SameSite parse_same_site(std::string_view value) {
  if (iequals(value, "strict")) return SameSite::strict;
  if (iequals(value, "lax")) return SameSite::lax;
  if (iequals(value, "none")) return SameSite::none;
  return SameSite::unrecognised;
}

bool has_forbidden_character(std::string_view text, bool allow_equals) {
  return std::any_of(text.begin(), text.end(), [&](char c) {
    return is_forbidden_control(c) || c == ';' || (!allow_equals && c == '=');
  });
}

}  // namespace

std::string_view to_string(SameSite same_site) {
  switch (same_site) {
    case SameSite::strict:
      return "Strict";
    case SameSite::lax:
      return "Lax";
    case SameSite::none:
      return "None";
    case SameSite::unspecified:
    case SameSite::unrecognised:
      break;
  }
  return "";
}

void SetCookie::forget_meaning_of(std::string_view name) {
  if (iequals(name, "expires")) {
    expires_.reset();
  } else if (iequals(name, "max-age")) {
    max_age_.reset();
  } else if (iequals(name, "domain")) {
    domain_.reset();
  } else if (iequals(name, "path")) {
    path_.reset();
  } else if (iequals(name, "secure")) {
    secure_ = false;
  } else if (iequals(name, "httponly")) {
    http_only_ = false;
  } else if (iequals(name, "partitioned")) {
    partitioned_ = false;
  } else if (iequals(name, "samesite")) {
    same_site_ = SameSite::unspecified;
  }
}

void SetCookie::apply_meaning(const CookieAttribute& attribute) {
  const std::string_view name = attribute.name;
  const std::string_view value = attribute.value;
  if (value.size() > kMaxAttributeValueOctets) return;
  if (iequals(name, "expires")) {
    if (auto time = parse_cookie_date(value)) expires_ = time;
  } else if (iequals(name, "max-age")) {
    if (auto seconds = parse_max_age(value)) max_age_ = seconds;
  } else if (iequals(name, "domain")) {
    // An empty Domain is undefined in RFC 6265; RFC 6265bis says to ignore it, as browsers do.
    if (value.empty()) return;
    std::string domain(value.front() == '.' ? value.substr(1) : value);
    std::transform(domain.begin(), domain.end(), domain.begin(), ascii_lower);
    if (domain.empty()) {
      domain_.reset();
    } else {
      domain_ = std::move(domain);
    }
  } else if (iequals(name, "path")) {
    if (value.empty() || value.front() != '/') {
      path_.reset();
    } else {
      path_ = std::string(value);
    }
  } else if (iequals(name, "secure")) {
    secure_ = true;
  } else if (iequals(name, "httponly")) {
    http_only_ = true;
  } else if (iequals(name, "partitioned")) {
    partitioned_ = true;
  } else if (iequals(name, "samesite")) {
    same_site_ = parse_same_site(value);
  }
}

void SetCookie::rederive(std::string_view name) {
  forget_meaning_of(name);
  for (const CookieAttribute& attribute : attributes_) {
    if (iequals(attribute.name, name)) apply_meaning(attribute);
  }
}

std::optional<std::int64_t> SetCookie::lifetime(sys_seconds date) const {
  if (max_age_) return max_age_;
  if (expires_) return (*expires_ - date).count();
  return std::nullopt;
}

bool SetCookie::is_deletion(sys_seconds date) const {
  const auto remaining = lifetime(date);
  return remaining && *remaining <= 0;
}

void SetCookie::set_attribute(std::string_view name, std::optional<std::string_view> value) {
  auto first = std::find_if(attributes_.begin(), attributes_.end(),
                            [&](const CookieAttribute& a) { return iequals(a.name, name); });
  if (first == attributes_.end()) {
    first = attributes_.insert(attributes_.end(), CookieAttribute{});
  } else {
    attributes_.erase(
        std::remove_if(first + 1, attributes_.end(),
                       [&](const CookieAttribute& a) { return iequals(a.name, name); }),
        attributes_.end());
  }
  first->name.assign(name);
  first->value.assign(value.value_or(""));
  first->has_value = value.has_value();
  // The only attribute of that name now: its meaning is the whole meaning.
  forget_meaning_of(name);
  apply_meaning(*first);
}

void SetCookie::remove_attribute(std::string_view name) {
  std::erase_if(attributes_, [&](const CookieAttribute& a) { return iequals(a.name, name); });
  rederive(name);
}

std::string SetCookie::serialize() const {
  std::string out;
  out.reserve(name_.size() + value_.size() + 16 * attributes_.size() + 1);
  if (has_name_separator_) {
    out += name_;
    out += '=';
  }
  out += value_;
  for (const CookieAttribute& attribute : attributes_) {
    out += "; ";
    out += attribute.name;
    if (attribute.has_value) {
      out += '=';
      out += attribute.value;
    }
  }
  return out;
}

SetCookieParse parse_set_cookie(std::string_view header) {
  if (std::any_of(header.begin(), header.end(), is_forbidden_control)) {
    return {std::nullopt, "control character in Set-Cookie"};
  }
  const std::size_t pair_end = std::min(header.find(';'), header.size());
  const std::string_view pair = header.substr(0, pair_end);
  SetCookie cookie;
  const std::size_t equals = pair.find('=');
  cookie.has_name_separator_ = equals != std::string_view::npos;
  const std::string_view name = cookie.has_name_separator_ ? pair.substr(0, equals) : "";
  const std::string_view value = cookie.has_name_separator_ ? pair.substr(equals + 1) : pair;
  cookie.name_ = trim_whitespace(name);
  cookie.value_ = trim_whitespace(value);
  if (cookie.name_.size() + cookie.value_.size() > kMaxNameValueOctets) {
    return {std::nullopt, "name and value longer than 4096 octets"};
  }
  if (cookie.name_.empty() && cookie.value_.empty()) {
    return {std::nullopt, "empty name and value"};
  }
  std::string_view rest = header.substr(pair_end);
  cookie.attributes_.reserve(static_cast<std::size_t>(std::count(rest.begin(), rest.end(), ';')));
  while (!rest.empty()) {
    rest.remove_prefix(1);  // the ';'
    const std::size_t end = std::min(rest.find(';'), rest.size());
    const std::string_view av = rest.substr(0, end);
    rest = rest.substr(end);
    const std::size_t av_equals = av.find('=');
    CookieAttribute attribute;
    attribute.has_value = av_equals != std::string_view::npos;
    attribute.name = trim_whitespace(av.substr(0, av_equals));
    if (attribute.has_value) attribute.value = trim_whitespace(av.substr(av_equals + 1));
    // A cookie-av with no name ("; ;" or "; =x") means nothing to a browser: drop it.
    if (attribute.name.empty()) continue;
    cookie.apply_meaning(attribute);
    cookie.attributes_.push_back(std::move(attribute));
  }
  return {std::move(cookie), ""};
}

std::string_view prefix_violation(const SetCookie& cookie) {
  if (cookie.name().empty()) {
    if (istarts_with(cookie.value(), "__Secure-") || istarts_with(cookie.value(), "__Host-")) {
      return "nameless cookie whose value starts with __Secure- or __Host-";
    }
    return "";
  }
  if (istarts_with(cookie.name(), "__Secure-") && !cookie.secure()) {
    return "__Secure- cookie without Secure";
  }
  if (istarts_with(cookie.name(), "__Host-")) {
    if (!cookie.secure()) return "__Host- cookie without Secure";
    if (cookie.domain()) return "__Host- cookie with a Domain";
    if (cookie.path() != "/") return "__Host- cookie without Path=/";
  }
  return "";
}

bool exceeds_lifetime(const SetCookie& cookie, std::chrono::seconds max_lifetime,
                      sys_seconds response_date) {
  const auto remaining = cookie.lifetime(response_date);
  return remaining && *remaining > 0 && *remaining > max_lifetime.count();
}

bool cap_lifetime(SetCookie& cookie, std::chrono::seconds max_lifetime, sys_seconds response_date) {
  if (!exceeds_lifetime(cookie, max_lifetime, response_date)) return false;
  cookie.set_attribute("Max-Age", std::to_string(max_lifetime.count()));
  cookie.set_attribute("Expires", format_http_date(response_date + max_lifetime));
  return true;
}

namespace {

bool lacks_secure(const SetCookie& cookie, const RequiredAttributes& required) {
  return required.secure && !cookie.secure();
}
bool lacks_http_only(const SetCookie& cookie, const RequiredAttributes& required) {
  return required.http_only && !cookie.http_only();
}
bool lacks_same_site(const SetCookie& cookie, const RequiredAttributes& required) {
  return required.same_site && cookie.same_site() != *required.same_site &&
         !to_string(*required.same_site).empty();
}

}  // namespace

bool lacks_attributes(const SetCookie& cookie, const RequiredAttributes& required) {
  return lacks_secure(cookie, required) || lacks_http_only(cookie, required) ||
         lacks_same_site(cookie, required);
}

bool require_attributes(SetCookie& cookie, const RequiredAttributes& required) {
  bool changed = false;
  if (lacks_secure(cookie, required)) {
    cookie.set_attribute("Secure", std::nullopt);
    changed = true;
  }
  if (lacks_http_only(cookie, required)) {
    cookie.set_attribute("HttpOnly", std::nullopt);
    changed = true;
  }
  if (lacks_same_site(cookie, required)) {
    cookie.set_attribute("SameSite", to_string(*required.same_site));
    changed = true;
  }
  return changed;
}

std::optional<std::string> build_set_cookie(const NewCookie& cookie) {
  if (cookie.name.empty() || has_forbidden_character(cookie.name, false) ||
      has_forbidden_character(cookie.value, true) ||
      has_forbidden_character(cookie.domain, false) || has_forbidden_character(cookie.path, true)) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(cookie.name.size() + cookie.value.size() + 128);
  out.append(cookie.name).append("=").append(cookie.value);
  if (cookie.max_age) {
    out.append("; Max-Age=").append(std::to_string(cookie.max_age->count()));
    out.append("; Expires=").append(format_http_date(cookie.now + *cookie.max_age));
  }
  if (!cookie.domain.empty()) out.append("; Domain=").append(cookie.domain);
  if (!cookie.path.empty()) out.append("; Path=").append(cookie.path);
  if (cookie.secure) out.append("; Secure");
  if (cookie.http_only) out.append("; HttpOnly");
  if (const std::string_view same_site = to_string(cookie.same_site); !same_site.empty()) {
    out.append("; SameSite=").append(same_site);
  }
  return out;
}

std::optional<std::string> build_deletion_set_cookie(std::string_view name,
                                                     std::string_view domain) {
  const bool host_prefix = istarts_with(name, "__Host-");
  if (host_prefix && !domain.empty()) return std::nullopt;
  if (name.empty() || has_forbidden_character(name, false) ||
      has_forbidden_character(domain, false)) {
    return std::nullopt;
  }
  // The text build_set_cookie writes for Max-Age 0 at the epoch on Path=/, written directly: the
  // proxy sends several per withdrawn cookie, and their date never changes.
  constexpr std::string_view kLifetime = "=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT";
  std::string out;
  out.reserve(name.size() + kLifetime.size() + domain.size() + 32);
  out.append(name).append(kLifetime);
  if (!domain.empty()) out.append("; Domain=").append(domain);
  out.append("; Path=/");
  if (host_prefix || istarts_with(name, "__Secure-")) out.append("; Secure");
  return out;
}

}  // namespace veil::policies
