// The CookiePolicy filter: enforces the policy's cookie rules at the edge, for cookies a browser
// consent tool cannot reach (HttpOnly, server-set, on a parent domain).
//
// Request: takes the visitor's consent from the Consent filter (consent cookies, Sec-GPC) and
// removes cookies of categories not granted from the Cookie header sent upstream (enforce mode).
// Response head: removes, caps or completes each Set-Cookie as decide_set_cookie says (enforce
// mode), removes Set-Cookies a browser could not parse, expires the withdrawn request cookies on
// the host and every parent domain below the public suffix, and marks a changed response
// `Cache-Control: private`. Report-only mode changes nothing and still counts and audits.
// A response that records a new consent (the consent POST veil answers itself, or an origin
// setting veil's consent cookie) is enforced under that consent: withdrawing a category expires
// its cookies on that very response. veil's own cookies (consent, confirmation) always pass.
//
// Without a policy snapshot in Exchange::policy the filter does nothing.
#pragma once

#include <memory>
#include <mutex>

#include "veil/proxy/consent_filter.hpp"
#include "veil/proxy/cookie_audit.hpp"
#include "veil/proxy/filter.hpp"
#include "veil/proxy/metrics.hpp"
#include "veil/proxy/public_suffix.hpp"

namespace veil::proxy {

class CookiePolicyFilter final : public Filter {
 public:
  // Withdrawn cookies expired per response; the rest go on later responses (each costs up to
  // one Set-Cookie per cookie domain, and a response head has a size limit).
  static constexpr std::size_t kMaxExpiredPerResponse = 24;

  // Registers the cookie families in `metrics`. `consent` (which runs before this filter and
  // reads the visitor's consent), `suffixes`, `metrics` and `audit` (nullptr: no audit) must
  // outlive the filter.
  CookiePolicyFilter(const ConsentFilter& consent, MetricsRegistry& metrics,
                     const PublicSuffixList& suffixes, CookieAudit* audit = nullptr);
  ~CookiePolicyFilter() override;

  void on_request(Exchange& exchange) override;
  void on_response_head(Exchange& exchange) override;

 private:
  struct Counters;
  struct PolicyTables;
  struct ExchangeState;
  std::shared_ptr<const PolicyTables> tables_for(const std::shared_ptr<const void>& policy);
  // Consent and the verdict on each request cookie (counted, audited); with `forwarding`, the
  // cookies withdrawn are stripped from the request sent upstream.
  std::shared_ptr<ExchangeState> read_request(Exchange& exchange, bool forwarding);
  void adopt_recorded_consent(Exchange& exchange, ExchangeState& state);

  const ConsentFilter& consent_;
  const PublicSuffixList& suffixes_;
  CookieAudit* audit_;
  Family<Counter>& seen_;
  Family<Counter>& removed_;
  Family<Counter>& capped_;
  Family<Counter>& expired_;
  Family<Counter>& unparseable_;
  // The tables of the last policy snapshot seen (resolved once per snapshot).
  std::mutex tables_mutex_;
  std::shared_ptr<const PolicyTables> tables_;
};

}  // namespace veil::proxy
