// ipcrypt-deterministic of draft-denis-ipcrypt: one AES-128 block over the 16-byte form (IPv4 as
// ::ffff:a.b.c.d). The output is IPv4 only when it happens to land in ::ffff:0:0/96.
#include <stdexcept>

#include "methods/address_method.hpp"
#include "methods/aes128.hpp"

namespace veil::anonymiser {
namespace {

class Ipcrypt final : public AddressMethod {
 public:
  explicit Ipcrypt(std::span<const std::uint8_t> key) : aes_(key.first<16>()) {}

  IpAddress apply(const IpAddress& address) override {
    std::array<std::uint8_t, 16> bytes;
    aes_.encrypt(address.bytes().data(), bytes.data(), 1);
    auto result = IpAddress::v6(bytes);
    return result.is_v4_mapped() ? result.to_v4() : result;
  }

 private:
  Aes128 aes_;
};

}  // namespace

std::unique_ptr<AddressMethod> make_ipcrypt(std::span<const std::uint8_t> key) {
  if (key.size() != 16) throw std::invalid_argument("ipcrypt needs a 16-byte key");
  return std::make_unique<Ipcrypt>(key);
}

}  // namespace veil::anonymiser
