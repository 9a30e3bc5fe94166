#include <catch2/catch.hpp>

#include <stdexcept>

#include "veil/proxy/client_address.hpp"

namespace http = boost::beast::http;
using namespace veil::proxy;

namespace {

IpAddress ip(const char* text) {
  return boost::asio::ip::make_address(text);
}

std::string resolve(const char* peer,
                    std::initializer_list<std::pair<const char*, const char*>> fields,
                    const TrustedProxies& trusted) {
  RequestHead head;
  for (const auto& [name, value] : fields) head.insert(name, value);
  return resolve_client_address(ip(peer), head, trusted).to_string();
}

}  // namespace

TEST_CASE("CIDR membership") {
  CHECK(Cidr::parse("10.0.0.0/8").contains(ip("10.255.1.2")));
  CHECK_FALSE(Cidr::parse("10.0.0.0/8").contains(ip("11.0.0.1")));
  CHECK(Cidr::parse("192.168.1.128/25").contains(ip("192.168.1.200")));
  CHECK_FALSE(Cidr::parse("192.168.1.128/25").contains(ip("192.168.1.100")));
  CHECK(Cidr::parse("2001:db8::/32").contains(ip("2001:db8:ffff::1")));
  CHECK_FALSE(Cidr::parse("2001:db8::/32").contains(ip("10.0.0.1")));
  CHECK(Cidr::parse("127.0.0.1").contains(ip("127.0.0.1")));
  CHECK_FALSE(Cidr::parse("127.0.0.1").contains(ip("127.0.0.2")));
  CHECK(Cidr::parse("0.0.0.0/0").contains(ip("8.8.8.8")));
  CHECK_THROWS_AS(Cidr::parse("10.0.0.0/33"), std::invalid_argument);
  CHECK_THROWS_AS(Cidr::parse("nonsense"), std::invalid_argument);
  CHECK_THROWS_AS(Cidr::parse("10.0.0.0/8x"), std::invalid_argument);
}

TEST_CASE("an untrusted peer is the client whatever it claims") {
  const TrustedProxies trusted({"10.0.0.0/8"});
  CHECK(resolve("203.0.113.5", {{"X-Forwarded-For", "1.2.3.4"}}, trusted) == "203.0.113.5");
}

TEST_CASE("the right-most untrusted X-Forwarded-For entry is the client") {
  const TrustedProxies trusted({"10.0.0.0/8", "::1/128"});
  CHECK(resolve("10.0.0.1", {{"X-Forwarded-For", "6.6.6.6, 198.51.100.7, 10.0.0.9"}}, trusted) ==
        "198.51.100.7");
  CHECK(resolve("10.0.0.1", {{"X-Forwarded-For", "6.6.6.6"}, {"X-Forwarded-For", "198.51.100.8"}},
                trusted) == "198.51.100.8");
  CHECK(resolve("::1", {{"X-Forwarded-For", "[2001:db8::5]:4711"}}, trusted) == "2001:db8::5");
  CHECK(resolve("10.0.0.1", {{"X-Forwarded-For", "198.51.100.7:443"}}, trusted) == "198.51.100.7");
  // All trusted: the left-most hop is as far as the chain goes.
  CHECK(resolve("10.0.0.1", {{"X-Forwarded-For", "10.1.1.1, 10.2.2.2"}}, trusted) == "10.1.1.1");
  // No chain at all: the peer.
  CHECK(resolve("10.0.0.1", {}, trusted) == "10.0.0.1");
}

TEST_CASE("garbage in the chain stops at the last trusted hop") {
  const TrustedProxies trusted({"10.0.0.0/8"});
  CHECK(resolve("10.0.0.1", {{"X-Forwarded-For", "198.51.100.7, unknown, 10.0.0.3"}}, trusted) ==
        "10.0.0.3");
  CHECK(resolve("10.0.0.1", {{"X-Forwarded-For", "not-an-ip"}}, trusted) == "10.0.0.1");
}

TEST_CASE("look-alike field names are never read") {
  const TrustedProxies trusted({"10.0.0.0/8"});
  CHECK(resolve("10.0.0.1", {{"X_Forwarded_For", "198.51.100.7"}}, trusted) == "10.0.0.1");
}

TEST_CASE("Forwarded is used when there is no X-Forwarded-For") {
  const TrustedProxies trusted({"10.0.0.0/8"});
  CHECK(resolve("10.0.0.1", {{"Forwarded", "for=198.51.100.7;proto=https, for=10.0.0.2"}},
                trusted) == "198.51.100.7");
  CHECK(resolve("10.0.0.1", {{"Forwarded", "for=\"[2001:db8::7]:80\""}}, trusted) == "2001:db8::7");
  CHECK(resolve("10.0.0.1", {{"Forwarded", "for=_hidden, for=10.0.0.2"}}, trusted) == "10.0.0.2");
}

TEST_CASE("IPv4-mapped peers count as IPv4") {
  const TrustedProxies trusted({"10.0.0.0/8"});
  CHECK(resolve("::ffff:10.0.0.1", {{"X-Forwarded-For", "198.51.100.7"}}, trusted) ==
        "198.51.100.7");
}
