// libFuzzer target: Set-Cookie parsing, rewriting and dates. Beyond "no crash, no UB", it checks
// the properties the cookie filter relies on: writing a parsed cookie back and parsing it again
// gives the same cookie, also after the filter's rewrites, and a capped lifetime is within the cap.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "veil/policies/http_date.hpp"
#include "veil/policies/set_cookie.hpp"

using namespace veil::policies;

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

void require_round_trip(const SetCookie& cookie) {
  const SetCookieParse again = parse_set_cookie(cookie.serialize());
  require(again.cookie.has_value());
  require(*again.cookie == cookie);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  if (const auto date = parse_cookie_date(input)) {
    require(parse_cookie_date(format_http_date(*date)) == date);
  }
  if (const auto date = parse_http_date(input))
    require(parse_http_date(format_http_date(*date)) == date);

  SetCookieParse parsed = parse_set_cookie(input);
  require(parsed.cookie.has_value() != !parsed.error.empty());
  if (!parsed.cookie) return 0;
  SetCookie& cookie = *parsed.cookie;
  (void)prefix_violation(cookie);
  require_round_trip(cookie);

  const sys_seconds date = std::chrono::sys_days{std::chrono::year{2026} / 11 / 23};
  const std::chrono::seconds cap{std::chrono::hours{48}};
  const bool was_session = cookie.is_session();
  const bool was_deletion = cookie.is_deletion(date);
  const bool capped = cap_lifetime(cookie, cap, date);
  require(!(capped && (was_session || was_deletion)));
  require(cookie.is_session() == was_session);
  if (!was_session && !was_deletion) require(*cookie.lifetime(date) <= cap.count());
  require_round_trip(cookie);

  require_attributes(cookie, {.secure = true, .http_only = true, .same_site = SameSite::lax});
  require(cookie.secure() && cookie.http_only() && cookie.same_site() == SameSite::lax);
  require_round_trip(cookie);

  if (const auto deletion = build_deletion_set_cookie(cookie.name(), "")) {
    const SetCookieParse removal = parse_set_cookie(*deletion);
    require(removal.cookie && removal.cookie->is_deletion(date));
    require(prefix_violation(*removal.cookie).empty());
  }
  return 0;
}
