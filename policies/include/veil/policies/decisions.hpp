// What the policy decides for one visitor: their consent, each Set-Cookie of a response, each
// cookie a request carries, and each third-party host. One implementation shared by the proxy's
// filters and `veil policy explain|test`, so the tools show exactly what the proxy does.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "veil/policies/cookie_header.hpp"
#include "veil/policies/http_date.hpp"
#include "veil/policies/policy.hpp"
#include "veil/policies/set_cookie.hpp"

namespace veil::policies {

// The visitor's consent as the policy sees it.
struct ConsentState {
  CategorySet granted;   // always includes the always-on categories
  bool decided = false;  // a choice is recorded (or Sec-GPC refused everything non-essential)
  bool gpc = false;      // the refusal came from Sec-GPC
  // Where the decision came from: "cookies_policy", "onetrust", "Sec-GPC", or "" when none.
  std::string source;
};

// Reads consent from a request's cookies: veil's own consent cookie first, then each honoured
// tool in policy order (its vendor categories mapped through the policy); the first one holding a
// decision wins. Without any, `Sec-GPC: 1` (when honour_gpc) refuses every non-essential
// category. Anything unreadable is "no decision", never consent.
ConsentState read_consent_state(const Policy& policy, std::span<const CookiePair> cookies,
                                bool sec_gpc);

// The consent for an explicit list of granted category names (for tests and `policy test`).
// Unknown names are ignored.
ConsentState consent_for(const Policy& policy, std::span<const std::string> granted);

// Where a response goes: needed to classify host-only cookies and rewrite lifetimes.
struct ResponseContext {
  std::string_view request_host;  // Host without port, e.g. "www.example.gov.uk"
  sys_seconds response_date{};    // the response's Date
  bool tls = false;               // Secure is added only on HTTPS (browsers refuse it on HTTP)
  Mode mode = Mode::enforce;      // Policy::mode_for_path of the request
};

enum class CookieAction : std::uint8_t {
  keep,     // passes unchanged
  rewrite,  // passes with a capped lifetime and/or added attributes (see `rewritten`)
  remove,   // dropped from the response
};
std::string_view to_string(CookieAction action);

// Whether a decision also says why. The proxy decides without reasons (building them costs more
// than the decision); `veil policy explain|test` asks for them. Everything else is the same.
enum class Reasons : bool { omit, explain };

struct SetCookieDecision {
  CookieAction action = CookieAction::keep;  // what enforce mode does; report-only only reports
  bool enforced = true;                      // false in report-only mode
  const CookieRule* rule = nullptr;          // nullptr: unclassified
  std::optional<CategoryId> category;
  bool granted = false;
  bool deletion = false;                           // a cookie that deletes itself always passes
  std::optional<std::int64_t> requested_lifetime;  // seconds from Date; nullopt: session cookie
  std::optional<std::int64_t> enforced_lifetime;
  std::optional<SetCookie> rewritten;  // set when action == rewrite
  // With Reasons::explain, why, in order, each naming the rule (file:line) that made it, e.g.
  // "category usage (council-default.yaml:88)", "no consent", "Max-Age capped to 13mo".
  std::vector<std::string> reasons;
};

// `rewritten` is built only when the cookie changes.
SetCookieDecision decide_set_cookie(const Policy& policy, const SetCookie& cookie,
                                    const ConsentState& consent, const ResponseContext& context,
                                    Reasons reasons = Reasons::explain);

// A cookie the request carries (it has no domain or path: the request host stands in).
enum class RequestCookieAction : std::uint8_t {
  forward,  // sent upstream
  expire,   // removed from the request, and the response expires it in the browser
};
std::string_view to_string(RequestCookieAction action);

struct RequestCookieDecision {
  RequestCookieAction action = RequestCookieAction::forward;
  bool enforced = true;
  const CookieRule* rule = nullptr;
  std::optional<CategoryId> category;
  bool granted = false;
  std::vector<std::string> reasons;  // with Reasons::explain
};

RequestCookieDecision decide_request_cookie(const Policy& policy, std::string_view name,
                                            const ConsentState& consent,
                                            std::string_view request_host, Mode mode,
                                            Reasons reasons = Reasons::explain);

struct EmbedDecision {
  const EmbedRule* rule = nullptr;  // nullptr: not a listed third party (loads)
  bool blocked = false;             // what enforce mode does
  bool enforced = true;
  std::vector<std::string> reasons;
};

EmbedDecision decide_embed(const Policy& policy, std::string_view host, const ConsentState& consent,
                           Mode mode);

}  // namespace veil::policies
