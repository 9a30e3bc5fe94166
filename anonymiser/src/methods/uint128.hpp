// 128-bit big-endian address arithmetic for the bitwise methods.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace veil::anonymiser {

__extension__ typedef unsigned __int128 Uint128;

inline Uint128 load_uint128(const std::uint8_t* bytes) {
  std::uint64_t high, low;
  std::memcpy(&high, bytes, 8);
  std::memcpy(&low, bytes + 8, 8);
  if constexpr (std::endian::native == std::endian::little) {
    high = __builtin_bswap64(high);
    low = __builtin_bswap64(low);
  }
  return Uint128{high} << 64 | low;
}

inline void store_uint128(Uint128 value, std::uint8_t* bytes) {
  auto high = static_cast<std::uint64_t>(value >> 64);
  auto low = static_cast<std::uint64_t>(value);
  if constexpr (std::endian::native == std::endian::little) {
    high = __builtin_bswap64(high);
    low = __builtin_bswap64(low);
  }
  std::memcpy(bytes, &high, 8);
  std::memcpy(bytes + 8, &low, 8);
}

// The top `bits` bits set (0 <= bits <= 128).
inline Uint128 high_bits_mask(int bits) {
  return bits == 0 ? Uint128{0} : ~Uint128{0} << (128 - bits);
}

}  // namespace veil::anonymiser
