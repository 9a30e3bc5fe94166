#include "veil/anonymiser/gzip_codec.hpp"

#include <zlib.h>

#include <algorithm>
#include <stdexcept>

namespace veil::anonymiser {
namespace {

constexpr int kGzipWindowBits = 15 + 16;  // 32 KiB window, gzip wrapper
constexpr std::size_t kEncodeChunk = 64 * 1024;
constexpr std::size_t kDecodeChunk = 16 * 1024;

std::string zlib_message(const z_stream& stream, int code) {
  if (stream.msg != nullptr) return stream.msg;
  return code == Z_MEM_ERROR ? "out of memory" : "zlib error " + std::to_string(code);
}

}  // namespace

struct GzipDecoder::Impl {
  z_stream stream{};
  bool started = false;  // some input was given
  bool member_ended = false;
};

GzipDecoder::GzipDecoder() : impl_(std::make_unique<Impl>()) {
  if (inflateInit2(&impl_->stream, kGzipWindowBits) != Z_OK) {
    throw std::runtime_error("cannot initialise the gzip decoder");
  }
}

GzipDecoder::~GzipDecoder() {
  inflateEnd(&impl_->stream);
}

void GzipDecoder::give_input(const char* data, std::size_t size) {
  impl_->stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
  impl_->stream.avail_in = static_cast<uInt>(size);
  impl_->started = impl_->started || size > 0;
}

bool GzipDecoder::needs_input() const {
  return impl_->stream.avail_in == 0;
}

bool GzipDecoder::between_members() const {
  return impl_->member_ended || !impl_->started;
}

std::size_t GzipDecoder::decode(char* out, std::size_t capacity) {
  z_stream& stream = impl_->stream;
  stream.next_out = reinterpret_cast<Bytef*>(out);
  stream.avail_out = static_cast<uInt>(capacity);
  while (stream.avail_out > 0 && stream.avail_in > 0) {
    if (impl_->member_ended) {  // another member follows: concatenated gzip files
      inflateReset(&stream);
      impl_->member_ended = false;
    }
    int code = inflate(&stream, Z_NO_FLUSH);
    if (code == Z_STREAM_END) {
      impl_->member_ended = true;
    } else if (code == Z_BUF_ERROR) {
      break;
    } else if (code != Z_OK) {
      throw std::runtime_error("corrupt gzip data: " + zlib_message(stream, code));
    }
  }
  return capacity - stream.avail_out;
}

void GzipDecoder::decode(std::string_view input, std::string& out) {
  give_input(input.data(), input.size());
  while (!needs_input()) {
    const std::size_t used = out.size();
    out.resize(used + kDecodeChunk);
    const std::size_t produced = decode(out.data() + used, kDecodeChunk);
    out.resize(used + produced);
    if (produced == 0) break;  // no progress possible (Z_BUF_ERROR): stop rather than spin
  }
}

void GzipDecoder::finish() const {
  if (!between_members()) throw std::runtime_error("truncated gzip data");
}

struct GzipEncoder::Impl {
  z_stream stream{};

  // Runs deflate over the pending input with `flush`, appending all it produces to `out`.
  int drain(int flush, std::string& out) {
    int code;
    do {
      std::size_t used = out.size();
      out.resize(used + kEncodeChunk);
      stream.next_out = reinterpret_cast<Bytef*>(out.data() + used);
      stream.avail_out = static_cast<uInt>(kEncodeChunk);
      code = deflate(&stream, flush);
      out.resize(out.size() - stream.avail_out);
      if (code == Z_STREAM_ERROR) throw std::runtime_error("gzip encoder failed");
    } while (stream.avail_out == 0 || (flush == Z_FINISH && code != Z_STREAM_END));
    return code;
  }
};

GzipEncoder::GzipEncoder() : impl_(std::make_unique<Impl>()) {
  if (deflateInit2(&impl_->stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, kGzipWindowBits, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("cannot initialise the gzip encoder");
  }
}

GzipEncoder::~GzipEncoder() {
  deflateEnd(&impl_->stream);
}

void GzipEncoder::encode(std::string_view data, std::string& out) {
  constexpr std::size_t kMaxPerCall = 1u << 30;  // zlib counts input in 32-bit units
  while (!data.empty()) {
    std::size_t size = std::min(data.size(), kMaxPerCall);
    impl_->stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    impl_->stream.avail_in = static_cast<uInt>(size);
    impl_->drain(Z_NO_FLUSH, out);
    data.remove_prefix(size);
  }
}

void GzipEncoder::sync_flush(std::string& out) {
  impl_->drain(Z_SYNC_FLUSH, out);
}

void GzipEncoder::finish(std::string& out) {
  impl_->drain(Z_FINISH, out);
  deflateReset(&impl_->stream);
}

}  // namespace veil::anonymiser
