#include "veil/policies/policy.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace veil::policies {

std::string to_string(const SourceLocation& location) {
  return location.file + ":" + std::to_string(location.line);
}

std::string_view to_string(Mode mode) {
  return mode == Mode::enforce ? "enforce" : "report-only";
}

std::string_view to_string(ForwardClientIp forward) {
  switch (forward) {
    case ForwardClientIp::real:
      return "real";
    case ForwardClientIp::anonymised:
      return "anonymised";
    case ForwardClientIp::none:
      return "none";
  }
  return "?";
}

std::string_view to_string(AccessLogFormat format) {
  return format == AccessLogFormat::combined ? "combined" : "json";
}

std::string format_duration(Duration duration) {
  constexpr std::array<std::pair<std::int64_t, std::string_view>, 6> kUnits{{
      {365 * 86400, "y"},
      {30 * 86400, "mo"},
      {7 * 86400, "w"},
      {86400, "d"},
      {3600, "h"},
      {60, "m"},
  }};
  auto seconds = duration.count();
  for (const auto& [size, unit] : kUnits) {
    if (seconds != 0 && seconds % size == 0)
      return std::to_string(seconds / size) + std::string(unit);
  }
  return std::to_string(seconds) + "s";
}

std::string to_string(const Endpoint& endpoint) {
  bool ipv6 = endpoint.host.find(':') != std::string::npos;
  return (ipv6 ? "[" + endpoint.host + "]" : endpoint.host) + ":" + std::to_string(endpoint.port);
}

std::optional<CategoryId> HonouredConsent::map_category(std::string_view vendor_category) const {
  for (const auto& [vendor, category] : map) {
    if (vendor == vendor_category) return category;
  }
  return std::nullopt;
}

void Policy::compile() {
  std::vector<CookiePattern> patterns;
  patterns.reserve(cookies.rules.size());
  for (const auto& rule : cookies.rules) {
    patterns.push_back({rule.kind, rule.pattern, rule.domain, rule.path});
  }
  cookie_matcher = CookieMatcher(patterns);

  std::vector<std::string> hosts;
  embed_host_rules.clear();
  for (std::size_t index = 0; index < embeds.size(); ++index) {
    for (const auto& host : embeds[index].hosts) {
      hosts.push_back(host);
      embed_host_rules.push_back(index);
    }
  }
  embed_matcher = HostMatcher(hosts);

  hosts.clear();
  upstream_host_upstreams.clear();
  for (std::size_t index = 0; index < upstreams.size(); ++index) {
    for (const auto& host : upstreams[index].hosts) {
      hosts.push_back(host);
      upstream_host_upstreams.push_back(index);
    }
  }
  upstream_matcher = HostMatcher(hosts);
}

const CookieRule* Policy::classify_cookie(std::string_view name, std::string_view domain,
                                          std::string_view path) const {
  auto index = cookie_matcher.first_match(name, domain, path);
  return index ? &cookies.rules[*index] : nullptr;
}

const EmbedRule* Policy::embed_for_host(std::string_view host) const {
  auto index = embed_matcher.match(host);
  return index ? &embeds[embed_host_rules[*index]] : nullptr;
}

const Upstream* Policy::upstream_for_host(std::string_view host) const {
  // Drop the port: "[::1]:8080" → "::1", "www.example.gov.uk:443" → "www.example.gov.uk".
  if (host.starts_with('[')) {
    host = host.substr(
        1, host.find(']') == std::string_view::npos ? host.size() - 1 : host.find(']') - 1);
  } else if (auto colon = host.find(':'); colon != std::string_view::npos &&
                                          host.find(':', colon + 1) == std::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (auto index = upstream_matcher.match(host)) return &upstreams[upstream_host_upstreams[*index]];
  auto fallback = std::find_if(upstreams.begin(), upstreams.end(),
                               [](const Upstream& upstream) { return upstream.hosts.empty(); });
  return fallback == upstreams.end() ? nullptr : &*fallback;
}

bool Cidr::contains(const anonymiser::IpAddress& address) const {
  const auto candidate = address.is_v4_mapped() ? address.to_v4() : address;
  if (candidate.family() != network.family()) return false;
  const int offset = network.is_v4() ? 96 : 0;  // IPv4 sits in the last 32 bits
  const auto& a = candidate.bytes();
  const auto& b = network.bytes();
  for (int bit = offset; bit < offset + prefix_length; ++bit) {
    const auto byte = static_cast<std::size_t>(bit / 8);
    const auto mask = static_cast<std::uint8_t>(0x80U >> (bit % 8));
    if ((a[byte] & mask) != (b[byte] & mask)) return false;
  }
  return true;
}

bool Policy::is_trusted_proxy(const anonymiser::IpAddress& peer) const {
  return std::any_of(trusted_proxies.begin(), trusted_proxies.end(),
                     [&](const Cidr& cidr) { return cidr.contains(peer); });
}

Mode Policy::mode_for_path(std::string_view path) const {
  const RouteMode* best = nullptr;
  for (const auto& route : routes) {
    if (path.starts_with(route.path_prefix) &&
        (best == nullptr || route.path_prefix.size() > best->path_prefix.size())) {
      best = &route;
    }
  }
  return best ? best->mode : mode;
}

std::optional<CategoryId> Policy::category_id(std::string_view name) const {
  for (std::size_t id = 0; id < consent.categories.size(); ++id) {
    if (consent.categories[id].name == name) return static_cast<CategoryId>(id);
  }
  return std::nullopt;
}

CategorySet Policy::always_on_categories() const {
  CategorySet set;
  for (std::size_t id = 0; id < consent.categories.size(); ++id) {
    if (consent.categories[id].always_on) set.insert(static_cast<CategoryId>(id));
  }
  return set;
}

}  // namespace veil::policies
