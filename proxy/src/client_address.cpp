#include "veil/proxy/client_address.hpp"

#include <boost/beast/http/field.hpp>

#include <charconv>
#include <optional>
#include <stdexcept>
#include <string>

#include "address_text.hpp"
#include "field_names.hpp"
#include "text.hpp"

namespace veil::proxy {
namespace http = boost::beast::http;

namespace {

std::optional<IpAddress> parse_address(std::string_view text) {
  boost::system::error_code error;
  const auto address = boost::asio::ip::make_address(std::string(text), error);
  if (error) return std::nullopt;
  return unmapped(address);
}

// One node of X-Forwarded-For ("192.0.2.1", "192.0.2.1:443", "[2001:db8::1]:443", "2001:db8::1")
// or of a Forwarded `for=` parameter (the same, possibly quoted).
std::optional<IpAddress> parse_node(std::string_view node) {
  node = trim(node);
  if (node.size() >= 2 && node.front() == '"' && node.back() == '"') {
    node = node.substr(1, node.size() - 2);
  }
  if (!node.empty() && node.front() == '[') {
    const auto close = node.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    return parse_address(node.substr(1, close - 1));
  }
  const auto colon = node.find(':');
  if (colon != std::string_view::npos && node.find(':', colon + 1) == std::string_view::npos) {
    node = node.substr(0, colon);  // IPv4 with a port
  }
  return parse_address(node);
}

// The `for=` node of one Forwarded element ("for=192.0.2.1;proto=https").
std::string_view forwarded_for(std::string_view element) {
  while (!element.empty()) {
    const auto semicolon = element.find(';');
    const std::string_view pair = trim(element.substr(0, semicolon));
    if (istarts_with(pair, "for=")) return pair.substr(4);
    if (semicolon == std::string_view::npos) break;
    element = element.substr(semicolon + 1);
  }
  return {};
}

}  // namespace

Cidr Cidr::parse(std::string_view text) {
  const auto slash = text.find('/');
  const auto address = parse_address(trim(text.substr(0, slash)));
  if (!address) throw std::invalid_argument("not an address block: '" + std::string(text) + "'");
  Cidr cidr;
  cidr.network_ = *address;
  const unsigned max_length = address->is_v4() ? 32 : 128;
  cidr.prefix_length_ = max_length;
  if (slash != std::string_view::npos) {
    const std::string_view length = text.substr(slash + 1);
    unsigned value = 0;
    const auto [end, error] = std::from_chars(length.data(), length.data() + length.size(), value);
    if (error != std::errc() || end != length.data() + length.size() || value > max_length) {
      throw std::invalid_argument("bad prefix length in '" + std::string(text) + "'");
    }
    cidr.prefix_length_ = value;
  }
  return cidr;
}

bool Cidr::contains(const IpAddress& address) const {
  if (address.is_v4() != network_.is_v4()) return false;
  auto compare = [this](const auto& a, const auto& b) {
    unsigned bits = prefix_length_;
    for (std::size_t i = 0; i < a.size() && bits > 0; ++i) {
      const unsigned take = bits >= 8 ? 8 : bits;
      const auto mask = static_cast<unsigned char>(0xFF00u >> take);
      if ((a[i] & mask) != (b[i] & mask)) return false;
      bits -= take;
    }
    return true;
  };
  if (address.is_v4()) return compare(address.to_v4().to_bytes(), network_.to_v4().to_bytes());
  return compare(address.to_v6().to_bytes(), network_.to_v6().to_bytes());
}

TrustedProxies::TrustedProxies(const std::vector<std::string>& cidrs) {
  for (const auto& text : cidrs) cidrs_.push_back(Cidr::parse(text));
}

bool TrustedProxies::contains(const IpAddress& address) const {
  for (const auto& cidr : cidrs_) {
    if (cidr.contains(address)) return true;
  }
  return false;
}

IpAddress resolve_client_address(const IpAddress& peer, const RequestHead& request,
                                 const TrustedProxies& trusted) {
  const IpAddress normalised_peer = unmapped(peer);
  if (!trusted.contains(normalised_peer)) return normalised_peer;

  // The chain, left (original client) to right (the hop nearest to us).
  std::vector<std::string_view> chain;
  for (const auto& field : fields_named(request, kXForwardedFor)) {
    for (std::string_view node : split_list(field.value())) chain.push_back(node);
  }
  if (chain.empty()) {
    for (const auto& field : fields_named(request, http::field::forwarded)) {
      for (std::string_view element : split_list(field.value())) {
        chain.push_back(forwarded_for(element));
      }
    }
  }
  // Walk right to left past trusted hops; the first untrusted one is the client. A node that is not
  // an address (unknown, obfuscated, garbage) ends the walk: the last trusted hop vouches for
  // nothing further, so the client is that hop.
  IpAddress client = normalised_peer;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    const auto node = parse_node(*it);
    if (!node) break;
    client = *node;
    if (!trusted.contains(*node)) break;
  }
  return client;
}

void ClientAddressFilter::on_request(Exchange& exchange) {
  exchange.client_address =
      resolve_client_address(exchange.peer_address, exchange.request, trusted_);
}

}  // namespace veil::proxy
