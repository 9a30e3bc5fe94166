// Keyed HMAC-SHA256 of the address bytes (4 for IPv4, 16 for IPv6), written as an address of the
// same family inside a range no client uses, so log analysers still see a valid address:
// IPv4 -> 240.0.0.0/4 (reserved, RFC 1112) carrying the first 28 bits of the MAC;
// IPv6 -> 2001:db8::/32 (documentation, RFC 3849) carrying the first 96 bits of the MAC.
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <new>
#include <stdexcept>

#include "methods/address_method.hpp"

namespace veil::anonymiser {
namespace {

class Hash final : public AddressMethod {
 public:
  explicit Hash(std::span<const std::uint8_t> key) {
    mac_ = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr);
    context_ = mac_ ? EVP_MAC_CTX_new(mac_) : nullptr;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    if (!context_ || EVP_MAC_init(context_, key.data(), key.size(), params) != 1) {
      release();
      throw std::runtime_error("HMAC-SHA256 is not available from OpenSSL");
    }
  }
  ~Hash() override { release(); }
  Hash(const Hash&) = delete;
  Hash& operator=(const Hash&) = delete;

  IpAddress apply(const IpAddress& address) override {
    const std::uint8_t* input = address.bytes().data() + (address.is_v4() ? 12 : 0);
    std::array<std::uint8_t, 32> mac;
    std::size_t length = 0;
    // Re-initialising without a key keeps the key schedule and restarts the MAC.
    EVP_MAC_init(context_, nullptr, 0, nullptr);
    EVP_MAC_update(context_, input, address.is_v4() ? 4 : 16);
    EVP_MAC_final(context_, mac.data(), &length, mac.size());
    if (address.is_v4()) {
      std::uint32_t bits = std::uint32_t{mac[0]} << 24 | std::uint32_t{mac[1]} << 16 |
                           std::uint32_t{mac[2]} << 8 | mac[3];
      return IpAddress::v4(0xf0000000u | bits >> 4);
    }
    std::array<std::uint8_t, 16> bytes{0x20, 0x01, 0x0d, 0xb8};
    std::copy(mac.begin(), mac.begin() + 12, bytes.begin() + 4);
    return IpAddress::v6(bytes);
  }

 private:
  void release() {
    EVP_MAC_CTX_free(context_);
    EVP_MAC_free(mac_);
  }

  EVP_MAC* mac_ = nullptr;
  EVP_MAC_CTX* context_ = nullptr;
};

}  // namespace

std::unique_ptr<AddressMethod> make_hash(std::span<const std::uint8_t> key) {
  if (key.empty()) throw std::invalid_argument("hash needs a key");
  return std::make_unique<Hash>(key);
}

}  // namespace veil::anonymiser
