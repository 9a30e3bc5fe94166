#include "methods/address_method.hpp"

#include <stdexcept>
#include <string>

namespace veil::anonymiser {

std::unique_ptr<AddressMethod> make_address_method(const AnonymiseSettings& settings,
                                                   std::span<const std::uint8_t> key) {
  auto expected = key_bytes_for(settings.method);
  if (settings.method != Method::truncate && key.size() != expected) {
    throw std::invalid_argument(std::string(to_string(settings.method)) + " needs a " +
                                std::to_string(expected) + "-byte key, got " +
                                std::to_string(key.size()) + " bytes");
  }
  switch (settings.method) {
    case Method::truncate:
      return make_truncate(settings.ipv4_prefix, settings.ipv6_prefix);
    case Method::hash:
      return make_hash(key);
    case Method::cryptopan:
      return make_cryptopan(key);
    case Method::ipcrypt:
      return make_ipcrypt(key);
    case Method::ipcrypt_pfx:
      return make_ipcrypt_pfx(key);
  }
  throw std::invalid_argument("unknown anonymisation method");
}

}  // namespace veil::anonymiser
