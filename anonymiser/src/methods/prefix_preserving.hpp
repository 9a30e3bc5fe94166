// Shared shape of the prefix-preserving methods (Crypto-PAn, ipcrypt-pfx): output bit i is input
// bit i XOR a pseudorandom bit that depends only on input bits 0..i-1. The pad bits of a prefix are
// cached, so addresses from a network seen before cost a fraction of the cipher calls.
#pragma once

#include <cstdint>
#include <vector>

#include "methods/address_method.hpp"
#include "methods/uint128.hpp"

namespace veil::anonymiser {

class PrefixPreservingMethod : public AddressMethod {
 public:
  IpAddress apply(const IpAddress& address) final;

 protected:
  // Returns the pad bits for address bit positions [from, to) (0 = most significant) of an
  // address of `width` bits (32 or 128) held left-aligned in `address`; the result is left-aligned
  // too, other bits zero.
  virtual Uint128 pad_bits(Uint128 address, int width, int from, int to) = 0;

 private:
  static constexpr int kV4CachedPrefix = 16;  // every /16 fits in a 64 Ki-entry table
  static constexpr int kV6CachedPrefix = 48;  // the usual size of one site's allocation
  static constexpr std::size_t kV6CacheSlots = 4096;

  Uint128 cached_prefix_pad(Uint128 address, int width);

  std::vector<std::uint32_t> v4_pads_;  // [prefix] = 1 << 16 | pad bits, 0 when not computed yet
  struct V6Pad {
    std::uint64_t prefix = 0;
    std::uint64_t pad = 0;
    bool valid = false;
  };
  std::vector<V6Pad> v6_pads_;
};

}  // namespace veil::anonymiser
