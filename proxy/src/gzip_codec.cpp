#include "veil/proxy/gzip_codec.hpp"

#include <zlib.h>

#include <array>
#include <stdexcept>

namespace veil::proxy {
namespace {

constexpr int kGzipWindowBits = 15 + 16;  // 32 KiB window, gzip header and trailer
constexpr std::size_t kBlock = 16 * 1024;

std::string zlib_error(std::string_view what, const z_stream& stream) {
  return std::string(what) + ": " + (stream.msg != nullptr ? stream.msg : "corrupt data");
}

}  // namespace

struct GzipDecoder::Stream {
  z_stream z{};
  bool in_member = false;  // inside a member (between its header and trailer)
  Stream() {
    if (inflateInit2(&z, kGzipWindowBits) != Z_OK) throw std::runtime_error("inflateInit2 failed");
  }
  ~Stream() { inflateEnd(&z); }
};

GzipDecoder::GzipDecoder() : stream_(std::make_unique<Stream>()) {}
GzipDecoder::~GzipDecoder() = default;

void GzipDecoder::decode(std::string_view chunk, std::string& out) {
  if (chunk.empty()) return;
  auto& z = stream_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(chunk.data()));
  z.avail_in = static_cast<uInt>(chunk.size());
  stream_->in_member = true;
  std::array<unsigned char, kBlock> buffer;
  do {
    z.next_out = buffer.data();
    z.avail_out = buffer.size();
    const int result = inflate(&z, Z_NO_FLUSH);
    out.append(reinterpret_cast<const char*>(buffer.data()), buffer.size() - z.avail_out);
    if (result == Z_STREAM_END) {
      stream_->in_member = false;
      if (z.avail_in == 0) break;
      inflateReset(&z);  // another member follows
      stream_->in_member = true;
      z.avail_out = 0;  // go round again
    } else if (result == Z_BUF_ERROR && z.avail_out != 0) {
      break;  // everything consumed, nothing more to produce yet
    } else if (result != Z_OK && result != Z_BUF_ERROR) {
      throw std::runtime_error(zlib_error("gzip response body", z));
    }
  } while (z.avail_in > 0 || z.avail_out == 0);
}

void GzipDecoder::finish() const {
  if (stream_->in_member) throw std::runtime_error("gzip response body: truncated");
}

struct GzipEncoder::Stream {
  z_stream z{};
  explicit Stream(int level) {
    if (deflateInit2(&z, level, Z_DEFLATED, kGzipWindowBits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      throw std::runtime_error("deflateInit2 failed");
    }
  }
  ~Stream() { deflateEnd(&z); }

  void run(std::string_view input, int flush, std::string& out) {
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
    z.avail_in = static_cast<uInt>(input.size());
    std::array<unsigned char, kBlock> buffer;
    do {
      z.next_out = buffer.data();
      z.avail_out = buffer.size();
      deflate(&z, flush);
      out.append(reinterpret_cast<const char*>(buffer.data()), buffer.size() - z.avail_out);
    } while (z.avail_out == 0);
  }
};

GzipEncoder::GzipEncoder(int level) : stream_(std::make_unique<Stream>(level)) {}
GzipEncoder::~GzipEncoder() = default;

void GzipEncoder::encode(std::string_view chunk, std::string& out) {
  if (!chunk.empty()) stream_->run(chunk, Z_SYNC_FLUSH, out);
}

void GzipEncoder::finish(std::string& out) {
  stream_->run({}, Z_FINISH, out);
}

}  // namespace veil::proxy
