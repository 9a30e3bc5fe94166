// Compiled matchers for the proxy's hot path: cookie names against the policy's cookie rules, and
// hosts against its embed and upstream host lists. Built once per policy; lookups never walk a list
// of regexes and, after warm-up, do not allocate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace veil::policies {

enum class CookiePatternKind : std::uint8_t {
  exact,  // the whole name, case-sensitive
  glob,   // `*` any run of characters, `?` one character; the whole name
  regex,  // RE2, anchored at both ends
};

struct CookiePattern {
  CookiePatternKind kind = CookiePatternKind::exact;
  std::string text;
  std::string domain;  // optional condition: this domain or a subdomain of it
  std::string path;    // optional condition: this path or below it
};

// Finds the first pattern, in the order given, matching a cookie: the lowest index among the
// patterns whose name part matches and whose domain/path condition holds. The name's candidates
// come from a hash map for the exact names the patterns list (precomputed against every other
// pattern), else from a bounded cache of names seen before, else from a scan of the `prefix*`
// globs and one RE2::Set for every other glob and regex (then cached). Thread-safe.
class CookieMatcher {
 public:
  CookieMatcher();
  // Throws std::invalid_argument naming the pattern when RE2 rejects it.
  explicit CookieMatcher(const std::vector<CookiePattern>& patterns);
  ~CookieMatcher();
  CookieMatcher(CookieMatcher&&) noexcept;
  CookieMatcher& operator=(CookieMatcher&&) noexcept;

  // `domain` is the cookie's domain (leading dot ignored; empty when unknown, which fails any
  // domain condition); `path` its path.
  std::optional<std::size_t> first_match(std::string_view name, std::string_view domain = {},
                                         std::string_view path = "/") const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Host patterns: "www.example.com" (that host) or "*.example.com" (any subdomain, not the apex).
// Lookups are case-insensitive, ignore a trailing dot, and walk the host's label suffixes through
// one hash map: the exact host wins, then the longest wildcard suffix.
class HostMatcher {
 public:
  HostMatcher();
  explicit HostMatcher(const std::vector<std::string>& patterns);
  ~HostMatcher();
  HostMatcher(HostMatcher&&) noexcept;
  HostMatcher& operator=(HostMatcher&&) noexcept;

  std::optional<std::size_t> match(std::string_view host) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Glob matching (`*`, `?`) of a whole string; the reference the compiled matcher agrees with.
bool glob_matches(std::string_view pattern, std::string_view text);
// True when `wider` certainly matches every cookie `narrower` matches: decided exactly for exact
// names and globs (with their domain/path conditions), and for a regex against an exact name;
// false when it cannot be decided cheaply.
bool pattern_covers(const CookiePattern& wider, const CookiePattern& narrower);
// The RE2 pattern (unanchored) equivalent to a glob.
std::string glob_to_regex(std::string_view glob);
// Lower-cases ASCII letters; a trailing dot is dropped.
std::string normalise_host(std::string_view host);

}  // namespace veil::policies
