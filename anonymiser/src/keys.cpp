#include "keys.hpp"

#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "veil/anonymiser/hex.hpp"

namespace veil::anonymiser {
namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

}  // namespace

MasterKey load_key_file(const std::string& path, std::size_t expected_bytes,
                        std::vector<std::string>* warnings) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    throw std::runtime_error("key file " + path + ": cannot open: " + std::strerror(errno));
  }
  std::ostringstream contents;
  contents << file.rdbuf();
  if (file.bad()) throw std::runtime_error("key file " + path + ": cannot read");
  std::string text = contents.str();

  std::size_t begin = 0, end = text.size();
  while (begin < end && is_blank(text[begin])) ++begin;
  while (end > begin && is_blank(text[end - 1])) --end;
  std::string_view hex(text.data() + begin, end - begin);
  for (char c : hex) {
    if (hex_value(c) < 0) throw std::runtime_error("key file " + path + ": not hex");
  }
  if (hex.size() != 2 * expected_bytes) {
    throw std::runtime_error("key file " + path + ": expected " +
                             std::to_string(2 * expected_bytes) + " hex digits, got " +
                             std::to_string(hex.size()));
  }
  MasterKey key;
  key.bytes.reserve(expected_bytes);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    key.bytes.push_back(static_cast<std::uint8_t>(hex_value(hex[i]) << 4 | hex_value(hex[i + 1])));
  }

  struct stat status {};
  if (warnings && ::stat(path.c_str(), &status) == 0 && (status.st_mode & S_IROTH)) {
    warnings->push_back("key file " + path + " is readable by other users (chmod 600 it)");
  }
  return key;
}

std::string day_label(Day day) {
  if (day == kUndated) return "undated";
  std::chrono::year_month_day date{std::chrono::sys_days{std::chrono::days{day}}};
  char label[16];
  std::snprintf(label, sizeof label, "%04d-%02u-%02u", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
  return label;
}

std::vector<std::uint8_t> derive_day_key(std::span<const std::uint8_t> master, Method method,
                                         Day day, std::size_t length) {
  std::string info = "veil/" + std::string(to_string(method)) + "/" + day_label(day);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> context(
      EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr), &EVP_PKEY_CTX_free);
  std::vector<std::uint8_t> key(length);
  std::size_t written = length;
  if (!context || EVP_PKEY_derive_init(context.get()) != 1 ||
      EVP_PKEY_CTX_set_hkdf_md(context.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_key(context.get(), master.data(), static_cast<int>(master.size())) !=
          1 ||
      EVP_PKEY_CTX_add1_hkdf_info(context.get(),
                                  reinterpret_cast<const unsigned char*>(info.data()),
                                  static_cast<int>(info.size())) != 1 ||
      EVP_PKEY_derive(context.get(), key.data(), &written) != 1 || written != length) {
    throw std::runtime_error("HKDF-SHA256 key derivation failed in OpenSSL");
  }
  return key;
}

}  // namespace veil::anonymiser
