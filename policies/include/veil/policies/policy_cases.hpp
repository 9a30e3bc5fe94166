// Exchange cases for `veil policy explain` and `veil policy test`: a request (and the Set-Cookie
// headers and embeds of its response) run through the policy's decisions, printed with the rules
// that made them, and compared with a security team's expectations.
//
// A case file (YAML or JSON) is either one case (a mapping) or `cases:` followed by a list:
//   cases:
//     - name: analytics waits for consent
//       request: GET /bins              # method and path (route modes apply)
//       host: www.example.gov.uk
//       tls: true
//       sec_gpc: false
//       cookies: "_ga=GA1.2.3; PHPSESSID=x"           # the request's Cookie header
//       consent: [usage]                 # granted categories; omitted: read from `cookies`
//       set_cookies: ["_ga=1; Max-Age=63072000"]
//       embeds: [www.youtube.com]        # third-party hosts the page loads
//       html: page.html                  # or HTML whose embeds are found (by the caller)
//       expect:
//         consent: [essential, usage]
//         set_cookies: {_ga: removed, PHPSESSID: {action: rewritten, max_age: 2d}}
//         request_cookies: {_ga: expired}
//         embeds: {www.youtube.com: blocked}
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "veil/policies/decisions.hpp"
#include "veil/policies/loader.hpp"

namespace veil::policies {

struct ExpectedSetCookie {
  std::string name;
  std::optional<std::string> action;    // kept | rewritten | removed
  std::optional<std::string> category;  // a category name, or "unclassified"
  std::optional<Duration> max_age;      // the lifetime after enforcement
  bool session = false;                 // max_age: session
  SourceLocation where;
};

struct ExpectedOutcome {
  std::string subject;  // a request cookie name or an embed host
  std::string outcome;  // forwarded | expired ; blocked | loaded
  SourceLocation where;
};

struct PolicyCase {
  std::string name;
  SourceLocation where;
  std::string method = "GET";
  std::string path = "/";
  std::string host = "localhost";
  bool tls = false;
  bool sec_gpc = false;
  std::string cookie_header;
  std::optional<std::vector<std::string>> consent;
  std::vector<std::string> set_cookies;
  std::vector<std::string> embed_hosts;
  std::string html_file;            // resolved against the case file's directory
  std::optional<sys_seconds> date;  // the response's Date; default: now
  std::optional<std::vector<std::string>> expect_consent;
  SourceLocation expect_consent_where;
  std::vector<ExpectedSetCookie> expect_set_cookies;
  std::vector<ExpectedOutcome> expect_request_cookies;
  std::vector<ExpectedOutcome> expect_embeds;
};

struct CaseFile {
  std::vector<PolicyCase> cases;
  std::vector<Diagnostic> diagnostics;
  bool ok() const;
};

CaseFile load_cases(const std::string& path);
CaseFile load_cases_from_string(std::string_view text, const std::string& name,
                                const std::string& base_directory = {});

struct SetCookieOutcome {
  std::string header;
  std::optional<SetCookie> cookie;  // nullopt: a browser would ignore the header
  std::string_view parse_error;
  SetCookieDecision decision;  // for an unparsable header: remove
};

struct CaseOutcome {
  Mode mode = Mode::enforce;
  ConsentState consent;
  std::vector<std::pair<std::string, RequestCookieDecision>> request_cookies;
  std::vector<SetCookieOutcome> set_cookies;
  std::vector<std::pair<std::string, EmbedDecision>> embeds;
};

// Runs the case through the policy; `extra_embed_hosts` are added to the case's own (e.g. the
// hosts found in its HTML).
CaseOutcome evaluate_case(const Policy& policy, const PolicyCase& exchange,
                          std::span<const std::string> extra_embed_hosts = {});

// One line per decision, e.g.
// "Set-Cookie _ga (Max-Age 63072000): category usage (council-default.yaml:88); no consent →
// removed".
std::vector<std::string> explain_outcome(const Policy& policy, const PolicyCase& exchange,
                                         const CaseOutcome& outcome);

// Every expectation the outcome does not meet, one line each, starting with its file:line.
std::vector<std::string> case_differences(const Policy& policy, const PolicyCase& exchange,
                                          const CaseOutcome& outcome);

}  // namespace veil::policies
