#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "veil/anonymiser/ip_address.hpp"

using namespace veil::anonymiser;

namespace {

std::string canonical(std::string_view text) {
  auto address = IpAddress::parse(text);
  return address ? address->to_string() : "<invalid>";
}

}  // namespace

TEST_CASE("IPv4 dotted quads parse and format", "[ip_address]") {
  CHECK(canonical("192.0.2.1") == "192.0.2.1");
  CHECK(canonical("0.0.0.0") == "0.0.0.0");
  CHECK(canonical("255.255.255.255") == "255.255.255.255");
  CHECK(canonical("010.001.000.009") == "10.1.0.9");  // leading zeros read as decimal
  auto address = IpAddress::parse("203.0.113.9");
  REQUIRE(address);
  CHECK(address->is_v4());
  CHECK(address->v4_value() == 0xCB007109u);
}

TEST_CASE("malformed addresses are rejected", "[ip_address]") {
  for (const char* text : {"",
                           "1",
                           "1.2.3",
                           "1.2.3.4.5",
                           "256.1.1.1",
                           "1.2.3.256",
                           "1.2.3.1000",
                           "1..2.3",
                           "1.2.3.4 ",
                           " 1.2.3.4",
                           "1.2.3.-4",
                           "a.b.c.d",
                           ":",
                           ":::",
                           "1:2:3:4:5:6:7",
                           "1:2:3:4:5:6:7:8:9",
                           "1::2::3",
                           "12345::1",
                           "1:2:3:4:5:6:7:8::",
                           ":1:2:3:4:5:6:7:8",
                           "1:2:3:4:5:6:7:",
                           "g::1",
                           "::1.2.3",
                           "::1.2.3.4.5",
                           "1:2:3:4:5:6:7:1.2.3.4",
                           "[::1]",
                           "::1%",
                           "fe80::1%abcdefghijklmnopq",
                           "1.2.3.4%eth0",
                           "fe80::1%eth0",  // a zone belongs to the text around the address
                           "13:55:36",
                           "00:1a:2b:3c:4d:5e",
                           "::ffff:1.2.3.4:80"}) {
    INFO(text);
    CHECK_FALSE(IpAddress::parse(text));
  }
}

TEST_CASE("every RFC 4291 IPv6 text form parses", "[ip_address]") {
  CHECK(canonical("2001:0db8:0000:0000:0000:0000:0000:0001") == "2001:db8::1");
  CHECK(canonical("2001:DB8::1") == "2001:db8::1");
  CHECK(canonical("::") == "::");
  CHECK(canonical("::1") == "::1");
  CHECK(canonical("1::") == "1::");
  CHECK(canonical("1:2:3:4:5:6:7::") == "1:2:3:4:5:6:7:0");
  CHECK(canonical("::2:3:4:5:6:7:8") == "0:2:3:4:5:6:7:8");
  CHECK(canonical("::ffff:1.2.3.4") == "::ffff:1.2.3.4");
  CHECK(canonical("::FFFF:192.0.2.128") == "::ffff:192.0.2.128");
  CHECK(canonical("0:0:0:0:0:ffff:102:304") == "::ffff:1.2.3.4");
  CHECK(canonical("64:ff9b::192.0.2.33") == "64:ff9b::c000:221");
  CHECK(canonical("1:2:3:4:5:6:1.2.3.4") == "1:2:3:4:5:6:102:304");

  auto mapped = IpAddress::parse("::ffff:1.2.3.4");
  REQUIRE(mapped);
  CHECK(mapped->family() == IpFamily::v6);
  CHECK(mapped->is_v4_mapped());
  CHECK(mapped->to_v4() == *IpAddress::parse("1.2.3.4"));
  CHECK(IpAddress::parse("1.2.3.4")->to_v4_mapped() == *mapped);
}

TEST_CASE("RFC 5952 section 4 canonical text", "[ip_address]") {
  // 4.1: leading zeros suppressed; 4.2.1: longest run compressed; 4.2.2: a single zero field is
  // not; 4.2.3: first run on ties; 4.3: lower case; 5: IPv4-mapped in mixed notation.
  CHECK(canonical("2001:0db8::0001") == "2001:db8::1");
  CHECK(canonical("2001:db8:0:0:0:0:2:1") == "2001:db8::2:1");
  CHECK(canonical("2001:db8:0:1:1:1:1:1") == "2001:db8:0:1:1:1:1:1");
  CHECK(canonical("2001:db8::1:1:1:1:1") == "2001:db8:0:1:1:1:1:1");
  CHECK(canonical("2001:0:0:1:0:0:0:1") == "2001:0:0:1::1");
  CHECK(canonical("2001:db8:0:0:1:0:0:1") == "2001:db8::1:0:0:1");
  CHECK(canonical("2001:DB8::AAAA:BBBB") == "2001:db8::aaaa:bbbb");
  CHECK(canonical("0:0:0:0:0:0:0:0") == "::");
  CHECK(canonical("1:0:0:0:0:0:0:0") == "1::");
  CHECK(canonical("0:0:0:0:0:0:0:1") == "::1");
  CHECK(canonical("1:0:1:0:1:0:1:0") == "1:0:1:0:1:0:1:0");
  CHECK(canonical("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") ==
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
}

TEST_CASE("the longest valid address prefix is reported", "[ip_address]") {
  IpAddress address;
  CHECK(parse_ipv4_prefix("1.2.3.4:80", address) == 7);
  CHECK(parse_ipv4_prefix("1.2.3", address) == 0);
  CHECK(parse_ipv6_prefix("2001:db8::1]:443", address) == 11);
  CHECK(address.to_string() == "2001:db8::1");
  CHECK(parse_ipv6_prefix("::1:51234", address) == 3);
  CHECK(parse_ipv6_prefix("2001%3Adb8%3A%3a1&x=1", address, true) == 17);
  CHECK(address.to_string() == "2001:db8::1");
  CHECK(parse_ipv6_prefix("2001%3Adb8::1", address, true) == 0);
  CHECK(parse_ipv6_prefix("13:55:36", address) == 0);
}

TEST_CASE("parse and format round-trip over random addresses", "[ip_address]") {
  std::uint64_t state = 0x1234567;
  auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<std::uint8_t>(state >> 56);
  };
  for (int i = 0; i < 2000; ++i) {
    std::array<std::uint8_t, 16> bytes;
    for (auto& byte : bytes) byte = next();
    // Bias towards zero runs so compression is exercised.
    for (int field = 0; field < 8; ++field) {
      if (next() < 100) bytes[2 * field] = bytes[2 * field + 1] = 0;
    }
    auto address = IpAddress::v6(bytes);
    auto reparsed = IpAddress::parse(address.to_string());
    REQUIRE(reparsed);
    CHECK(*reparsed == address);
    auto v4 = IpAddress::v4({bytes[0], bytes[1], bytes[2], bytes[3]});
    CHECK(IpAddress::parse(v4.to_string()) == v4);
  }
}

namespace {

// The dotted quad at the start of `text` read the plain way, octet by octet and digit by digit: the
// reference for the mask-based parse_ipv4_prefix.
std::size_t plain_ipv4_prefix(std::string_view text, std::uint32_t& value) {
  std::size_t pos = 0;
  value = 0;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (pos == text.size() || text[pos] != '.') return 0;
      ++pos;
    }
    std::size_t digits = 0;
    unsigned number = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      number = number * 10 + static_cast<unsigned>(text[pos++] - '0');
      if (++digits > 3) return 0;
    }
    if (digits == 0 || number > 255) return 0;
    value = value << 8 | number;
  }
  return pos;
}

}  // namespace

TEST_CASE("property: parse_ipv4_prefix reads what a digit-by-digit reading reads", "[ip_address]") {
  // Texts of digits and dots around the edge cases (empty and long octets, values near 255, a
  // fourth octet running past 16 bytes) and of other bytes, from 0x80 on included, of every length
  // up to 24.
  std::mt19937_64 random(4242);
  constexpr std::string_view kBytes = "0123456789.......25x :\x80\xb0\xb9\xff";
  std::size_t parsed = 0;
  for (int n = 0; n < 200000; ++n) {
    std::string text;
    if (n % 2 == 0) {
      for (int octet = 0; octet < 4 + static_cast<int>(random() % 2); ++octet) {
        if (octet > 0) text += '.';
        if (random() % 16 == 0) text += '0';
        text += std::to_string(random() % 300).substr(0, 1 + random() % 4);
      }
      if (random() % 4 == 0) text += kBytes[random() % kBytes.size()];
    } else {
      const std::size_t length = random() % 25;
      for (std::size_t i = 0; i < length; ++i) text += kBytes[random() % kBytes.size()];
    }
    std::uint32_t expected_value = 0;
    const std::size_t expected = plain_ipv4_prefix(text, expected_value);
    IpAddress address;
    INFO(text);
    REQUIRE(parse_ipv4_prefix(text, address) == expected);
    if (expected) {
      ++parsed;
      CHECK(address.is_v4());
      CHECK(address.v4_value() == expected_value);
    }
  }
  CHECK(parsed > 20000);
}
