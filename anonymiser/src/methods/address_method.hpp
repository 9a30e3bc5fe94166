// One anonymisation method (truncate, hash, cryptopan, ipcrypt, ipcrypt-pfx) with one key.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "veil/anonymiser/ip_address.hpp"
#include "veil/anonymiser/settings.hpp"

namespace veil::anonymiser {

class AddressMethod {
 public:
  virtual ~AddressMethod() = default;
  // `address` is IPv4 or an IPv6 address outside ::ffff:0:0/96 (the caller unwraps mapped
  // addresses) and carries no zone. Not thread-safe: methods may cache.
  virtual IpAddress apply(const IpAddress& address) = 0;
};

// `key` must hold key_bytes_for(settings.method) bytes; throws std::invalid_argument otherwise or
// when the key is unusable (ipcrypt-pfx with equal halves) or a prefix is out of range.
std::unique_ptr<AddressMethod> make_address_method(const AnonymiseSettings& settings,
                                                   std::span<const std::uint8_t> key);

// The individual methods, created by make_address_method.
std::unique_ptr<AddressMethod> make_truncate(int ipv4_prefix, int ipv6_prefix);
std::unique_ptr<AddressMethod> make_hash(std::span<const std::uint8_t> key);
std::unique_ptr<AddressMethod> make_cryptopan(std::span<const std::uint8_t> key);
std::unique_ptr<AddressMethod> make_ipcrypt(std::span<const std::uint8_t> key);
std::unique_ptr<AddressMethod> make_ipcrypt_pfx(std::span<const std::uint8_t> key);

}  // namespace veil::anonymiser
