// AES-128 block encryption (ECB over whole blocks) through OpenSSL EVP, one context per key,
// created once and reused so that encrypting never allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace veil::anonymiser {

class Aes128 {
 public:
  static constexpr std::size_t kBlockBytes = 16;

  explicit Aes128(std::span<const std::uint8_t, 16> key);
  ~Aes128();
  Aes128(const Aes128&) = delete;
  Aes128& operator=(const Aes128&) = delete;

  // Encrypts `blocks` consecutive 16-byte blocks; `in` and `out` may be the same buffer.
  void encrypt(const std::uint8_t* in, std::uint8_t* out, std::size_t blocks);

 private:
  EVP_CIPHER_CTX* context_;
};

}  // namespace veil::anonymiser
