// One hexadecimal digit's value: key files, IPv6 groups and %XX escapes in every library.
#pragma once

#include <array>

namespace veil::anonymiser {

// A table rather than three range tests: IPv6 groups and %XX escapes are read digit by digit on
// the anonymiser's hot path.
inline constexpr std::array<signed char, 256> kHexValues = [] {
  std::array<signed char, 256> values{};
  values.fill(-1);
  for (int digit = 0; digit < 10; ++digit) values['0' + digit] = static_cast<signed char>(digit);
  for (int letter = 0; letter < 6; ++letter) {
    values['a' + letter] = static_cast<signed char>(10 + letter);
    values['A' + letter] = static_cast<signed char>(10 + letter);
  }
  return values;
}();

// 0..15 for 0-9, a-f, A-F; -1 for anything else.
constexpr int hex_value(char c) {
  return kHexValues[static_cast<unsigned char>(c)];
}

}  // namespace veil::anonymiser
