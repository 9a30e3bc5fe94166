// Streaming gzip (RFC 1952) with zlib behind two small classes, so that callers stay free of zlib's
// C interface: `veil anonymise` reads and writes .gz logs with them, and the proxy's EmbedBlocker
// decodes the HTML an origin sends gzipped and re-encodes it for clients that accept gzip.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace veil::anonymiser {

// Decompresses a gzip stream made of one or more concatenated members. Errors throw
// std::runtime_error("corrupt gzip data: …").
class GzipDecoder {
 public:
  GzipDecoder();
  ~GzipDecoder();
  GzipDecoder(const GzipDecoder&) = delete;
  GzipDecoder& operator=(const GzipDecoder&) = delete;

  // Pulling into a caller's buffer (bounded memory whatever the compression ratio):
  // hands over the next compressed bytes; they must stay valid until needs_input() is true again.
  void give_input(const char* data, std::size_t size);
  bool needs_input() const;
  // Decompresses into `out` what the given input allows; returns the bytes produced.
  std::size_t decode(char* out, std::size_t capacity);
  // True when no member is partly decoded: the end of input there is a clean end.
  bool between_members() const;

  // Pushing one piece at a time: appends everything `input` decodes to.
  void decode(std::string_view input, std::string& out);
  // At the end of the input: throws std::runtime_error("truncated gzip data") inside a member.
  void finish() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Compresses into one gzip member; sync_flush() makes all data so far decodable by a reader.
class GzipEncoder {
 public:
  GzipEncoder();
  ~GzipEncoder();
  GzipEncoder(const GzipEncoder&) = delete;
  GzipEncoder& operator=(const GzipEncoder&) = delete;

  // Each appends the compressed bytes it produces to `out`.
  void encode(std::string_view data, std::string& out);
  void sync_flush(std::string& out);
  void finish(std::string& out);  // writes the trailer; the encoder then starts a new member

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace veil::anonymiser
