#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "veil/anonymiser/gzip_codec.hpp"

using veil::anonymiser::GzipDecoder;
using veil::anonymiser::GzipEncoder;

namespace {

std::string sample_page() {
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "<p>line " + std::to_string(i) + "</p>\n";
  return text;
}

std::string compress(std::string_view text) {
  GzipEncoder encoder;
  std::string compressed;
  for (std::size_t at = 0; at < text.size(); at += 1000)
    encoder.encode(text.substr(at, 1000), compressed);
  encoder.finish(compressed);
  return compressed;
}

}  // namespace

TEST_CASE("gzip round trip, pushed in pieces of any size", "[gzip]") {
  const std::string text = sample_page();
  const std::string compressed = compress(text);
  CHECK(compressed.size() < text.size() / 3);
  for (std::size_t piece : {1, 17, 4096, 1 << 20}) {
    GzipDecoder decoder;
    std::string decoded;
    for (std::size_t at = 0; at < compressed.size(); at += piece) {
      decoder.decode(std::string_view(compressed).substr(at, piece), decoded);
    }
    CHECK_NOTHROW(decoder.finish());
    CHECK(decoded == text);
  }
}

TEST_CASE("gzip pulled into a small buffer gives the same bytes", "[gzip]") {
  const std::string text = sample_page();
  const std::string compressed = compress(text);
  GzipDecoder decoder;
  decoder.give_input(compressed.data(), compressed.size());
  std::string decoded;
  char buffer[100];
  while (!decoder.needs_input()) decoded.append(buffer, decoder.decode(buffer, sizeof buffer));
  CHECK(decoder.between_members());
  CHECK(decoded == text);
}

TEST_CASE("gzip: concatenated members decode as one stream", "[gzip]") {
  const std::string both = compress("first\n") + compress("second\n");
  GzipDecoder decoder;
  std::string decoded;
  decoder.decode(both, decoded);
  CHECK_NOTHROW(decoder.finish());
  CHECK(decoded == "first\nsecond\n");
}

TEST_CASE("gzip: sync_flush makes everything so far decodable", "[gzip]") {
  GzipEncoder encoder;
  std::string compressed;
  encoder.encode("<html><body>streamed", compressed);
  encoder.sync_flush(compressed);
  GzipDecoder decoder;
  std::string decoded;
  decoder.decode(compressed, decoded);
  CHECK(decoded == "<html><body>streamed");
  CHECK_THROWS_WITH(decoder.finish(), Catch::Contains("truncated"));  // no trailer yet
}

TEST_CASE("gzip: truncated, corrupt and empty input", "[gzip]") {
  const std::string compressed = compress(sample_page());
  std::string out;
  GzipDecoder truncated;
  truncated.decode(std::string_view(compressed).substr(0, compressed.size() / 2), out);
  CHECK_FALSE(truncated.between_members());
  CHECK_THROWS_WITH(truncated.finish(), Catch::Contains("truncated gzip data"));
  GzipDecoder garbage;
  CHECK_THROWS_WITH(garbage.decode("this is not gzip at all", out),
                    Catch::Contains("corrupt gzip data"));
  GzipDecoder nothing;
  CHECK_NOTHROW(nothing.finish());  // an empty body is a clean end
}
