#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cctype>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "veil/anonymiser/address_anonymiser.hpp"

using namespace veil::anonymiser;

namespace {

MasterKey key_from_hex(std::string_view hex) {
  MasterKey key;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    key.bytes.push_back(
        static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return key;
}

AddressAnonymiser make(Method method, const MasterKey& key, Rotation rotation = Rotation::never) {
  AnonymiseSettings settings;
  settings.method = method;
  settings.rotation = rotation;
  return AddressAnonymiser(settings, key);
}

std::string map_text(AddressAnonymiser& anonymiser, std::string_view text, Day day = 0) {
  auto address = IpAddress::parse(text);
  REQUIRE(address);
  return anonymiser.map(*address, day).to_string();
}

using Vectors = std::vector<std::pair<const char*, const char*>>;

// Crypto-PAn 1.0 sample key (sample.cpp), 32 decimal bytes.
const MasterKey kCryptoPanKey =
    key_from_hex("1522178d33a4cf80130a5b1649907d10d8988f837979652762574c2d2a842202");

// Yawning/cryptopan cryptopan_test.go: IPv4 pairs taken from the reference distribution's
// sample_trace_raw.dat / sample_trace_sanitized.dat, and its IPv6 extension's vectors.
const Vectors kCryptoPanV4 = {
    {"128.11.68.132", "135.242.180.132"},   {"129.118.74.4", "134.136.186.123"},
    {"130.132.252.244", "133.68.164.234"},  {"141.223.7.43", "141.167.8.160"},
    {"141.233.145.108", "141.129.237.235"}, {"152.163.225.39", "151.140.114.167"},
    {"156.29.3.236", "147.225.12.42"},      {"165.247.96.84", "162.9.99.234"},
    {"166.107.77.190", "160.132.178.185"},  {"192.102.249.13", "252.138.62.131"},
    {"192.215.32.125", "252.43.47.189"},    {"192.233.80.103", "252.25.108.8"},
    {"192.41.57.43", "252.222.221.184"},    {"193.150.244.223", "253.169.52.216"},
    {"195.205.63.100", "255.186.223.5"},    {"198.200.171.101", "249.199.68.213"},
    {"198.26.132.101", "249.36.123.202"},   {"198.36.213.5", "249.7.21.132"},
    {"198.51.77.238", "249.18.186.254"},    {"199.217.79.101", "248.38.184.213"},
    {"202.49.198.20", "245.206.7.234"},     {"203.12.160.252", "244.248.163.4"},
    {"204.184.162.189", "243.192.77.90"},   {"204.202.136.230", "243.178.4.198"},
    {"204.29.20.4", "243.33.20.123"},       {"205.178.38.67", "242.108.198.51"},
    {"205.188.147.153", "242.96.16.101"},   {"205.188.248.25", "242.96.88.27"},
    {"205.245.121.43", "242.21.121.163"},   {"207.105.49.5", "241.118.205.138"},
    {"207.135.65.238", "241.202.129.222"},  {"207.155.9.214", "241.220.250.22"},
    {"207.188.7.45", "241.255.249.220"},    {"207.25.71.27", "241.33.119.156"},
    {"207.33.151.131", "241.1.233.131"},    {"208.147.89.59", "227.237.98.191"},
    {"208.234.120.210", "227.154.67.17"},   {"208.28.185.184", "227.39.94.90"},
    {"208.52.56.122", "227.8.63.165"},      {"209.12.231.7", "226.243.167.8"},
    {"209.238.72.3", "226.6.119.243"},      {"209.246.74.109", "226.22.124.76"},
    {"209.68.60.238", "226.184.220.233"},   {"209.85.249.6", "226.170.70.6"},
    {"212.120.124.31", "228.135.163.231"},  {"212.146.8.236", "228.19.4.234"},
    {"212.186.227.154", "228.59.98.98"},    {"212.204.172.118", "228.71.195.169"},
    {"212.206.130.201", "228.69.242.193"},  {"216.148.237.145", "235.84.194.111"},
    {"216.157.30.252", "235.89.31.26"},     {"216.184.159.48", "235.96.225.78"},
    {"216.227.10.221", "235.28.253.36"},    {"216.254.18.172", "235.7.16.162"},
    {"216.32.132.250", "235.192.139.38"},   {"216.35.217.178", "235.195.157.81"},
    {"24.0.250.221", "100.15.198.226"},     {"24.13.62.231", "100.2.192.247"},
    {"24.14.213.138", "100.1.42.141"},      {"24.5.0.80", "100.9.15.210"},
    {"24.7.198.88", "100.10.6.25"},         {"24.94.26.44", "100.88.228.35"},
    {"38.15.67.68", "64.3.66.187"},         {"4.3.88.225", "124.60.155.63"},
    {"63.14.55.111", "95.9.215.7"},         {"63.195.241.44", "95.179.238.44"},
    {"63.97.7.140", "95.97.9.123"},         {"64.14.118.196", "0.255.183.58"},
    {"64.34.154.117", "0.221.154.117"},     {"64.39.15.238", "0.219.7.41"},
};

const Vectors kCryptoPanV6 = {
    {"::1", "78ff:f001:9fc0:20df:8380:b1f1:704:ed"},
    {"::2", "78ff:f001:9fc0:20df:8380:b1f1:704:ef"},
    {"::ffff", "78ff:f001:9fc0:20df:8380:b1f1:704:f838"},
    {"2001:db8::1", "4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1e"},
    {"2001:db8::2", "4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1c"},
};

struct KeyedVector {
  const char* key;
  const char* input;
  const char* output;
};

// draft-denis-ipcrypt, implementations/python/test_vectors.json.
const std::vector<KeyedVector> kIpcryptDeterministic = {
    {"0123456789abcdeffedcba9876543210", "0.0.0.0", "bde9:6789:d353:824c:d7c6:f58a:6bd2:26eb"},
    {"1032547698badcfeefcdab8967452301", "255.255.255.255",
     "aed2:92f6:ea23:58c3:48fd:8b8:74e8:45d8"},
    {"2b7e151628aed2a6abf7158809cf4f3c", "192.0.2.1", "1dbd:c1b9:fff1:7586:7d0b:67b4:e76e:4777"},
    {"0123456789abcdeffedcba9876543210", "2001:db8:85a3::8a2e:370:7334",
     "1eef:2352:64c8:18e6:6456:1373:f615:5032"},
    {"1032547698badcfeefcdab8967452301", "192.0.2.1", "7fde:a680:9546:ef2:d3c:7abb:1b38:2659"},
};

const char* const kPfxKey1 = "0123456789abcdeffedcba98765432101032547698badcfeefcdab8967452301";
const char* const kPfxKey2 = "2b7e151628aed2a6abf7158809cf4f3ca9f5ba40db214c3798f2e1c23456789a";
const std::vector<KeyedVector> kIpcryptPfx = {
    {kPfxKey1, "0.0.0.0", "151.82.155.134"},
    {kPfxKey1, "255.255.255.255", "94.185.169.89"},
    {kPfxKey1, "192.0.2.1", "100.115.72.131"},
    {kPfxKey1, "2001:db8::1", "c180:5dd4:2587:3524:30ab:fa65:6ab6:f88"},
    {kPfxKey2, "10.0.0.47", "19.214.210.244"},
    {kPfxKey2, "10.0.0.129", "19.214.210.80"},
    {kPfxKey2, "10.0.0.234", "19.214.210.30"},
    {kPfxKey2, "172.16.5.193", "210.78.229.136"},
    {kPfxKey2, "172.16.97.42", "210.78.179.241"},
    {kPfxKey2, "172.16.248.177", "210.78.121.215"},
    {kPfxKey2, "2001:db8::a5c9:4e2f:bb91:5a7d", "7cec:702c:1243:f70:1956:125:b9bd:1aba"},
    {kPfxKey2, "2001:db8::7234:d8f1:3c6e:9a52", "7cec:702c:1243:f70:a3ef:c8e:95c1:cd0d"},
    {kPfxKey2, "2001:db8::f1e0:937b:26d4:8c1a", "7cec:702c:1243:f70:443c:c8e:6a62:b64d"},
    {kPfxKey2, "2001:db8:3a5c:0:e7d1:4b9f:2c8a:f673", "7cec:702c:3503:bef:e616:96bd:be33:a9b9"},
    {kPfxKey2, "2001:db8:9f27:0:b4e2:7a3d:5f91:c8e6", "7cec:702c:a504:b74e:194a:3d90:b047:2d1a"},
    {kPfxKey2, "2001:db8:d8b4:0:193c:a5e7:8b2f:46d1", "7cec:702c:f840:aa67:1b8:e84f:ac9d:77fb"},
};

// Addresses that share long prefixes, for the prefix-preservation property.
std::vector<IpAddress> related_addresses(bool v6) {
  std::vector<IpAddress> addresses;
  std::uint64_t state = v6 ? 99 : 7;
  auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<std::uint8_t>(state >> 56);
  };
  std::array<std::uint8_t, 16> base{};
  for (auto& byte : base) byte = next();
  for (int i = 0; i < 200; ++i) {
    auto bytes = base;
    int from = (next() % (v6 ? 16 : 4)) + (v6 ? 0 : 12);
    for (int b = from; b < 16; ++b) bytes[b] = next();
    addresses.push_back(v6 ? IpAddress::v6(bytes)
                           : IpAddress::v4({bytes[12], bytes[13], bytes[14], bytes[15]}));
  }
  return addresses;
}

int common_prefix_bits(const IpAddress& a, const IpAddress& b) {
  int first = a.is_v4() ? 96 : 0;
  for (int bit = first; bit < 128; ++bit) {
    std::uint8_t mask = static_cast<std::uint8_t>(0x80u >> (bit % 8));
    if ((a.bytes()[bit / 8] & mask) != (b.bytes()[bit / 8] & mask)) return bit - first;
  }
  return 128 - first;
}

}  // namespace

TEST_CASE("truncate keeps /24 and /48 by default and outputs valid addresses", "[methods]") {
  auto anonymiser = make(Method::truncate, {});
  CHECK(map_text(anonymiser, "192.0.2.77") == "192.0.2.0");
  CHECK(map_text(anonymiser, "2001:db8:1234:5678::9") == "2001:db8:1234::");
  CHECK(map_text(anonymiser, "::ffff:192.0.2.77") == "::ffff:192.0.2.0");
  CHECK(map_text(anonymiser, "fe80::1:2") == "fe80::");

  AnonymiseSettings settings;
  settings.ipv4_prefix = 20;
  settings.ipv6_prefix = 36;
  AddressAnonymiser custom(settings, {});
  CHECK(map_text(custom, "192.0.255.255") == "192.0.240.0");
  CHECK(map_text(custom, "2001:db8:ffff::1") == "2001:db8:f000::");
  settings.ipv4_prefix = 33;
  CHECK_THROWS_AS(AddressAnonymiser(settings, {}), std::invalid_argument);
  settings.ipv4_prefix = 24;
  settings.ipv6_prefix = -1;
  CHECK_THROWS_AS(AddressAnonymiser(settings, {}), std::invalid_argument);
}

namespace {

// A random dotted quad; now and then an octet has a leading zero.
std::string random_dotted_quad(std::mt19937& random) {
  std::string text;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) text += '.';
    // Small octets often, to have one- and two-digit ones.
    const unsigned value = random() % 2 ? random() % 256 : random() % 12;
    if (random() % 16 == 0 && value < 100) text += '0';
    text += std::to_string(value);
  }
  return text;
}

// A random IPv6 address, written canonically (RFC 5952) or with all eight groups, leading zeros
// and uppercase letters here and there; some groups are zero, some small.
std::string random_ipv6_text(std::mt19937& random) {
  std::array<std::uint8_t, 16> bytes{};
  for (std::size_t group = 0; group < 8; ++group) {
    const unsigned kind = random() % 4;
    const unsigned value = kind == 0 ? 0 : kind == 1 ? random() % 0x20 : random() % 0x10000;
    bytes[2 * group] = static_cast<std::uint8_t>(value >> 8);
    bytes[2 * group + 1] = static_cast<std::uint8_t>(value);
  }
  std::string text;
  if (random() % 2) {
    text = IpAddress::v6(bytes).to_string();
  } else {
    static constexpr char kHex[] = "0123456789abcdef";
    for (std::size_t group = 0; group < 8; ++group) {
      if (group > 0) text += ':';
      const unsigned value = unsigned{bytes[2 * group]} << 8 | bytes[2 * group + 1];
      std::string digits;
      for (unsigned rest = value; rest != 0 || digits.empty(); rest >>= 4) {
        digits.insert(digits.begin(), kHex[rest & 0xF]);
      }
      if (random() % 8 == 0 && digits.size() < 4) digits.insert(digits.begin(), '0');
      text += digits;
    }
  }
  if (random() % 8 == 0) {
    for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return text;
}

}  // namespace

TEST_CASE("property: a whole-address rewrite under truncate equals the mapped address",
          "[methods]") {
  // Prefixes at field boundaries rewrite addresses from their text when it is canonical; the
  // others, and texts with leading zeros, uppercase letters or zero groups, are masked and
  // formatted. Both must agree with map().
  std::mt19937 random(20261124);
  const std::vector<std::pair<int, int>> prefixes{{0, 0},   {8, 16},  {12, 40},  {16, 48},
                                                  {24, 64}, {31, 96}, {32, 112}, {24, 128}};
  for (const auto& [ipv4_prefix, ipv6_prefix] : prefixes) {
    AnonymiseSettings settings;
    settings.ipv4_prefix = ipv4_prefix;
    settings.ipv6_prefix = ipv6_prefix;
    AddressAnonymiser anonymiser(settings, {});
    for (int i = 0; i < 4000; ++i) {
      const std::string text = i % 2 ? random_dotted_quad(random) : random_ipv6_text(random);
      INFO(ipv4_prefix << " " << ipv6_prefix << " " << text);
      std::string rewritten;
      REQUIRE(anonymiser.rewrite_whole_address(text, 0, rewritten));
      const auto address = IpAddress::parse(text);
      REQUIRE(address);
      CHECK(rewritten == anonymiser.map(*address, 0).to_string());
    }
  }
}

TEST_CASE("Crypto-PAn equals the reference implementation", "[methods]") {
  auto anonymiser = make(Method::cryptopan, kCryptoPanKey);
  REQUIRE(kCryptoPanV4.size() == 70);
  for (const auto& [input, output] : kCryptoPanV4) {
    INFO(input);
    CHECK(map_text(anonymiser, input) == output);
  }
  for (const auto& [input, output] : kCryptoPanV6) {
    INFO(input);
    CHECK(map_text(anonymiser, input) == output);
  }
  // The reference document's prefix demonstration.
  CHECK(map_text(anonymiser, "192.0.2.1") == "252.255.2.112");
  CHECK(map_text(anonymiser, "192.0.2.200") == "252.255.2.198");
  CHECK(map_text(anonymiser, "192.0.3.1") == "252.255.3.243");
  // A fresh instance (empty caches) agrees with one whose caches are warm.
  auto fresh = make(Method::cryptopan, kCryptoPanKey);
  CHECK(map_text(fresh, "64.39.15.238") == "0.219.7.41");
}

TEST_CASE("ipcrypt equals the draft's test vectors", "[methods]") {
  for (const auto& vector : kIpcryptDeterministic) {
    INFO(vector.input);
    auto anonymiser = make(Method::ipcrypt, key_from_hex(vector.key));
    CHECK(map_text(anonymiser, vector.input) == vector.output);
  }
  // a.b.c.d and ::ffff:a.b.c.d encrypt alike.
  auto anonymiser = make(Method::ipcrypt, key_from_hex(kIpcryptDeterministic[0].key));
  CHECK(map_text(anonymiser, "::ffff:0.0.0.0") == kIpcryptDeterministic[0].output);
}

TEST_CASE("ipcrypt-pfx equals the draft's test vectors", "[methods]") {
  for (const auto& vector : kIpcryptPfx) {
    INFO(vector.input);
    auto anonymiser = make(Method::ipcrypt_pfx, key_from_hex(vector.key));
    CHECK(map_text(anonymiser, vector.input) == vector.output);
  }
  auto anonymiser = make(Method::ipcrypt_pfx, key_from_hex(kPfxKey1));
  CHECK(map_text(anonymiser, "::ffff:192.0.2.1") == "::ffff:100.115.72.131");
  // Equal key halves would be the identity.
  CHECK_THROWS_AS(
      make(Method::ipcrypt_pfx, key_from_hex(std::string(32, '1') + std::string(32, '1'))),
      std::invalid_argument);
}

TEST_CASE("prefix-preserving methods keep exactly the shared prefix length", "[methods]") {
  for (auto method : {Method::cryptopan, Method::ipcrypt_pfx}) {
    auto anonymiser = make(method, key_from_hex(kPfxKey2));
    for (bool v6 : {false, true}) {
      auto addresses = related_addresses(v6);
      std::vector<IpAddress> mapped;
      for (const auto& address : addresses) mapped.push_back(anonymiser.map(address, 0));
      for (std::size_t i = 0; i + 1 < addresses.size(); ++i) {
        INFO(addresses[i].to_string() << " " << addresses[i + 1].to_string());
        CHECK(mapped[i].family() == addresses[i].family());
        CHECK(common_prefix_bits(mapped[i], mapped[i + 1]) ==
              common_prefix_bits(addresses[i], addresses[i + 1]));
      }
    }
  }
}

TEST_CASE("hash is HMAC-SHA256 placed in reserved ranges", "[methods]") {
  auto key = key_from_hex(kPfxKey2);
  auto anonymiser = make(Method::hash, key);
  auto hmac = [&](const std::uint8_t* data, std::size_t size) {
    std::array<std::uint8_t, 32> mac{};
    unsigned length = 0;
    HMAC(EVP_sha256(), key.bytes.data(), static_cast<int>(key.bytes.size()), data, size, mac.data(),
         &length);
    return mac;
  };
  for (const char* text : {"192.0.2.1", "203.0.113.9", "0.0.0.0", "192.0.2.1"}) {
    auto address = *IpAddress::parse(text);
    auto mac = hmac(address.bytes().data() + 12, 4);
    auto result = anonymiser.map(address, 0);
    REQUIRE(result.is_v4());
    std::uint32_t expected =
        0xf0000000u | (std::uint32_t{mac[0]} << 24 | std::uint32_t{mac[1]} << 16 |
                       std::uint32_t{mac[2]} << 8 | mac[3]) >>
                          4;
    CHECK(result.v4_value() == expected);
    CHECK(map_text(anonymiser, std::string("::ffff:") + text) == "::ffff:" + result.to_string());
  }
  for (const char* text : {"2001:db8::1", "fe80::1", "::1"}) {
    auto address = *IpAddress::parse(text);
    auto mac = hmac(address.bytes().data(), 16);
    auto result = anonymiser.map(address, 0);
    REQUIRE(!result.is_v4());
    CHECK(result.bytes()[0] == 0x20);
    CHECK(result.bytes()[1] == 0x01);
    CHECK(result.bytes()[2] == 0x0d);
    CHECK(result.bytes()[3] == 0xb8);
    CHECK(std::equal(mac.begin(), mac.begin() + 12, result.bytes().begin() + 4));
  }
}

TEST_CASE("keyed methods reject missing or wrongly sized keys", "[methods]") {
  CHECK_THROWS_AS(make(Method::hash, {}), std::invalid_argument);
  CHECK_THROWS_AS(make(Method::cryptopan, key_from_hex("0011")), std::invalid_argument);
  CHECK_THROWS_AS(make(Method::ipcrypt, key_from_hex(kPfxKey1)), std::invalid_argument);
  CHECK_THROWS_WITH(make(Method::cryptopan, key_from_hex("0011"), Rotation::daily),
                    "cryptopan needs a 32-byte key, got 2 bytes");
  CHECK_THROWS_WITH(make(Method::hash, {}, Rotation::daily), "hash needs a key file");
}

TEST_CASE("daily rotation: equal within a day, different across days", "[methods]") {
  auto master = key_from_hex(kPfxKey2);
  for (auto method : {Method::hash, Method::cryptopan, Method::ipcrypt_pfx}) {
    auto first = make(method, master, Rotation::daily);
    auto second = make(method, master, Rotation::daily);  // another machine, same key
    for (const char* text : {"192.0.2.1", "2001:db8::1"}) {
      INFO(to_string(method) << " " << text);
      auto day1 = map_text(first, text, 19723);
      CHECK(map_text(first, text, 19723) == day1);
      CHECK(map_text(second, text, 19723) == day1);
      auto day2 = map_text(first, text, 19724);
      CHECK(day2 != day1);
      CHECK(map_text(first, text, kUndated) != day1);
      // Many days cycle through the instance cache and come back to the same mapping.
      for (Day day = 19700; day < 19710; ++day) map_text(first, text, day);
      CHECK(map_text(first, text, 19723) == day1);
      CHECK(map_text(first, text, 19724) == day2);
    }
  }
  // Without rotation the day is ignored and the master key is used as is.
  auto fixed = make(Method::cryptopan, kCryptoPanKey, Rotation::never);
  CHECK(map_text(fixed, "128.11.68.132", 19723) == "135.242.180.132");
  CHECK(map_text(fixed, "128.11.68.132", 19724) == "135.242.180.132");
}

TEST_CASE("clones map like their prototype", "[methods]") {
  auto prototype = make(Method::cryptopan, kCryptoPanKey, Rotation::daily);
  auto copy = prototype.clone();
  auto address = *IpAddress::parse("198.51.100.7");
  CHECK(copy->map(address, 20000) == prototype.map(address, 20000));
}

TEST_CASE("remembered results equal fresh ones, also when the memory overflows", "[methods]") {
  // More distinct addresses than the result cache holds, mapped three times each in a shuffled
  // order: hits in either way of a set, evictions and IPv4 / IPv4-mapped / IPv4-compatible
  // twins must all give what the first, uncached mapping gave.
  const MasterKey key = key_from_hex("000102030405060708090a0b0c0d0e0f");
  std::mt19937_64 random(99);
  std::vector<IpAddress> addresses;
  for (std::uint32_t i = 0; i < 100000; ++i) {
    const auto v4 = IpAddress::v4(static_cast<std::uint32_t>(random()));
    addresses.push_back(v4);
    if (i % 4 == 0) addresses.push_back(v4.to_v4_mapped());
    if (i % 4 == 1) {
      std::array<std::uint8_t, 16> bytes{};
      std::copy(v4.bytes().begin() + 12, v4.bytes().end(), bytes.begin() + 12);
      addresses.push_back(IpAddress::v6(bytes));  // ::a.b.c.d is not the IPv4 address a.b.c.d
    }
  }
  auto first_sight = make(Method::ipcrypt, key);
  std::vector<IpAddress> expected;
  for (const auto& address : addresses) expected.push_back(first_sight.map(address, 0));
  std::vector<std::size_t> order;
  for (int round = 0; round < 3; ++round) {
    for (std::size_t i = 0; i < addresses.size(); ++i) order.push_back(i);
  }
  std::shuffle(order.begin(), order.end(), random);
  auto remembering = make(Method::ipcrypt, key);
  std::size_t differing = 0;
  for (std::size_t i : order) {
    if (remembering.map(addresses[i], 0) != expected[i]) ++differing;
  }
  CHECK(differing == 0);
}
