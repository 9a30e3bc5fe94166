// libFuzzer target: IP address parsing and formatting, and the address scanner.
// Invariants: a parsed address formats to canonical text that parses back to the same address and
// formats identically (parse -> format -> parse); the scanner never reads out of bounds (ASan),
// and text in which it finds no address is copied unchanged.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "veil/anonymiser/address_anonymiser.hpp"
#include "veil/anonymiser/ip_address.hpp"

using namespace veil::anonymiser;

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

AddressAnonymiser& truncating() {
  static AddressAnonymiser anonymiser(AnonymiseSettings{}, MasterKey{});
  return anonymiser;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto address = IpAddress::parse(text)) {
    char buffer[IpAddress::kMaxTextLength];
    std::string_view canonical(buffer, address->format(buffer));
    auto reparsed = IpAddress::parse(canonical);
    require(reparsed && *reparsed == *address);
    char again[IpAddress::kMaxTextLength];
    require(std::string_view(again, reparsed->format(again)) == canonical);
  }

  std::string out;
  std::size_t replaced = truncating().rewrite_addresses(text, 0, out);
  require(replaced <= size);
  if (replaced == 0) require(out == text);
  return 0;
}
