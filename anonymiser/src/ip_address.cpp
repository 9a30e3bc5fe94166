#include "veil/anonymiser/ip_address.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "veil/anonymiser/hex.hpp"

namespace veil::anonymiser {
namespace {

// Length of the separator at `pos`: 1 for ':', 3 for "%3A" in percent-encoded mode, else 0.
std::size_t colon_at(std::string_view text, std::size_t pos, bool percent_encoded) {
  if (pos >= text.size()) return 0;
  if (!percent_encoded) return text[pos] == ':' ? 1 : 0;
  if (pos + 3 > text.size() || text[pos] != '%' || text[pos + 1] != '3') return 0;
  return (text[pos + 2] == 'A' || text[pos + 2] == 'a') ? 3 : 0;
}

// The bytes at `at` as one unaligned word.
template <typename Word>
Word load_word(const char* at) {
  Word word;
  std::memcpy(&word, at, sizeof word);
  return word;
}

// Each octet's decimal text, padded to four bytes with its length in the last: a dotted quad is
// written with four fixed-size copies instead of divisions by ten.
constexpr std::array<std::array<char, 4>, 256> kOctetTexts = [] {
  std::array<std::array<char, 4>, 256> texts{};
  for (unsigned value = 0; value < 256; ++value) {
    auto& text = texts[value];
    std::size_t length = 0;
    if (value >= 100) text[length++] = static_cast<char>('0' + value / 100);
    if (value >= 10) text[length++] = static_cast<char>('0' + value / 10 % 10);
    text[length++] = static_cast<char>('0' + value % 10);
    text[3] = static_cast<char>(length);
  }
  return texts;
}();

// Writes up to four bytes past the returned end (within format()'s kMaxTextLength buffer).
char* write_dotted_quad(char* out, const std::uint8_t* bytes) {
  for (int i = 0; i < 4; ++i) {
    const auto& text = kOctetTexts[bytes[i]];
    std::memcpy(out, text.data(), text.size());
    out += text[3];
    *out++ = '.';
  }
  return out - 1;
}

char* write_hex_field(char* out, unsigned value) {
  static constexpr char kDigits[] = "0123456789abcdef";
  bool started = false;
  for (int shift = 12; shift >= 0; shift -= 4) {
    unsigned nibble = (value >> shift) & 0xf;
    if (nibble || started || shift == 0) {
      *out++ = kDigits[nibble];
      started = true;
    }
  }
  return out;
}

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  IpAddress address;
  if (text.empty()) return std::nullopt;
  if (parse_ipv4_prefix(text, address) == text.size() ||
      parse_ipv6_prefix(text, address) == text.size()) {
    return address;
  }
  return std::nullopt;
}

std::size_t IpAddress::format(char* buffer) const {
  char* out = buffer;
  if (family_ == IpFamily::v4) return write_dotted_quad(out, bytes_.data() + 12) - buffer;
  if (is_v4_mapped()) {
    std::memcpy(out, "::ffff:", 7);
    out = write_dotted_quad(out + 7, bytes_.data() + 12);
  } else {
    std::array<unsigned, 8> fields{};
    for (int i = 0; i < 8; ++i) fields[i] = unsigned{bytes_[2 * i]} << 8 | bytes_[2 * i + 1];
    // RFC 5952 4.2: compress the longest run of two or more zero fields, the first on ties.
    int best_start = -1, best_length = 1;
    for (int i = 0; i < 8;) {
      if (fields[i] != 0) {
        ++i;
        continue;
      }
      int start = i;
      while (i < 8 && fields[i] == 0) ++i;
      if (i - start > best_length) best_start = start, best_length = i - start;
    }
    for (int i = 0; i < 8; ++i) {
      if (i == best_start) {
        *out++ = ':';
        if (i == 0) *out++ = ':';
        i += best_length - 1;
        continue;
      }
      out = write_hex_field(out, fields[i]);
      if (i < 7) *out++ = ':';
    }
  }
  return out - buffer;
}

std::string IpAddress::to_string() const {
  char buffer[kMaxTextLength];
  return std::string(buffer, format(buffer));
}

bool operator==(const IpAddress& a, const IpAddress& b) {
  return a.family_ == b.family_ && a.bytes_ == b.bytes_;
}

std::size_t parse_ipv4_prefix(std::string_view text, IpAddress& address) {
  // Every address-looking token of a log passes here. Octets of one to three digits make the digit
  // loops of a plain reading mispredict at every octet; masks of the dots and digits of the first
  // 16 bytes (all a dotted quad and the byte after it can take) find the octets without branching
  // on each digit.
  constexpr std::size_t kShortest = 7;  // "1.2.3.4"
  if (text.size() < kShortest) return 0;
  const char* const data = text.data();
  const std::size_t size = text.size();
  std::uint32_t digits = 0, dots = 0;  // bit i for text[i]; none past the text
#if defined(__SSE2__)
  // The 16 bytes are put together in registers from fixed-size loads, overlapping for a shorter
  // text: a vector load of bytes just stored to the stack would wait for the stores to retire.
  __m128i bytes;
  if (size >= 16) {
    bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data));
  } else if (size >= 8) {  // text[0, 8) in the low half, text[size - 8, size) in the high half
    bytes = _mm_set_epi64x(static_cast<long long>(load_word<std::uint64_t>(data + size - 8)),
                           static_cast<long long>(load_word<std::uint64_t>(data)));
  } else {  // text[0, 4) and text[size - 4, size), the same byte where they overlap
    const std::uint64_t word =
        load_word<std::uint32_t>(data) | std::uint64_t{load_word<std::uint32_t>(data + size - 4)}
                                             << (8 * (size - 4));
    bytes = _mm_cvtsi64_si128(static_cast<long long>(word));
  }
  const __m128i offsets = _mm_sub_epi8(bytes, _mm_set1_epi8('0'));
  digits = static_cast<std::uint32_t>(
      _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(offsets, _mm_set1_epi8(9)), offsets)));
  dots = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(bytes, _mm_set1_epi8('.'))));
  if (size >= 8 && size < 16) {  // the high half's bits moved to the bytes they stand for
    digits = (digits & 0xFF) | (digits >> 8) << (size - 8);
    dots = (dots & 0xFF) | (dots >> 8) << (size - 8);
  }
#else
  for (std::size_t i = 0; i < size && i < 16; ++i) {
    digits |= static_cast<std::uint32_t>(data[i] >= '0' && data[i] <= '9') << i;
    dots |= static_cast<std::uint32_t>(data[i] == '.') << i;
  }
#endif
  // The first three dots end octets one to three; nothing but digits and dots may come before the
  // third, and the fourth octet is the run of digits after it.
  std::array<unsigned, 4> ends{};
  for (std::uint32_t unread = dots; const std::size_t i : {0, 1, 2}) {
    if (unread == 0) return 0;
    ends[i] = static_cast<unsigned>(std::countr_zero(unread));
    unread &= unread - 1;
  }
  const std::uint32_t before_third = (1u << ends[2]) - 1;
  if (((digits | dots) & before_third) != before_third) return 0;
  ends[3] = ends[2] + 1 + static_cast<unsigned>(std::countr_zero(~digits >> (ends[2] + 1)));

  static constexpr std::array<unsigned, 4> kTens{0, 0, 10, 10}, kHundreds{0, 0, 0, 100};
  std::array<std::uint8_t, 4> octets{};
  unsigned start = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    const unsigned end = ends[i], length = end - start;
    if (length - 1 > 2) return 0;  // not 1 to 3 digits
    // Digits an octet lacks are multiplied by zero; before the text, any byte of it will do.
    auto digit = [&](unsigned back) {
      return static_cast<unsigned>(data[end >= back ? end - back : 0] - '0');
    };
    const unsigned value = digit(1) + kTens[length] * digit(2) + kHundreds[length] * digit(3);
    if (value > 255) return 0;
    octets[i] = static_cast<std::uint8_t>(value);
    start = end + 1;
  }
  address = IpAddress::v4(octets);
  return ends[3];
}

std::size_t parse_ipv6_prefix(std::string_view text, IpAddress& address,
                              bool percent_encoded_colons) {
  std::array<std::uint16_t, 8> fields{};
  int count = 0;
  int gap = -1;  // index of the field where "::" stands, if any
  std::size_t pos = 0;
  std::size_t best_length = 0;
  int best_count = 0, best_gap = -1;
  auto remember_if_complete = [&] {
    if ((gap >= 0 && count <= 7) || (gap < 0 && count == 8)) {
      best_length = pos, best_count = count, best_gap = gap;
    }
  };

  if (std::size_t colon = colon_at(text, 0, percent_encoded_colons)) {
    if (colon_at(text, colon, percent_encoded_colons) == 0) return 0;
    gap = 0;
    pos = 2 * colon;
    remember_if_complete();
  }
  while (count < 8) {
    unsigned value = 0;
    std::size_t digits = 0;
    while (pos + digits < text.size() && digits <= 4) {
      int nibble = hex_value(text[pos + digits]);
      if (nibble < 0) break;
      value = value << 4 | static_cast<unsigned>(nibble);
      ++digits;
    }
    if (digits == 0 || digits > 4) break;
    if (pos + digits < text.size() && text[pos + digits] == '.') {
      IpAddress embedded;
      std::size_t length = count <= 6 ? parse_ipv4_prefix(text.substr(pos), embedded) : 0;
      if (length) {
        fields[count++] = static_cast<std::uint16_t>(embedded.v4_value() >> 16);
        fields[count++] = static_cast<std::uint16_t>(embedded.v4_value());
        pos += length;
        remember_if_complete();
        break;
      }
      // No dotted quad: the '.' ends the address after this field, as a full stop does.
    }
    fields[count++] = static_cast<std::uint16_t>(value);
    pos += digits;
    remember_if_complete();
    std::size_t colon = colon_at(text, pos, percent_encoded_colons);
    if (colon == 0 || count == 8) break;
    if (colon_at(text, pos + colon, percent_encoded_colons)) {
      if (gap >= 0) break;
      gap = count;
      pos += 2 * colon;
      remember_if_complete();
    } else {
      pos += colon;
    }
  }
  if (best_length == 0) return 0;

  std::array<std::uint64_t, 2> halves{};  // the address's first and last 64 bits
  const int zeros = 8 - best_count;
  for (int i = 0, out = 0; i < best_count; ++i, ++out) {
    if (i == best_gap) out += zeros;
    halves[out / 4] |= std::uint64_t{fields[i]} << (16 * (3 - out % 4));
  }
  address = IpAddress::v6(halves[0], halves[1]);
  return best_length;
}

}  // namespace veil::anonymiser
