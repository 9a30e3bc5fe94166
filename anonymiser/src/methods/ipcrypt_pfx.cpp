// ipcrypt-pfx, the prefix-preserving mode of draft-denis-ipcrypt: the pseudorandom bit for prefix
// length L is the least significant bit of AES_K1(p) XOR AES_K2(p), p = the 128-bit value
// 1 << L | (first L bits of the 16-byte form). IPv4 works on its IPv4-mapped form from L = 96, so
// it stays IPv4.
#include <algorithm>
#include <array>
#include <stdexcept>

#include "methods/aes128.hpp"
#include "methods/prefix_preserving.hpp"

namespace veil::anonymiser {
namespace {

class IpcryptPfx final : public PrefixPreservingMethod {
 public:
  explicit IpcryptPfx(std::span<const std::uint8_t> key)
      : first_(key.first<16>()), second_(key.subspan<16, 16>()) {}

 protected:
  Uint128 pad_bits(Uint128 address, int width, int from, int to) override {
    // The 16-byte form: IPv4 addresses become ::ffff:a.b.c.d.
    Uint128 form = width == 32 ? (Uint128{0xffff} << 32 | address >> 96) : address;
    int offset = 128 - width;
    for (int i = from; i < to; ++i) {
      int length = offset + i;
      Uint128 prefix = length == 0 ? Uint128{0} : form >> (128 - length);
      store_uint128(Uint128{1} << length | prefix, &blocks_[(i - from) * Aes128::kBlockBytes]);
    }
    auto count = static_cast<std::size_t>(to - from);
    second_.encrypt(blocks_.data(), second_blocks_.data(), count);
    first_.encrypt(blocks_.data(), blocks_.data(), count);
    Uint128 bits = 0;
    for (int i = from; i < to; ++i) {
      std::size_t last = (i - from) * Aes128::kBlockBytes + 15;
      Uint128 bit = (blocks_[last] ^ second_blocks_[last]) & 1;
      bits |= bit << (127 - i);
    }
    return bits;
  }

 private:
  Aes128 first_;
  Aes128 second_;
  // One block per position: the padded prefixes (then their encryption under K1) and their
  // encryption under K2.
  std::array<std::uint8_t, 128 * Aes128::kBlockBytes> blocks_{};
  std::array<std::uint8_t, 128 * Aes128::kBlockBytes> second_blocks_{};
};

}  // namespace

std::unique_ptr<AddressMethod> make_ipcrypt_pfx(std::span<const std::uint8_t> key) {
  if (key.size() != 32) throw std::invalid_argument("ipcrypt-pfx needs a 32-byte key");
  // Equal halves cancel out and would return every address unchanged.
  if (std::equal(key.begin(), key.begin() + 16, key.begin() + 16)) {
    throw std::invalid_argument("ipcrypt-pfx key halves must differ");
  }
  return std::make_unique<IpcryptPfx>(key);
}

}  // namespace veil::anonymiser
