// The Public Suffix List (publicsuffix.org): which part of a host name is a registry-controlled
// suffix (`uk`, `gov.uk`, `co.uk`, `*.ck`), so that the cookie filter knows on which parent
// domains a cookie can live. A browser refuses `Domain=gov.uk`; a cookie on `example.gov.uk` is
// shared by every `*.example.gov.uk` host.
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace veil::proxy {

class PublicSuffixList {
 public:
  // Debian's `publicsuffix` package.
  static constexpr const char* kSystemPath = "/usr/share/publicsuffix/public_suffix_list.dat";

  // Rules in the list's own format: one per line, `//` comments, `*.` wildcards, `!` exceptions.
  static PublicSuffixList parse(std::string_view text);
  // Throws std::runtime_error naming the file when it cannot be read or holds no rule.
  static PublicSuffixList load(const std::string& path = kSystemPath);

  // The public suffix of a lower-case host name without a trailing dot (the longest matching
  // rule, an exception rule first, `*` when none matches): "gov.uk" for "www.example.gov.uk".
  std::string_view public_suffix(std::string_view host) const;

  // The domains a cookie visible to `host` can have been set on: `host` itself and every parent
  // longer than the public suffix, longest first ("www.example.gov.uk", "example.gov.uk").
  // Empty for an IP literal, a public suffix itself, or a host that is not a domain name.
  std::vector<std::string_view> cookie_domains(std::string_view host) const;

  std::size_t size() const { return rules_.size() + wildcards_.size() + exceptions_.size(); }

 private:
  std::unordered_set<std::string> rules_;       // "gov.uk"
  std::unordered_set<std::string> wildcards_;   // "ck" for "*.ck"
  std::unordered_set<std::string> exceptions_;  // "www.ck" for "!www.ck"
};

// "www.example.gov.uk" from a Host header value "WWW.Example.gov.uk.:8080"; an IPv6 literal keeps
// its brackets ("[::1]").
std::string normalise_host(std::string_view host_header);

}  // namespace veil::proxy
