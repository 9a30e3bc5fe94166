// Character-level helpers shared by the cookie parsers (Cookie, Set-Cookie, consent values).
#pragma once

#include <string_view>

namespace veil::policies::cookie_text {

inline bool is_whitespace(char c) {
  return c == ' ' || c == '\t';
}

// %x00-08 / %x0A-1F / %x7F: the control characters (all but HTAB) that make browsers ignore a
// whole Set-Cookie header (RFC 6265bis §5.6).
inline bool is_forbidden_control(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return (byte < 0x20 && byte != '\t') || byte == 0x7F;
}

inline std::string_view trim_whitespace(std::string_view text) {
  while (!text.empty() && is_whitespace(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_whitespace(text.back())) text.remove_suffix(1);
  return text;
}

inline char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

inline bool istarts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

}  // namespace veil::policies::cookie_text
