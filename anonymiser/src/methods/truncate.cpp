#include <stdexcept>
#include <string>

#include "methods/address_method.hpp"

namespace veil::anonymiser {
namespace {

// Keeps the leading bits of the address and zeroes the rest.
class Truncate final : public AddressMethod {
 public:
  Truncate(int ipv4_prefix, int ipv6_prefix)
      : ipv4_prefix_(ipv4_prefix), ipv6_prefix_(ipv6_prefix) {}

  IpAddress apply(const IpAddress& address) override {
    auto bytes = address.bytes();
    int first_bit = address.is_v4() ? 96 + ipv4_prefix_ : ipv6_prefix_;
    for (int bit = first_bit; bit < 128; ++bit) {
      bytes[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
    }
    auto result = IpAddress::v6(bytes);
    return address.is_v4() ? result.to_v4() : result;
  }

 private:
  int ipv4_prefix_;
  int ipv6_prefix_;
};

}  // namespace

std::unique_ptr<AddressMethod> make_truncate(int ipv4_prefix, int ipv6_prefix) {
  if (ipv4_prefix < 0 || ipv4_prefix > 32) {
    throw std::invalid_argument("IPv4 prefix must be 0 to 32, got " + std::to_string(ipv4_prefix));
  }
  if (ipv6_prefix < 0 || ipv6_prefix > 128) {
    throw std::invalid_argument("IPv6 prefix must be 0 to 128, got " + std::to_string(ipv6_prefix));
  }
  return std::make_unique<Truncate>(ipv4_prefix, ipv6_prefix);
}

}  // namespace veil::anonymiser
