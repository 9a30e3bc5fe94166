// An IPv4 or IPv6 address as a small value type: parsing every RFC 4291 text form and RFC 5952
// canonical formatting, neither of which allocates. A zone (`fe80::1%eth0`, RFC 4007) is not part
// of the address: the scanner leaves it in the text, where it stays as it was.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace veil::anonymiser {

enum class IpFamily : std::uint8_t { v4, v6 };

class IpAddress {
 public:
  // Longest canonical text: a full IPv6 address in mixed notation.
  static constexpr std::size_t kMaxTextLength = 45;

  // The unspecified IPv4 address 0.0.0.0.
  IpAddress() = default;

  // The small members below are defined in this header: every rewritten address goes through them,
  // from other translation units.
  static IpAddress v4(std::uint32_t address) {
    return from_halves(0, 0xFFFF'0000'0000ull | address, IpFamily::v4);
  }
  static IpAddress v4(const std::array<std::uint8_t, 4>& bytes) {
    return v4(std::uint32_t{bytes[0]} << 24 | std::uint32_t{bytes[1]} << 16 |
              std::uint32_t{bytes[2]} << 8 | bytes[3]);
  }
  // The IPv6 address whose first 64 bits are `high` and last 64 bits `low`.
  static IpAddress v6(std::uint64_t high, std::uint64_t low) {
    return from_halves(high, low, IpFamily::v6);
  }
  static IpAddress v6(const std::array<std::uint8_t, 16>& bytes) {
    IpAddress result;
    result.bytes_ = bytes;
    result.family_ = IpFamily::v6;
    return result;
  }

  // Accepts a dotted quad (octets of one to three decimal digits, at most 255; leading zeros are
  // read as decimal), or IPv6 in any RFC 4291 form: full, `::`-compressed, with a trailing dotted
  // quad (`::ffff:1.2.3.4`, `64:ff9b::1.2.3.4`), any letter case. Nothing else: no zones,
  // brackets, ports or surrounding blanks.
  static std::optional<IpAddress> parse(std::string_view text);

  IpFamily family() const { return family_; }
  bool is_v4() const { return family_ == IpFamily::v4; }
  // True for an IPv6 address in ::ffff:0:0/96.
  bool is_v4_mapped() const {
    static constexpr std::array<std::uint8_t, 12> kV4MappedPrefix{0, 0, 0, 0, 0,    0,
                                                                  0, 0, 0, 0, 0xff, 0xff};
    return family_ == IpFamily::v6 &&
           std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), bytes_.begin());
  }

  // IPv4 addresses are held in their IPv4-mapped 16-byte form; v4_value() reads the last four.
  const std::array<std::uint8_t, 16>& bytes() const { return bytes_; }
  std::uint32_t v4_value() const {
    return std::uint32_t{bytes_[12]} << 24 | std::uint32_t{bytes_[13]} << 16 |
           std::uint32_t{bytes_[14]} << 8 | bytes_[15];
  }

  // ::ffff:a.b.c.d for an IPv4 address; the IPv4 address for an IPv4-mapped one.
  IpAddress to_v4_mapped() const {
    IpAddress result = *this;
    result.family_ = IpFamily::v6;
    return result;
  }
  IpAddress to_v4() const {
    IpAddress result = *this;
    result.family_ = IpFamily::v4;
    return result;
  }

  // Writes the RFC 5952 canonical text (lower case, longest run of two or more zero fields
  // compressed, the first on ties, IPv4-mapped addresses as ::ffff:a.b.c.d) into `buffer` (at
  // least kMaxTextLength bytes). Returns the number of bytes written.
  std::size_t format(char* buffer) const;
  std::string to_string() const;

  // Address equality: family and bytes.
  friend bool operator==(const IpAddress& a, const IpAddress& b);

 private:
  static IpAddress from_halves(std::uint64_t high, std::uint64_t low, IpFamily family) {
    // The 16 bytes are made in a register and stored at once. Stored a byte or a word at a time,
    // the copy of the address that soon follows (16 bytes at once) would wait until those stores
    // retire, and addresses are copied on their way through the methods.
    using Halves = std::uint64_t __attribute__((vector_size(16)));
    const Halves halves{__builtin_bswap64(high), __builtin_bswap64(low)};  // network byte order
    IpAddress result;
    __builtin_memcpy(result.bytes_.data(), &halves, sizeof halves);
    result.family_ = family;
    return result;
  }

  std::array<std::uint8_t, 16> bytes_{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0};
  IpFamily family_ = IpFamily::v4;
};

// Parsers shared by IpAddress::parse and the address scanner. Each reads the longest valid address
// at the start of `text`, returns its length in bytes (0 when there is none) and stores the
// address.
//
// A dotted quad: exactly four octets; the text after it is not examined.
std::size_t parse_ipv4_prefix(std::string_view text, IpAddress& address);
// IPv6 without a zone. With `percent_encoded_colons` every separator is `%3A` (either letter case)
// instead of `:`, as in a URL query string.
std::size_t parse_ipv6_prefix(std::string_view text, IpAddress& address,
                              bool percent_encoded_colons = false);

}  // namespace veil::anonymiser
