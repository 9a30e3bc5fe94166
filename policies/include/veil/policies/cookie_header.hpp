// The request `Cookie` header: split into name/value pairs the way servers must read what
// browsers send, and written back after filtering (to strip non-consented cookies upstream).
//
// Pairs are separated by ';' only, never by ',': consent cookies such as GOV.UK's
// `cookies_policy={"essential":true,"usage":false}` carry commas, quotes and braces in their
// values.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace veil::policies {

struct CookiePair {
  std::string_view name;  // "" for a nameless cookie (browsers send just its value)
  std::string_view value;

  bool operator==(const CookiePair&) const = default;
};

// Reads pairs one at a time without allocating. Views point into the header text.
class CookieHeaderReader {
 public:
  explicit CookieHeaderReader(std::string_view header) : rest_(header) {}
  // The next non-empty pair, whitespace around name and value removed; false at the end.
  bool next(CookiePair& pair);

 private:
  std::string_view rest_;
};

std::vector<CookiePair> parse_cookie_header(std::string_view header);

// "a=1; b=2" (a nameless cookie as its bare value), the form browsers send.
std::string serialize_cookie_header(std::span<const CookiePair> cookies);

// The value of the first cookie called `name`, if any.
std::optional<std::string_view> find_cookie(std::span<const CookiePair> cookies,
                                            std::string_view name);

}  // namespace veil::policies
