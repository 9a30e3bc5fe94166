#include "veil/policies/matchers.hpp"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <array>
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
  std::vector<CookiePattern> patterns;
  StringMap<std::vector<std::uint32_t>> exact;     // name → pattern indices, ascending
  StringMap<std::vector<std::uint32_t>> prefixes;  // literal prefix of `prefix*` → indices
  std::vector<std::size_t> prefix_lengths;         // distinct, ascending
  std::unique_ptr<RE2::Set> set;                   // every other glob and regex
  std::vector<std::uint32_t> set_patterns;         // set index → pattern index

  // The first index in `candidates` (ascending) whose conditions hold, if below `best`.
  void consider(const std::vector<std::uint32_t>& candidates, std::string_view domain,
                std::string_view path, std::size_t& best) const {
    for (auto index : candidates) {
      if (index >= best) return;
      if (conditions_hold(patterns[index], domain, path)) {
        best = index;
        return;
      }
    }
  }
};

CookieMatcher::CookieMatcher() : CookieMatcher(std::vector<CookiePattern>{}) {}

CookieMatcher::CookieMatcher(const std::vector<CookiePattern>& patterns)
    : impl_(std::make_unique<Impl>()) {
  impl_->patterns = patterns;
  for (std::uint32_t index = 0; index < patterns.size(); ++index) {
    const auto& pattern = patterns[index];
    if (pattern.kind == CookiePatternKind::exact ||
        (pattern.kind == CookiePatternKind::glob && !has_wildcard(pattern.text))) {
      impl_->exact[pattern.text].push_back(index);
    } else if (pattern.kind == CookiePatternKind::glob && is_prefix_glob(pattern.text)) {
      std::string prefix = pattern.text.substr(0, pattern.text.size() - 1);
      impl_->prefix_lengths.push_back(prefix.size());
      impl_->prefixes[prefix].push_back(index);
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
  std::sort(impl_->prefix_lengths.begin(), impl_->prefix_lengths.end());
  impl_->prefix_lengths.erase(
      std::unique(impl_->prefix_lengths.begin(), impl_->prefix_lengths.end()),
      impl_->prefix_lengths.end());
  if (impl_->set && !impl_->set->Compile()) {
    throw std::invalid_argument("cookie patterns too large to compile");
  }
}

CookieMatcher::~CookieMatcher() = default;
CookieMatcher::CookieMatcher(CookieMatcher&&) noexcept = default;
CookieMatcher& CookieMatcher::operator=(CookieMatcher&&) noexcept = default;

std::optional<std::size_t> CookieMatcher::first_match(std::string_view name,
                                                      std::string_view domain,
                                                      std::string_view path) const {
  const Impl& impl = *impl_;
  std::size_t best = impl.patterns.size();
  if (auto found = impl.exact.find(name); found != impl.exact.end()) {
    impl.consider(found->second, domain, path, best);
  }
  for (auto length : impl.prefix_lengths) {
    if (length > name.size()) break;
    if (auto found = impl.prefixes.find(name.substr(0, length)); found != impl.prefixes.end()) {
      impl.consider(found->second, domain, path, best);
    }
  }
  if (impl.set) {
    thread_local std::vector<int> matched;
    if (impl.set->Match(name, &matched)) {
      for (int set_index : matched) {
        auto index = impl.set_patterns[static_cast<std::size_t>(set_index)];
        if (index < best && conditions_hold(impl.patterns[index], domain, path)) best = index;
      }
    }
  }
  if (best == impl.patterns.size()) return std::nullopt;
  return best;
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
