// Maps client addresses to their anonymised form with the configured method and key schedule.
// CONTRACT (implemented in src/address_anonymiser.cpp): used by the log-line anonymiser, the
// proxy's access log and `veil policy explain`.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "veil/anonymiser/ip_address.hpp"
#include "veil/anonymiser/settings.hpp"

namespace veil::anonymiser {

// Days since 1970-01-01 (UTC) of the record being anonymised; selects the daily key.
using Day = std::int32_t;
// A record with no readable date. With daily rotation it gets its own key, derived with the label
// "undated", so that it never shares a mapping with a dated day.
inline constexpr Day kUndated = std::numeric_limits<Day>::min();

// Key material read from a key file (hex). Never printed.
struct MasterKey {
  std::vector<std::uint8_t> bytes;
};

// Reads a hex key file (surrounding whitespace and a trailing newline allowed). Throws
// std::runtime_error with a message such as "key file /etc/veil/key: expected 64 hex digits, got
// 12" or "key file /etc/veil/key: not hex". `warnings` receives "key file /etc/veil/key is readable
// by other users (chmod 600 it)" when it is.
MasterKey load_key_file(const std::string& path, std::size_t expected_bytes,
                        std::vector<std::string>* warnings = nullptr);

// Not thread-safe: it caches mappings and derived keys. Give each thread its own (they are cheap to
// copy from a prototype via clone()).
class AddressAnonymiser {
 public:
  // Throws std::invalid_argument when the key is missing or the wrong size for the method, or the
  // prefixes are out of range.
  AddressAnonymiser(const AnonymiseSettings& settings, const MasterKey& key);
  ~AddressAnonymiser();
  AddressAnonymiser(AddressAnonymiser&&) noexcept;
  AddressAnonymiser& operator=(AddressAnonymiser&&) noexcept;

  std::unique_ptr<AddressAnonymiser> clone() const;

  // The anonymised form of `address` for a record dated `day` (ignored unless rotation is daily).
  // An IPv4-mapped address is anonymised as its IPv4 address and returned mapped.
  IpAddress map(const IpAddress& address, Day day);

  // Appends `text` to `out` with every address-looking token (IPv4; every RFC 4291 IPv6 text form,
  // including embedded IPv4; `%zone`, `[v6]:port`, `v4:port`, elements of comma lists) replaced
  // by its mapping; all other bytes, a zone's included, are copied unchanged. Returns the number of
  // addresses replaced. What counts as an address token is documented in src/address_scan.hpp.
  std::size_t rewrite_addresses(std::string_view text, Day day, std::string& out);

  // When all of `text` is one address token and spaces, quotes or the ends of the line delimit it
  // (a log line's client field), appends what rewrite_addresses would and returns true; otherwise
  // appends nothing and returns false.
  bool rewrite_whole_address(std::string_view text, Day day, std::string& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace veil::anonymiser
