// Streaming gzip (RFC 1952) decoding and encoding with zlib, for rewriting compressed HTML bodies:
// the EmbedBlocker decodes what the origin sends and re-encodes for clients that accept gzip.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace veil::proxy {

class GzipDecoder {
 public:
  GzipDecoder();
  ~GzipDecoder();
  GzipDecoder(const GzipDecoder&) = delete;
  GzipDecoder& operator=(const GzipDecoder&) = delete;

  // Appends the bytes `chunk` decodes to. Concatenated members are decoded in turn. Throws
  // std::runtime_error for data that is not gzip (the body cannot be rewritten or passed on).
  void decode(std::string_view chunk, std::string& out);
  // Throws std::runtime_error when the stream ended inside a member.
  void finish() const;

 private:
  struct Stream;
  std::unique_ptr<Stream> stream_;
};

class GzipEncoder {
 public:
  explicit GzipEncoder(int level = 5);
  ~GzipEncoder();
  GzipEncoder(const GzipEncoder&) = delete;
  GzipEncoder& operator=(const GzipEncoder&) = delete;

  // Appends the compressed form of `chunk`, flushed (Z_SYNC_FLUSH) so that a streamed page reaches
  // the browser without waiting for later chunks.
  void encode(std::string_view chunk, std::string& out);
  // Appends the end of the stream (the last block and the gzip trailer).
  void finish(std::string& out);

 private:
  struct Stream;
  std::unique_ptr<Stream> stream_;
};

}  // namespace veil::proxy
