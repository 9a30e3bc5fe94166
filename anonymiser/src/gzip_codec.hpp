// zlib's gzip format behind two small classes, so that io.cpp stays free of zlib's C interface.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace veil::anonymiser::detail {

// Decompresses a gzip stream made of one or more concatenated members.
class GzipDecoder {
 public:
  GzipDecoder();
  ~GzipDecoder();
  GzipDecoder(const GzipDecoder&) = delete;
  GzipDecoder& operator=(const GzipDecoder&) = delete;

  // Hands over the next compressed bytes; they must stay valid until needs_input() is true again.
  void give_input(const char* data, std::size_t size);
  bool needs_input() const;
  // Decompresses into `out` what the given input allows; returns the bytes produced. Throws
  // std::runtime_error("corrupt gzip data: …").
  std::size_t decode(char* out, std::size_t capacity);
  // True when no member is partly decoded: the end of input there is a clean end.
  bool between_members() const;

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

}  // namespace veil::anonymiser::detail
