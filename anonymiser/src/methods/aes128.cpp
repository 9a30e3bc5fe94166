#include "methods/aes128.hpp"

#include <openssl/evp.h>

#include <new>
#include <stdexcept>

namespace veil::anonymiser {

Aes128::Aes128(std::span<const std::uint8_t, 16> key) : context_(EVP_CIPHER_CTX_new()) {
  if (!context_) throw std::bad_alloc();
  if (EVP_EncryptInit_ex(context_, EVP_aes_128_ecb(), nullptr, key.data(), nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(context_, 0) != 1) {
    EVP_CIPHER_CTX_free(context_);
    throw std::runtime_error("AES-128 is not available from OpenSSL");
  }
}

Aes128::~Aes128() {
  EVP_CIPHER_CTX_free(context_);
}

void Aes128::encrypt(const std::uint8_t* in, std::uint8_t* out, std::size_t blocks) {
  int written = 0;
  // Cannot fail for an initialised ECB context and whole blocks.
  EVP_EncryptUpdate(context_, out, &written, in, static_cast<int>(blocks * kBlockBytes));
}

}  // namespace veil::anonymiser
