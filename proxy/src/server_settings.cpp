#include "veil/proxy/server_settings.hpp"

#include <charconv>
#include <stdexcept>
#include <string>

#include "text.hpp"

namespace veil::proxy {

Upstream parse_upstream_url(std::string_view url) {
  const std::string quoted = "upstream URL '" + std::string(url) + "'";
  if (!istarts_with(url, "http://")) {
    throw std::invalid_argument(quoted +
                                ": must start with http:// (origins are spoken to in plain HTTP)");
  }
  std::string_view authority = url.substr(7);
  if (!authority.empty() && authority.back() == '/') authority.remove_suffix(1);
  if (authority.empty() || authority.find_first_of("/?#@") != std::string_view::npos) {
    throw std::invalid_argument(quoted + ": expected http://host[:port] without a path");
  }
  Upstream upstream;
  std::string_view host = authority;
  std::string_view port;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) throw std::invalid_argument(quoted + ": unclosed '['");
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') throw std::invalid_argument(quoted + ": junk after ']'");
      port = authority.substr(close + 2);
    }
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) throw std::invalid_argument(quoted + ": empty host");
  upstream.host = std::string(host);
  if (!port.empty()) {
    unsigned value = 0;
    const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (error != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      throw std::invalid_argument(quoted + ": bad port '" + std::string(port) + "'");
    }
    upstream.port = static_cast<std::uint16_t>(value);
  }
  upstream.name = std::string(authority);
  return upstream;
}

}  // namespace veil::proxy
