// The `Set-Cookie` response header as browsers read it (RFC 6265bis §5.6, RFC 6265 §5.2), and the
// rewriting the cookie filter does: capping lifetimes, adding attributes, and building cookies
// (including the deletion cookies that expire what a visitor has not consented to).
//
// Parsing never fails on hostile input: it either returns a cookie a browser would store (maybe
// with attributes a browser would ignore, kept so that the cookie can be written back) or a short
// static reason why a browser would ignore the whole header.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "veil/policies/http_date.hpp"

namespace veil::policies {

enum class SameSite {
  unspecified,  // no SameSite attribute: browsers apply their default (Lax in Chromium)
  strict,
  lax,
  none,
  unrecognised,  // a SameSite attribute with another value: browsers treat it as unspecified
};

// "Strict", "Lax", "None"; "" for unspecified and unrecognised.
std::string_view to_string(SameSite same_site);

// One cookie-av exactly as written, minus the whitespace around name and value. Attributes a
// browser ignores (unknown names, unparsable dates, values over 1024 octets) are kept here too.
struct CookieAttribute {
  std::string name;
  std::string value;
  bool has_value = false;  // "Secure=" has an (empty) value, "Secure" has none

  bool operator==(const CookieAttribute&) const = default;
};

struct SetCookieParse;
// Parses one `Set-Cookie` header value (never a comma-joined list: commas are part of values).
SetCookieParse parse_set_cookie(std::string_view header);

// A parsed `Set-Cookie`. The accessors give the meaning a browser assigns (the last valid
// Expires/Domain/Path/SameSite wins, Max-Age beats Expires whatever the order); the attribute
// list gives the text. Mutators edit the list and re-derive the meaning, so both always agree.
class SetCookie {
 public:
  // Longest Max-Age kept: larger values (and overflowing digit strings) are clamped to it.
  static constexpr std::int64_t kMaxAgeLimit = 1'000'000'000'000;  // about 31,700 years

  const std::string& name() const { return name_; }
  const std::string& value() const { return value_; }
  // False for a nameless cookie written without '=' ("foo" → name "", value "foo").
  bool has_name_separator() const { return has_name_separator_; }

  std::optional<sys_seconds> expires() const { return expires_; }
  std::optional<std::int64_t> max_age() const { return max_age_; }  // may be zero or negative
  // Lower-cased, one leading '.' removed; nullopt when host-only.
  const std::optional<std::string>& domain() const { return domain_; }
  // The Path attribute when it starts with '/'; nullopt means the default path.
  const std::optional<std::string>& path() const { return path_; }
  bool secure() const { return secure_; }
  bool http_only() const { return http_only_; }
  bool partitioned() const { return partitioned_; }
  SameSite same_site() const { return same_site_; }
  std::span<const CookieAttribute> attributes() const { return attributes_; }

  // Neither a valid Max-Age nor a valid Expires: the cookie ends with the browser session.
  bool is_session() const { return !max_age_ && !expires_; }
  // Seconds from `date` (normally the response's Date) until the cookie expires; nullopt for a
  // session cookie. Zero or negative for a cookie that deletes itself.
  std::optional<std::int64_t> lifetime(sys_seconds date) const;
  bool is_deletion(sys_seconds date) const;

  // Replaces every attribute named `name` (case-insensitively) by one `name=value` (or the bare
  // flag `name` when value is nullopt), placed where the first of them was, else at the end.
  void set_attribute(std::string_view name, std::optional<std::string_view> value);
  void remove_attribute(std::string_view name);

  // "name=value; Attr=v; Flag": the attributes in their original order and spelling.
  std::string serialize() const;

  bool operator==(const SetCookie&) const = default;

 private:
  friend SetCookieParse parse_set_cookie(std::string_view header);
  // The meaning is derived attribute by attribute, in order (later ones win); an edit re-derives
  // only the attribute it touched.
  void apply_meaning(const CookieAttribute& attribute);
  void forget_meaning_of(std::string_view name);
  void rederive(std::string_view name);

  std::string name_;
  std::string value_;
  bool has_name_separator_ = true;
  std::vector<CookieAttribute> attributes_;
  std::optional<sys_seconds> expires_;
  std::optional<std::int64_t> max_age_;
  std::optional<std::string> domain_;
  std::optional<std::string> path_;
  bool secure_ = false;
  bool http_only_ = false;
  bool partitioned_ = false;
  SameSite same_site_ = SameSite::unspecified;
};

struct SetCookieParse {
  std::optional<SetCookie> cookie;  // set when a browser would store the cookie
  std::string_view error;           // otherwise why not (static text), e.g. "empty name and value"
};

// The `__Secure-` / `__Host-` name prefix rules (RFC 6265bis §4.1.3, case-insensitive as browsers
// now match them): `__Secure-` needs Secure; `__Host-` needs Secure, `Path=/` and no Domain; a
// nameless cookie may not have a value starting with either. Returns "" when the rules hold,
// otherwise the broken rule; browsers reject such cookies.
std::string_view prefix_violation(const SetCookie& cookie);

// Whether the cookie lives longer than `max_lifetime` from `response_date` (never for session
// cookies and deletion cookies): what cap_lifetime changes.
bool exceeds_lifetime(const SetCookie& cookie, std::chrono::seconds max_lifetime,
                      sys_seconds response_date);
// Caps the lifetime at `max_lifetime` from `response_date` by rewriting Max-Age and Expires
// together (both written, consistent) when exceeds_lifetime. Returns whether the cookie changed.
bool cap_lifetime(SetCookie& cookie, std::chrono::seconds max_lifetime, sys_seconds response_date);

struct RequiredAttributes {
  bool secure = false;
  bool http_only = false;
  std::optional<SameSite> same_site{};  // strict, lax or none
};
// Whether an attribute `required` asks for is missing (or SameSite differs).
bool lacks_attributes(const SetCookie& cookie, const RequiredAttributes& required);
// Adds what is missing (and replaces a different SameSite). Returns whether the cookie changed.
bool require_attributes(SetCookie& cookie, const RequiredAttributes& required);

struct NewCookie {
  std::string_view name{};
  std::string_view value{};
  std::optional<std::chrono::seconds> max_age{};  // nullopt: a session cookie
  sys_seconds now{};                              // Expires is written as now + max_age
  std::string_view domain{};                      // empty: host-only
  std::string_view path = "/";
  bool secure = false;
  bool http_only = false;
  SameSite same_site = SameSite::unspecified;
};
// A `Set-Cookie` value for a cookie of veil's own making; nullopt when the name is empty or any
// part contains ';', a control character, or (in the name) '='.
std::optional<std::string> build_set_cookie(const NewCookie& cookie);

// A `Set-Cookie` that deletes cookie `name` on path "/" for `domain` (empty: the host-only
// cookie): empty value, `Max-Age=0` and an Expires in 1970, Secure for `__Secure-`/`__Host-`
// names. nullopt for a `__Host-` name with a domain (such a cookie cannot exist) or an unusable
// name (as build_set_cookie).
std::optional<std::string> build_deletion_set_cookie(std::string_view name,
                                                     std::string_view domain);

}  // namespace veil::policies
