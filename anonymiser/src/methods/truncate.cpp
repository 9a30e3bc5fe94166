#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "methods/address_method.hpp"

namespace veil::anonymiser {
namespace {

// Keeps the leading bits of the address and zeroes the rest.
class Truncate final : public AddressMethod {
 public:
  // IPv4 addresses are held in their 16-byte IPv4-mapped form, their bits from 96 on.
  Truncate(int ipv4_prefix, int ipv6_prefix)
      : ipv4_mask_(leading_ones(96 + ipv4_prefix)), ipv6_mask_(leading_ones(ipv6_prefix)) {}

  IpAddress apply(const IpAddress& address) override {
    const auto& mask = address.is_v4() ? ipv4_mask_ : ipv6_mask_;
    auto bytes = address.bytes();
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] &= mask[i];
    auto result = IpAddress::v6(bytes);
    return address.is_v4() ? result.to_v4() : result;
  }

 private:
  using Mask = std::array<std::uint8_t, 16>;

  static Mask leading_ones(int bits) {
    Mask mask{};
    for (int bit = 0; bit < bits; ++bit)
      mask[bit / 8] |= static_cast<std::uint8_t>(0x80u >> (bit % 8));
    return mask;
  }

  Mask ipv4_mask_;
  Mask ipv6_mask_;
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
