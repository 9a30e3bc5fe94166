// Crypto-PAn (Xu, Fan, Ammar, Moon, ICNP 2002), bit-compatible with the reference implementation
// for IPv4 and with Yawning/cryptopan's 128-bit extension for IPv6.
#include <array>
#include <stdexcept>

#include "methods/aes128.hpp"
#include "methods/prefix_preserving.hpp"

namespace veil::anonymiser {
namespace {

class CryptoPan final : public PrefixPreservingMethod {
 public:
  explicit CryptoPan(std::span<const std::uint8_t> key) : aes_(key.first<16>()) {
    std::array<std::uint8_t, 16> pad;
    aes_.encrypt(key.data() + 16, pad.data(), 1);
    pad_ = load_uint128(pad.data());
  }

 protected:
  // The pseudorandom bit for position i is the most significant bit of AES over the first i bits
  // of the address followed by the pad's remaining bits. Every input is known up front, so all
  // positions go to AES in one call, which pipelines the blocks.
  Uint128 pad_bits(Uint128 address, int /*width*/, int from, int to) override {
    for (int i = from; i < to; ++i) {
      Uint128 kept = high_bits_mask(i);
      store_uint128((address & kept) | (pad_ & ~kept), &blocks_[(i - from) * Aes128::kBlockBytes]);
    }
    aes_.encrypt(blocks_.data(), blocks_.data(), static_cast<std::size_t>(to - from));
    Uint128 bits = 0;
    for (int i = from; i < to; ++i) {
      Uint128 msb = blocks_[(i - from) * Aes128::kBlockBytes] >> 7;
      bits |= msb << (127 - i);
    }
    return bits;
  }

 private:
  Aes128 aes_;
  Uint128 pad_ = 0;
  std::array<std::uint8_t, 128 * Aes128::kBlockBytes> blocks_{};  // one per position
};

}  // namespace

std::unique_ptr<AddressMethod> make_cryptopan(std::span<const std::uint8_t> key) {
  if (key.size() != 32) throw std::invalid_argument("cryptopan needs a 32-byte key");
  return std::make_unique<CryptoPan>(key);
}

}  // namespace veil::anonymiser
