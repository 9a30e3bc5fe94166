#include "address_text.hpp"

namespace veil::proxy {

anonymiser::IpAddress to_anonymiser_address(const IpAddress& address) {
  if (address.is_v4()) return anonymiser::IpAddress::v4(address.to_v4().to_uint());
  return anonymiser::IpAddress::v6(address.to_v6().to_bytes());
}

IpAddress unmapped(const IpAddress& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6());
  }
  return address;
}

}  // namespace veil::proxy
