#include "veil/policies/matchers.hpp"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <array>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

namespace veil::policies {
namespace {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const {
    return std::hash<std::string_view>{}(text);
  }
};
template <typename Value>
using StringMap = std::unordered_map<std::string, Value, StringHash, std::equal_to<>>;

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool is_prefix_glob(std::string_view glob) {
  return !glob.empty() && glob.back() == '*' && glob.find_first_of("*?") == glob.size() - 1;
}

bool has_wildcard(std::string_view glob) {
  return glob.find_first_of("*?") != std::string_view::npos;
}

std::string_view without_leading_dot(std::string_view domain) {
  if (!domain.empty() && domain.front() == '.') domain.remove_prefix(1);
  return domain;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

// RFC 6265 domain-match of a cookie's domain against a rule's: the same, or a subdomain.
bool domain_matches(std::string_view rule_domain, std::string_view cookie_domain) {
  rule_domain = without_leading_dot(rule_domain);
  cookie_domain = without_leading_dot(cookie_domain);
  if (cookie_domain.size() < rule_domain.size()) return false;
  if (!iequals(cookie_domain.substr(cookie_domain.size() - rule_domain.size()), rule_domain)) {
    return false;
  }
  return cookie_domain.size() == rule_domain.size() ||
         cookie_domain[cookie_domain.size() - rule_domain.size() - 1] == '.';
}

// RFC 6265 §5.1.4 path-match.
bool path_matches(std::string_view rule_path, std::string_view cookie_path) {
  if (cookie_path.substr(0, rule_path.size()) != rule_path) return false;
  return cookie_path.size() == rule_path.size() || rule_path.back() == '/' ||
         cookie_path[rule_path.size()] == '/';
}

bool conditions_hold(const CookiePattern& pattern, std::string_view domain, std::string_view path) {
  if (!pattern.domain.empty() && (domain.empty() || !domain_matches(pattern.domain, domain))) {
    return false;
  }
  return pattern.path.empty() || path_matches(pattern.path, path);
}

// A glob as tokens; an exact name is all literals (its `*` is a plain character).
enum class TokenKind : std::uint8_t { literal, any_one, any_run };
struct Token {
  TokenKind kind;
  char literal;
};

std::vector<Token> tokens_of(const CookiePattern& pattern) {
  std::vector<Token> tokens;
  for (char c : pattern.text) {
    if (pattern.kind == CookiePatternKind::glob && c == '*') {
      tokens.push_back({TokenKind::any_run, 0});
    } else if (pattern.kind == CookiePatternKind::glob && c == '?') {
      tokens.push_back({TokenKind::any_one, 0});
    } else {
      tokens.push_back({TokenKind::literal, c});
    }
  }
  return tokens;
}

// Whether the language of glob `wider` contains that of glob `narrower`: `*` in `wider` may absorb
// any run of `narrower`'s tokens, `?` one literal or `?`, a literal only the same literal.
bool tokens_cover(const std::vector<Token>& wider, const std::vector<Token>& narrower) {
  const std::size_t n = wider.size(), m = narrower.size();
  // covers[i][j]: wider[i..] covers narrower[j..]; filled from the ends.
  std::vector<std::vector<char>> covers(n + 1, std::vector<char>(m + 1, 0));
  covers[n][m] = 1;
  for (std::size_t i = n + 1; i-- > 0;) {
    for (std::size_t j = m + 1; j-- > 0;) {
      if (i == n) {
        covers[i][j] = (j == m);
        continue;
      }
      const Token& w = wider[i];
      if (w.kind == TokenKind::any_run) {
        covers[i][j] = covers[i + 1][j] || (j < m && covers[i][j + 1]);
      } else if (j == m) {
        covers[i][j] = 0;
      } else if (w.kind == TokenKind::any_one) {
        covers[i][j] = narrower[j].kind != TokenKind::any_run && covers[i + 1][j + 1];
      } else {
        covers[i][j] = narrower[j].kind == TokenKind::literal && narrower[j].literal == w.literal &&
                       covers[i + 1][j + 1];
      }
    }
  }
  return covers[0][0];
}

RE2::Options latin1_options() {
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingLatin1);
  options.set_dot_nl(true);
  options.set_log_errors(false);
  return options;
}

}  // namespace

bool glob_matches(std::string_view pattern, std::string_view text) {
  std::size_t p = 0, t = 0;
  std::size_t star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::string glob_to_regex(std::string_view glob) {
  std::string regex;
  for (char c : glob) {
    if (c == '*') {
      regex += ".*";
    } else if (c == '?') {
      regex += '.';
    } else {
      regex += RE2::QuoteMeta(std::string_view(&c, 1));
    }
  }
  return regex;
}

std::string normalise_host(std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  std::string out(host);
  for (char& c : out) c = lower(c);
  return out;
}

bool pattern_covers(const CookiePattern& wider, const CookiePattern& narrower) {
  if (!wider.domain.empty() &&
      (narrower.domain.empty() || !domain_matches(wider.domain, narrower.domain))) {
    return false;
  }
  if (!wider.path.empty() && (narrower.path.empty() || !path_matches(wider.path, narrower.path))) {
    return false;
  }
  if (narrower.kind == CookiePatternKind::regex) return false;
  if (wider.kind == CookiePatternKind::regex) {
    if (narrower.kind != CookiePatternKind::exact) return false;
    RE2 regex(wider.text, latin1_options());
    return regex.ok() && RE2::FullMatch(narrower.text, regex);
  }
  return tokens_cover(tokens_of(wider), tokens_of(narrower));
}

struct CookieMatcher::Impl {
  // Bounds the names remembered per shard: made-up names cannot grow memory, and a shard that
  // fills up starts again (the names in use come back on their next lookup).
  static constexpr std::size_t kCacheShards = 16;
  static constexpr std::size_t kCachedNamesPerShard = 256;

  using Candidates =
      std::vector<std::uint32_t>;  // pattern indices whose name part matches, ascending
  struct Prefix {
    std::string text;  // the literal part of `text*`
    std::uint32_t index;
  };
  struct CacheShard {
    std::mutex mutex;
    StringMap<Candidates> names;
  };

  std::vector<CookiePattern> patterns;
  std::vector<Prefix> prefixes;             // every `prefix*` glob, in pattern order
  std::unique_ptr<RE2::Set> set;            // every other glob and regex
  std::vector<std::uint32_t> set_patterns;  // set index → pattern index
  // Each exact name with the candidates of every kind, computed once: the names a policy lists
  // are resolved without a lock and without RE2.
  StringMap<Candidates> exact;
  std::array<CacheShard, kCacheShards> cache;

  // Every pattern the name matches, whatever the domain and path (the slow path).
  Candidates candidates_of(std::string_view name) const {
    Candidates candidates;
    for (std::uint32_t index = 0; index < patterns.size(); ++index) {
      const CookiePattern& pattern = patterns[index];
      if (pattern.kind == CookiePatternKind::exact ||
          (pattern.kind == CookiePatternKind::glob && !has_wildcard(pattern.text))) {
        if (pattern.text == name) candidates.push_back(index);
      }
    }
    for (const Prefix& prefix : prefixes) {
      if (name.starts_with(prefix.text)) candidates.push_back(prefix.index);
    }
    if (set) {
      thread_local std::vector<int> matched;
      if (set->Match(name, &matched)) {
        for (int set_index : matched) {
          candidates.push_back(set_patterns[static_cast<std::size_t>(set_index)]);
        }
      }
    }
    std::sort(candidates.begin(), candidates.end());
    return candidates;
  }

  std::optional<std::size_t> first_holding(const Candidates& candidates, std::string_view domain,
                                           std::string_view path) const {
    for (auto index : candidates) {
      if (conditions_hold(patterns[index], domain, path)) return index;
    }
    return std::nullopt;
  }
};

CookieMatcher::CookieMatcher() : CookieMatcher(std::vector<CookiePattern>{}) {}

CookieMatcher::CookieMatcher(const std::vector<CookiePattern>& patterns)
    : impl_(std::make_unique<Impl>()) {
  impl_->patterns = patterns;
  std::vector<std::string_view> exact_names;
  for (std::uint32_t index = 0; index < patterns.size(); ++index) {
    const auto& pattern = patterns[index];
    if (pattern.kind == CookiePatternKind::exact ||
        (pattern.kind == CookiePatternKind::glob && !has_wildcard(pattern.text))) {
      exact_names.push_back(pattern.text);
    } else if (pattern.kind == CookiePatternKind::glob && is_prefix_glob(pattern.text)) {
      impl_->prefixes.push_back({pattern.text.substr(0, pattern.text.size() - 1), index});
    } else {
      if (!impl_->set) impl_->set = std::make_unique<RE2::Set>(latin1_options(), RE2::ANCHOR_BOTH);
      std::string regex =
          pattern.kind == CookiePatternKind::glob ? glob_to_regex(pattern.text) : pattern.text;
      std::string error;
      if (impl_->set->Add(regex, &error) < 0) {
        throw std::invalid_argument("invalid regex '" + pattern.text + "': " + error);
      }
      impl_->set_patterns.push_back(index);
    }
  }
  if (impl_->set && !impl_->set->Compile()) {
    throw std::invalid_argument("cookie patterns too large to compile");
  }
  for (std::string_view name : exact_names) {
    if (!impl_->exact.contains(name)) impl_->exact.emplace(name, impl_->candidates_of(name));
  }
}

CookieMatcher::~CookieMatcher() = default;
CookieMatcher::CookieMatcher(CookieMatcher&&) noexcept = default;
CookieMatcher& CookieMatcher::operator=(CookieMatcher&&) noexcept = default;

std::optional<std::size_t> CookieMatcher::first_match(std::string_view name,
                                                      std::string_view domain,
                                                      std::string_view path) const {
  Impl& impl = *impl_;
  if (auto found = impl.exact.find(name); found != impl.exact.end()) {
    return impl.first_holding(found->second, domain, path);
  }
  auto& shard = impl.cache[StringHash{}(name) % Impl::kCacheShards];
  {
    std::lock_guard lock(shard.mutex);
    if (auto found = shard.names.find(name); found != shard.names.end()) {
      return impl.first_holding(found->second, domain, path);
    }
  }
  Impl::Candidates candidates = impl.candidates_of(name);
  const auto answer = impl.first_holding(candidates, domain, path);
  std::lock_guard lock(shard.mutex);
  if (shard.names.size() >= Impl::kCachedNamesPerShard) shard.names.clear();
  shard.names.emplace(name, std::move(candidates));
  return answer;
}

struct HostMatcher::Impl {
  struct Entry {
    std::optional<std::size_t> exact;     // "host"
    std::optional<std::size_t> wildcard;  // "*.host"
  };
  StringMap<Entry> entries;
};

HostMatcher::HostMatcher() : impl_(std::make_unique<Impl>()) {}

HostMatcher::HostMatcher(const std::vector<std::string>& patterns) : HostMatcher() {
  for (std::size_t index = 0; index < patterns.size(); ++index) {
    std::string_view pattern = patterns[index];
    bool wildcard = pattern.starts_with("*.");
    if (wildcard) pattern.remove_prefix(2);
    auto& entry = impl_->entries[normalise_host(pattern)];
    auto& slot = wildcard ? entry.wildcard : entry.exact;
    if (!slot) slot = index;  // the first listing wins
  }
}

HostMatcher::~HostMatcher() = default;
HostMatcher::HostMatcher(HostMatcher&&) noexcept = default;
HostMatcher& HostMatcher::operator=(HostMatcher&&) noexcept = default;

std::optional<std::size_t> HostMatcher::match(std::string_view host) const {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  std::array<char, 256> buffer;
  if (host.empty() || host.size() > buffer.size()) return std::nullopt;
  for (std::size_t i = 0; i < host.size(); ++i) buffer[i] = lower(host[i]);
  std::string_view name(buffer.data(), host.size());

  if (auto found = impl_->entries.find(name);
      found != impl_->entries.end() && found->second.exact) {
    return found->second.exact;
  }
  for (auto dot = name.find('.'); dot != std::string_view::npos; dot = name.find('.', dot + 1)) {
    auto found = impl_->entries.find(name.substr(dot + 1));
    if (found != impl_->entries.end() && found->second.wildcard) return found->second.wildcard;
  }
  return std::nullopt;
}

}  // namespace veil::policies
