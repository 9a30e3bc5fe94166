#include "veil/proxy/public_suffix.hpp"

#include <cctype>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

namespace veil::proxy {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Characters of an ASCII domain name label (internationalised names arrive as punycode).
bool is_domain_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
}

bool is_ip_literal(std::string_view host) {
  if (host.find(':') != std::string_view::npos || host.starts_with('[')) return true;
  const auto last_dot = host.rfind('.');
  const std::string_view last_label = host.substr(last_dot == host.npos ? 0 : last_dot + 1);
  // A name whose last label is numeric is an IPv4 address (WHATWG URL host parsing).
  return !last_label.empty() &&
         last_label.find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace

PublicSuffixList PublicSuffixList::parse(std::string_view text) {
  PublicSuffixList list;
  while (!text.empty()) {
    const auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == text.npos ? text.size() : end + 1);
    // A rule is the line's first word; anything after whitespace is a comment.
    line = trim(line);
    line = line.substr(0, line.find_first_of(" \t"));
    if (line.empty() || line.starts_with("//")) continue;
    if (line.starts_with('!')) {
      list.exceptions_.insert(lower(line.substr(1)));
    } else if (line.starts_with("*.")) {
      list.wildcards_.insert(lower(line.substr(2)));
    } else {
      list.rules_.insert(lower(line));
    }
  }
  return list;
}

PublicSuffixList PublicSuffixList::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot read the public suffix list");
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  auto list = parse(text);
  if (list.size() == 0) throw std::runtime_error(path + ": no public suffix rule in the file");
  return list;
}

std::string_view PublicSuffixList::public_suffix(std::string_view host) const {
  // Suffixes of `host` from the longest to the shortest: the first match is the longest rule.
  // An exception rule `!www.ck` makes its parent `ck` the suffix, overriding `*.ck`.
  for (std::size_t start = 0; start < host.size();) {
    const std::string_view candidate = host.substr(start);
    const auto dot = candidate.find('.');
    const std::string key(candidate);
    if (exceptions_.contains(key))
      return dot == candidate.npos ? candidate : candidate.substr(dot + 1);
    if (rules_.contains(key)) return candidate;
    if (dot != candidate.npos && wildcards_.contains(std::string(candidate.substr(dot + 1)))) {
      return candidate;
    }
    if (dot == candidate.npos) break;
    start += dot + 1;
  }
  // The implicit `*` rule: the last label.
  const auto last_dot = host.rfind('.');
  return last_dot == host.npos ? host : host.substr(last_dot + 1);
}

std::vector<std::string_view> PublicSuffixList::cookie_domains(std::string_view host) const {
  std::vector<std::string_view> domains;
  if (host.empty() || is_ip_literal(host) || host.front() == '.' || host.back() == '.' ||
      host.find("..") != host.npos) {
    return domains;
  }
  for (char c : host) {
    if (!is_domain_char(c)) return domains;
  }
  const std::size_t suffix_length = public_suffix(host).size();
  for (std::size_t start = 0; host.size() - start > suffix_length;) {
    domains.push_back(host.substr(start));
    const auto dot = host.find('.', start);
    if (dot == host.npos) break;
    start = dot + 1;
  }
  return domains;
}

std::string normalise_host(std::string_view host_header) {
  std::string_view host = trim(host_header);
  if (host.starts_with('[')) {
    const auto close = host.find(']');
    return lower(host.substr(0, close == host.npos ? host.size() : close + 1));
  }
  host = host.substr(0, host.find(':'));
  while (host.ends_with('.')) host.remove_suffix(1);
  return lower(host);
}

}  // namespace veil::proxy
