// Addresses of the exchange as text and as the anonymiser's type, without Asio's to_string (which
// formats through inet_ntop and sprintf: several times per request on the hot path).
#pragma once

#include <string_view>

#include "veil/anonymiser/ip_address.hpp"
#include "veil/proxy/filter.hpp"

namespace veil::proxy {

// The same address in the anonymiser's representation. An IPv6 scope (zone) is not carried over:
// it names one of our interfaces, not the client (nginx's $remote_addr leaves it out too).
anonymiser::IpAddress to_anonymiser_address(const IpAddress& address);

// An IPv4-mapped IPv6 address (a client of a dual-stack listener) is the IPv4 address it maps.
IpAddress unmapped(const IpAddress& address);

// RFC 5952 text of an address, held in place.
class AddressText {
 public:
  explicit AddressText(const IpAddress& address)
      : length_(to_anonymiser_address(address).format(text_)) {}
  std::string_view view() const { return {text_, length_}; }

 private:
  char text_[anonymiser::IpAddress::kMaxTextLength];
  std::size_t length_;
};

}  // namespace veil::proxy
