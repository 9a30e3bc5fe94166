// 128-bit big-endian address arithmetic for the bitwise methods.
#pragma once

#include <array>
#include <cstdint>

namespace veil::anonymiser {

__extension__ typedef unsigned __int128 Uint128;

inline Uint128 load_uint128(const std::uint8_t* bytes) {
  Uint128 value = 0;
  for (int i = 0; i < 16; ++i) value = value << 8 | bytes[i];
  return value;
}

inline void store_uint128(Uint128 value, std::uint8_t* bytes) {
  for (int i = 15; i >= 0; --i, value >>= 8) bytes[i] = static_cast<std::uint8_t>(value);
}

// The top `bits` bits set (0 <= bits <= 128).
inline Uint128 high_bits_mask(int bits) {
  return bits == 0 ? Uint128{0} : ~Uint128{0} << (128 - bits);
}

}  // namespace veil::anonymiser
