// What veil itself shows and answers about consent, as plain functions of the policy and the
// request (no Beast, no network): the `/_veil/consent` endpoints, `/.well-known/gpc.json`, the
// GOV.UK-style banner and the click-to-load placeholder of a blocked embed. The Consent and
// EmbedBlocker filters wire them in; tests call them directly.
//
// Everything works without JavaScript: the banner, the settings page and every placeholder are
// plain `<form method="post">`s to `<prefix>consent`, answered with a 303 back to the page.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "veil/policies/decisions.hpp"
#include "veil/policies/policy.hpp"
#include "veil/proxy/local_response.hpp"

namespace veil::proxy {

// A short-lived cookie the consent POST sets so that the next page shows the confirmation once;
// the page that shows it expires it. Its value is one of the ConsentSaved names.
inline constexpr std::string_view kConsentSavedCookie = "veil_consent_saved";
inline constexpr std::chrono::seconds kConsentSavedLifetime{300};

enum class ConsentSaved : std::uint8_t { none, accepted, rejected, saved };
std::string_view to_string(ConsentSaved saved);            // "accepted", "rejected", "saved", ""
ConsentSaved parse_consent_saved(std::string_view value);  // none for anything else

// `target` if it is a same-origin path veil may redirect to (`/` followed by anything but `/` or
// `\`, printable ASCII only, at most 2 KiB), otherwise "/". Rejects `//evil`, `/\evil`,
// `https://evil`, `javascript:`, and control characters that browsers strip before parsing.
std::string_view safe_return_path(std::string_view target);

// The path and query part of `url` when it is a same-origin URL for `host` (an absolute http(s)
// URL naming `host`, or already a path); nullopt otherwise. Used for the Referer fallback.
std::optional<std::string_view> same_origin_path(std::string_view url, std::string_view host);

// Whether a POST comes from the site itself: `Sec-Fetch-Site` (when sent) is `same-origin` or
// `none`, and `Origin` (when sent) names `host` (the request's Host, port included). Requests from
// clients that send neither (curl, old browsers) pass: they carry no ambient cross-site intent.
bool is_same_origin_post(const LocalRequest& request, std::string_view host);

// Where the consent endpoints live: `<prefix>consent` (prefix from the policy, default `/_veil/`).
std::string consent_endpoint(const policies::Policy& policy);

// The decision a consent POST records, from its form fields:
//   action=accept | reject                 every category / only the always-on ones
//   action=save   with cookies[<name>]=yes|no for each category (missing ones keep `current`)
//   action=grant  with category=<name>     `current` plus that category (a placeholder's button)
//   action=hide                            nothing recorded (hides the confirmation)
struct ConsentChoice {
  policies::CategorySet granted;
  ConsentSaved saved = ConsentSaved::none;  // none: action=hide
};
// nullopt with `error` set for a form that is not one of those.
std::optional<ConsentChoice> parse_consent_form(const policies::Policy& policy,
                                                std::string_view form_body,
                                                const policies::ConsentState& current,
                                                std::string& error);

// The `Set-Cookie` values recording `granted`: the consent cookie in GOV.UK's format and
// `<preferences_set>=true` (Path=/, SameSite=Lax, the policy's lifetime, Secure on TLS), and the
// confirmation flag.
std::vector<std::string> consent_set_cookies(const policies::Policy& policy,
                                             policies::CategorySet granted, ConsentSaved saved,
                                             bool tls, policies::sys_seconds now);

// The consent a response records through the `Set-Cookie` values it carries (veil's own consent
// cookie, as consent_set_cookies writes it), nullopt when it records none. The cookie filter
// enforces the response that withdraws consent under the new decision with this.
std::optional<policies::ConsentState> consent_set_by_response(
    const policies::Policy& policy, std::span<const std::string_view> set_cookie_values);

// Everything a consent handler needs to know about the exchange besides the request.
struct ConsentRequestContext {
  policies::ConsentState consent;  // what the request carries
  bool tls = false;
  std::string host;  // the request's Host, port included
  policies::sys_seconds now{};
};

// POST <prefix>consent: 303 to the return path with the cookies; 403 for a cross-site post, 400
// for an unreadable form, 405 for other methods than GET/HEAD/POST. GET/HEAD: the settings page.
LocalResponse handle_consent_request(const policies::Policy& policy, const LocalRequest& request,
                                     const ConsentRequestContext& context);

// The settings page: one yes/no choice per category with the current state checked, the
// always-on ones stated, the GPC notice when that is where the decision came from.
std::string consent_settings_page(const policies::Policy& policy,
                                  const policies::ConsentState& consent,
                                  std::string_view return_path);

// GET /.well-known/gpc.json (GPC spec §3): `{"gpc": true, "version": 1, "lastUpdate": <date>}`.
LocalResponse gpc_json_response(std::string_view last_update);

// The banner placed right after `<body>`: the question when no decision is recorded (with the GPC
// notice when the refusal came from Sec-GPC), or the confirmation once after a decision. Empty
// when there is nothing to show. `return_path` is the page's own target.
std::string consent_banner_html(const policies::Policy& policy,
                                const policies::ConsentState& consent, ConsentSaved saved,
                                std::string_view return_path);

// The same banner built once for a (policy, consent, saved) and rendered per page: only the
// page's return path (in the form and in the settings link) differs between responses. It
// depends on `consent.decided` and `consent.gpc` only, not on the granted categories.
class ConsentBannerTemplate {
 public:
  ConsentBannerTemplate(const policies::Policy& policy, const policies::ConsentState& consent,
                        ConsentSaved saved);
  bool empty() const { return before_return_.empty(); }
  // Appends the banner for the page at `return_path` (nothing when empty()).
  void render(std::string_view return_path, std::string& out) const;

 private:
  std::string before_return_;       // up to the form's hidden return value
  std::string before_link_return_;  // up to the settings link's return parameter
  std::string after_link_return_;
};

// The click-to-load placeholder replacing a blocked `<iframe>`.
struct EmbedPlaceholder {
  std::string_view provider;
  policies::CategoryId category = 0;
  std::string_view content_url;  // the iframe's src; linked only when it is http(s)
  std::string_view width;        // the iframe's width/height attributes, as written
  std::string_view height;
  std::string_view return_path;
};
std::string embed_placeholder_html(const policies::Policy& policy,
                                   const EmbedPlaceholder& placeholder);

}  // namespace veil::proxy
