// Dates in HTTP headers: the IMF-fixdate of `Date` and `Expires` (RFC 9110 §5.6.7) and the lenient
// cookie-date algorithm browsers apply to a cookie's `Expires` attribute (RFC 6265 §5.1.1).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace veil::policies {

using std::chrono::sys_seconds;

// "Sun, 06 Nov 1994 08:49:37 GMT". Years outside 0..9999 are clamped to that range, since the
// format has exactly four year digits.
std::string format_http_date(sys_seconds time);

// Exactly the IMF-fixdate form (what every current server sends in `Date`); nullopt otherwise.
// For the obsolete RFC 850 and asctime forms, use parse_cookie_date, which accepts them too.
std::optional<sys_seconds> parse_http_date(std::string_view text);

// RFC 6265 §5.1.1 as browsers implement it: tokens split at delimiters, the first time, day,
// month and year tokens found in any order, two-digit years 70-99 → 19xx and 00-69 → 20xx, and
// rejection of years before 1601, impossible dates (31 Feb) and out-of-range fields.
std::optional<sys_seconds> parse_cookie_date(std::string_view text);

}  // namespace veil::policies
