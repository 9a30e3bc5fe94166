#include "methods/prefix_preserving.hpp"

namespace veil::anonymiser {

Uint128 PrefixPreservingMethod::cached_prefix_pad(Uint128 address, int width) {
  if (width == 32) {
    if (v4_pads_.empty()) v4_pads_.assign(std::size_t{1} << kV4CachedPrefix, 0);
    auto prefix = static_cast<std::uint32_t>(address >> (128 - kV4CachedPrefix));
    std::uint32_t& slot = v4_pads_[prefix];
    if (!slot) {
      auto pad = pad_bits(address, width, 0, kV4CachedPrefix);
      slot = 1u << kV4CachedPrefix | static_cast<std::uint32_t>(pad >> (128 - kV4CachedPrefix));
    }
    return Uint128{slot & 0xffffu} << (128 - kV4CachedPrefix);
  }
  if (v6_pads_.empty()) v6_pads_.resize(kV6CacheSlots);
  auto prefix = static_cast<std::uint64_t>(address >> (128 - kV6CachedPrefix));
  auto& slot = v6_pads_[(prefix * 0x9E3779B97F4A7C15ull) >> 52];
  if (!slot.valid || slot.prefix != prefix) {
    auto pad = pad_bits(address, width, 0, kV6CachedPrefix);
    slot = {prefix, static_cast<std::uint64_t>(pad >> (128 - kV6CachedPrefix)), true};
  }
  return Uint128{slot.pad} << (128 - kV6CachedPrefix);
}

IpAddress PrefixPreservingMethod::apply(const IpAddress& address) {
  Uint128 value = load_uint128(address.bytes().data());
  int width = address.is_v4() ? 32 : 128;
  if (address.is_v4()) value <<= 96;
  int cached = width == 32 ? kV4CachedPrefix : kV6CachedPrefix;
  Uint128 pad = cached_prefix_pad(value, width) | pad_bits(value, width, cached, width);
  value ^= pad;
  if (!address.is_v4()) {
    std::array<std::uint8_t, 16> bytes;
    store_uint128(value, bytes.data());
    return IpAddress::v6(bytes);
  }
  return IpAddress::v4(static_cast<std::uint32_t>(value >> 96));
}

}  // namespace veil::anonymiser
