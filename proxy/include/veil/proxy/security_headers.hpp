// The SecurityHeaders filter: a Content-Security-Policy from the visitor's consent on every HTML
// response (see security_headers_csp.hpp for what it allows and why), as
// Content-Security-Policy-Report-Only in report-only mode; and the response marked personalised
// (Cache-Control: private, Vary: Cookie), since it depends on the visitor's consent cookie.
#pragma once

#include <memory>

#include "veil/proxy/consent_filter.hpp"
#include "veil/proxy/filter.hpp"
#include "veil/proxy/security_headers_csp.hpp"

namespace veil::proxy {

// Whether the response's Content-Type is text/html.
bool is_html_response(const ResponseHead& response);

// Keeps shared caches from serving one visitor's consent-dependent response to another:
// `Cache-Control` gains `private` (and loses `public` and `s-maxage`) unless it says `no-store` or
// `private` already, and `Vary` gains `Cookie` unless it has it or is `*`.
void mark_personalised(ResponseHead& response);

class SecurityHeaders final : public Filter {
 public:
  // `consent` must outlive this filter and run before it in the chain.
  explicit SecurityHeaders(const ConsentFilter& consent);
  ~SecurityHeaders() override;
  void on_response_head(Exchange& exchange) override;

 private:
  struct Cache;  // the CSP per (policy snapshot, granted categories), built once
  const ConsentFilter& consent_;
  std::unique_ptr<Cache> cache_;
};

}  // namespace veil::proxy
