#include "veil/proxy/security_headers_csp.hpp"

#include <algorithm>
#include <string_view>
#include <vector>

namespace veil::proxy {
namespace {

// A host pattern from the policy as a CSP host-source: "www.youtube.com" and "*.youtube.com" mean
// the same in both. Anything else (a character CSP would read differently) is left out, which
// only blocks more.
bool is_csp_host(std::string_view host) {
  if (host.starts_with("*.")) host.remove_prefix(2);
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-';
  });
}

}  // namespace

std::string consent_content_security_policy(const policies::Policy& policy,
                                            const policies::ConsentState& consent) {
  std::vector<std::string_view> allowed;
  for (const auto& rule : policy.embeds) {
    if (!consent.granted.contains(rule.category)) continue;
    for (const auto& host : rule.hosts) {
      if (is_csp_host(host) && std::find(allowed.begin(), allowed.end(), host) == allowed.end()) {
        allowed.push_back(host);
      }
    }
  }
  std::string hosts;
  for (auto host : allowed) {
    hosts += ' ';
    hosts += host;
  }
  std::string csp;
  auto directive = [&](std::string_view name, std::string_view sources) {
    if (!csp.empty()) csp += "; ";
    csp += name;
    csp += " 'self'";
    csp += sources;
    csp += hosts;
  };
  directive("script-src", " 'unsafe-inline' 'unsafe-eval'");
  directive("frame-src", "");
  directive("img-src", " data: blob:");
  directive("connect-src", "");
  return csp;
}

}  // namespace veil::proxy
