#include "veil/policies/cookie_header.hpp"

#include <algorithm>

#include "cookie_header_text.hpp"

namespace veil::policies {

bool CookieHeaderReader::next(CookiePair& pair) {
  while (!rest_.empty()) {
    const std::size_t end = std::min(rest_.find(';'), rest_.size());
    const std::string_view piece = cookie_text::trim_whitespace(rest_.substr(0, end));
    rest_.remove_prefix(std::min(end + 1, rest_.size()));
    const std::size_t equals = piece.find('=');
    if (equals == std::string_view::npos) {
      pair = {"", piece};
    } else {
      pair = {cookie_text::trim_whitespace(piece.substr(0, equals)),
              cookie_text::trim_whitespace(piece.substr(equals + 1))};
    }
    if (pair.name.empty() && pair.value.empty()) continue;  // "" or "=": nothing a browser sends
    return true;
  }
  return false;
}

std::vector<CookiePair> parse_cookie_header(std::string_view header) {
  std::vector<CookiePair> cookies;
  CookieHeaderReader reader(header);
  for (CookiePair pair; reader.next(pair);) cookies.push_back(pair);
  return cookies;
}

std::string serialize_cookie_header(std::span<const CookiePair> cookies) {
  std::size_t size = 0;
  for (const CookiePair& cookie : cookies) size += cookie.name.size() + cookie.value.size() + 3;
  std::string out;
  out.reserve(size);
  for (const CookiePair& cookie : cookies) {
    if (!out.empty()) out += "; ";
    // A nameless cookie is sent as its bare value, unless the value holds '=' and would then
    // read back as a name.
    if (!cookie.name.empty() || cookie.value.find('=') != std::string_view::npos) {
      out += cookie.name;
      out += '=';
    }
    out += cookie.value;
  }
  return out;
}

std::optional<std::string_view> find_cookie(std::span<const CookiePair> cookies,
                                            std::string_view name) {
  for (const CookiePair& cookie : cookies) {
    if (cookie.name == name) return cookie.value;
  }
  return std::nullopt;
}

}  // namespace veil::policies
