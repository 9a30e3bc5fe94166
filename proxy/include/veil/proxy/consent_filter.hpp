// The Consent filter: reads each visitor's consent once per exchange (veil's own cookie, the
// honoured tools' cookies, Sec-GPC) for the filters after it, and answers veil's own consent
// endpoints locally: `<prefix>consent` (GET: settings page, POST: record a choice) and, when the
// policy honours GPC, `/.well-known/gpc.json`. Anything else under the prefix is a local 404, so
// the origin never sees veil's reserved paths.
//
// It must run before CookiePolicy, which strips cookies from the request going upstream.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "veil/policies/cookie_header.hpp"
#include "veil/policies/decisions.hpp"
#include "veil/policies/policy.hpp"
#include "veil/proxy/consent_pages.hpp"
#include "veil/proxy/filter.hpp"

namespace veil::proxy {

// The exchange's policy snapshot (Exchange::policy holds a shared_ptr<const Policy>); nullptr
// when there is none, and then the consent filters do nothing.
std::shared_ptr<const policies::Policy> exchange_policy(const Exchange& exchange);

// The cookies of a request's Cookie headers, views into them.
std::vector<policies::CookiePair> request_cookies(const RequestHead& request);

// The consent a response head records through veil's consent cookie (a consent POST's answer),
// nullopt when it records none: what the cookie filter enforces the withdrawing response with.
std::optional<policies::ConsentState> consent_set_by_response(const policies::Policy& policy,
                                                              const ResponseHead& response);

class ConsentFilter final : public Filter {
 public:
  // `gpc_last_update`: the `lastUpdate` date of gpc.json ("YYYY-MM-DD"), e.g. when the policy
  // was loaded.
  explicit ConsentFilter(std::string gpc_last_update);

  void on_request(Exchange& exchange) override;

  // The consent the exchange is under: what its response records when it records one (so that
  // a withdrawal takes effect on the same response), else what its request carried. nullopt
  // without a policy or before on_request ran.
  std::optional<policies::ConsentState> consent_of(Exchange& exchange) const;
  // The consent the exchange's request carried; nullptr without a policy or before on_request.
  const policies::ConsentState* request_consent_of(Exchange& exchange) const;
  // The confirmation the request's flag cookie asks to show once.
  ConsentSaved confirmation_of(Exchange& exchange) const;

 private:
  struct Visitor {
    policies::ConsentState consent;
    ConsentSaved saved = ConsentSaved::none;
  };
  const Visitor* visitor(Exchange& exchange) const;

  std::string gpc_last_update_;
};

}  // namespace veil::proxy
