// Inputs found by the fuzz targets in fuzz/ (one case per finding), kept so the fixes stay fixed.
#include <catch2/catch.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "address_scan.hpp"
#include "veil/anonymiser/address_anonymiser.hpp"
#include "veil/anonymiser/ip_address.hpp"

using namespace veil::anonymiser;

namespace {

std::vector<std::string> tokens(std::string_view text) {
  std::vector<std::string> found;
  std::size_t pos = 0;
  while (auto token = find_next_address(text, pos)) {
    found.emplace_back(text.substr(token->begin, token->end - token->begin));
    pos = token->end;
  }
  return found;
}

}  // namespace

// fuzz_anonymise_line: "::192." survived. An IPv6 address whose last field is followed by a '.'
// that starts no dotted quad was dropped whole (or cut before its last field), so a full stop after
// an address let it through unanonymised.
TEST_CASE("an IPv6 address before a full stop is found whole", "[fuzz_regressions]") {
  CHECK(tokens("from 2001:db8::1. Next") == std::vector<std::string>{"2001:db8::1"});
  CHECK(tokens("from 2001:db8::1:2. Next") == std::vector<std::string>{"2001:db8::1:2"});
  CHECK(tokens("::192.") == std::vector<std::string>{"::192"});
  CHECK(tokens("ends with fe80::a:b.") == std::vector<std::string>{"fe80::a:b"});
  // A dotted quad after the fields is still read as part of the address.
  CHECK(tokens("at ::ffff:192.0.2.1. Next") == std::vector<std::string>{"::ffff:192.0.2.1"});
  // The text form itself stays strict.
  CHECK_FALSE(IpAddress::parse("2001:db8::1."));
  CHECK_FALSE(IpAddress::parse("1::2.3"));

  AddressAnonymiser truncating(AnonymiseSettings{}, MasterKey{});
  std::string out;
  truncating.rewrite_addresses("from 2001:db8:1:2::1:2. Next", 0, out);
  CHECK(out == "from 2001:db8:1::. Next");
}
