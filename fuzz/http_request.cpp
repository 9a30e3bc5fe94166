// libFuzzer target: the proxy's request path up to the origin, as the session runs it: empty lines
// skipped, the head scanner fed in arbitrary pieces, Beast's request parser with the session's
// limits, the semantic checks, then the forwarded head as the session builds it, and the body.
// Beyond "no crash, no UB", it checks: the scanner's verdict does not depend on how the bytes
// arrive; an accepted head respects every limit and has exactly one framing (none, one
// Content-Length, or exactly `chunked`) and one Host; a body never exceeds its limit or its length;
// and the head veil forwards is itself accepted by the same checks with the same method, target,
// Host and framing (what the origin reads is what veil checked).
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "forwarding.hpp"
#include "head_scanner.hpp"
#include "request_checks.hpp"

namespace http = boost::beast::http;
using namespace veil::proxy;

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

bool one_of(unsigned status, std::initializer_list<unsigned> statuses) {
  return std::find(statuses.begin(), statuses.end(), status) != statuses.end();
}

Limits limits_for(std::uint8_t selector) {
  Limits limits;
  if (selector & 1) {  // small limits, so inputs of a few hundred bytes reach every limit
    limits.request_line_bytes = 48;
    limits.header_line_bytes = 40;
    limits.header_total_bytes = 200;
    limits.header_fields = 4;
    limits.request_body_bytes = 32;
  }
  return limits;
}

// Scans `data` as it would arrive in pieces of `step` bytes.
HeadScanner::Result scan_in_pieces(HeadScanner& scanner, std::string_view data, std::size_t step) {
  scanner.reset();
  for (std::size_t end = std::min(step, data.size());; end = std::min(end + step, data.size())) {
    const auto result = scanner.scan(data.substr(0, end));
    if (result != HeadScanner::Result::incomplete || end == data.size()) return result;
  }
}

struct Accepted {
  RequestHead head;
  BodyFraming framing;
  std::uint64_t length = 0;
  bool upgrade = false;
};

// The session's path for one complete head; nullopt if it is rejected (with a valid status).
// `parser` is left ready for the body.
std::optional<Accepted> accept_head(std::string_view head, const Limits& limits,
                                    http::request_parser<http::buffer_body>& parser) {
  parser.header_limit(static_cast<std::uint32_t>(limits.header_total_bytes + 2));
  parser.body_limit(limits.request_body_bytes);
  boost::system::error_code error;
  const std::size_t consumed = parser.put(boost::asio::buffer(head.data(), head.size()), error);
  if (error) {
    require(one_of(rejection_for_parse_error(error).status, {400, 413, 431, 505}));
    return std::nullopt;
  }
  if (consumed != head.size() || !parser.is_header_done()) return std::nullopt;

  Accepted accepted{parser.get().base(), BodyFraming::none};
  if (const auto rejection = check_request_head(accepted.head)) {
    require(one_of(rejection->status, {400, 501}));
    return std::nullopt;
  }
  if (!parser.is_done()) {
    accepted.framing = parser.chunked() ? BodyFraming::chunked : BodyFraming::content_length;
    if (accepted.framing == BodyFraming::content_length) accepted.length = *parser.content_length();
  }
  accepted.upgrade = parser.upgrade();
  return accepted;
}

// Invariants of a head the session would serve.
void check_accepted(const Accepted& accepted, const Limits& limits) {
  const RequestHead& head = accepted.head;
  require(head.version() == 10 || head.version() == 11);
  require(head.method() != http::verb::connect);
  require(head.count(http::field::host) <= 1);
  require(head.version() == 10 || head.count(http::field::host) == 1);
  require(head.count(http::field::content_length) <= 1);
  require(head.count(http::field::transfer_encoding) <= 1);
  require(head.count(http::field::content_length) == 0 ||
          head.count(http::field::transfer_encoding) == 0);
  const std::string_view target = head.target();
  require(!target.empty() && (target.front() == '/' || target == "*"));
  switch (accepted.framing) {
    case BodyFraming::chunked: {
      std::string coding(head[http::field::transfer_encoding]);
      for (char& c : coding) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      require(coding == "chunked");
      break;
    }
    case BodyFraming::content_length:
      require(head.count(http::field::content_length) == 1);
      require(accepted.length > 0 && accepted.length <= limits.request_body_bytes);
      break;
    case BodyFraming::none:
      require(head.count(http::field::transfer_encoding) == 0);
      break;
  }
  (void)host_without_port(head[http::field::host]);
}

// The upstream the forwarded head is prepared for, and the Host it gets when the request had none.
const Upstream& fuzz_upstream() {
  static const Upstream upstream{
      .name = "origin", .host = "origin.example", .port = 8080, .server_names = {}};
  return upstream;
}
constexpr std::string_view kUpstreamAuthority = "origin.example:8080";

// The head the session forwards (with no client-address fields: they need a connection).
std::string forwarded_head(const Accepted& accepted) {
  ForwardedShape shape;
  shape.upgrade = accepted.upgrade;
  shape.framing = accepted.framing;
  shape.content_length = accepted.length;
  ForwardingContext context;
  context.mode = ForwardClientIp::none;
  std::string out;
  serialise_forwarded_request(accepted.head, fuzz_upstream(), shape, context, out);
  return out;
}

// What the origin reads from the forwarded head must be what veil checked.
void check_forwarded(const Accepted& accepted, const Limits& limits) {
  const std::string bytes = forwarded_head(accepted);
  Limits roomy = limits;  // veil's own fields may push a head at the limits over them
  roomy.request_line_bytes = roomy.header_line_bytes = roomy.header_total_bytes = 1 << 20;
  roomy.header_fields = 1 << 16;
  HeadScanner scanner(roomy);
  require(scanner.scan(bytes) == HeadScanner::Result::complete);
  require(scanner.head_size() == bytes.size());

  http::request_parser<http::buffer_body> parser;
  const auto again = accept_head(bytes, roomy, parser);
  require(again.has_value());
  require(again->head.method_string() == accepted.head.method_string());
  require(again->head.target() == accepted.head.target());
  const auto host = accepted.head.find(http::field::host);
  require(again->head[http::field::host] ==
          (host == accepted.head.end() ? kUpstreamAuthority : std::string_view(host->value())));
  require(again->framing == accepted.framing);
  require(again->length == accepted.length);
}

// Feeds the body as the session does, through a bounded buffer.
void check_body(std::string_view rest, const Accepted& accepted, const Limits& limits,
                http::request_parser<http::buffer_body>& parser) {
  std::array<char, 64> piece;
  std::uint64_t total = 0;
  while (!parser.is_done()) {
    auto& body = parser.get().body();
    body.data = piece.data();
    body.size = piece.size();
    boost::system::error_code error;
    const std::size_t consumed = parser.put(boost::asio::buffer(rest.data(), rest.size()), error);
    if (error == http::error::need_buffer) error = {};
    const std::size_t got = piece.size() - body.size;
    total += got;
    rest.remove_prefix(consumed);
    if (error || (consumed == 0 && got == 0)) break;  // rejected, or waiting for more bytes
  }
  require(total <= limits.request_body_bytes);
  if (accepted.framing == BodyFraming::content_length) require(total <= accepted.length);
  if (parser.is_done() && accepted.framing == BodyFraming::content_length) {
    require(total == accepted.length);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const Limits limits = limits_for(data[0]);
  const std::size_t step = 1 + data[1] % 64;
  std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);
  input.remove_prefix(leading_empty_lines(input));

  HeadScanner whole(limits);
  const auto verdict = whole.scan(input);
  HeadScanner pieces(limits);
  require(scan_in_pieces(pieces, input, step) == verdict);
  if (verdict == HeadScanner::Result::rejected) {
    require(pieces.status() == whole.status());
    require(one_of(whole.status(), {400, 414, 431, 505}));
    return 0;
  }
  if (verdict == HeadScanner::Result::incomplete) return 0;
  require(pieces.head_size() == whole.head_size());
  const std::size_t head_size = whole.head_size();
  require(head_size <= limits.header_total_bytes);
  require(input.substr(head_size - 4, 4) == "\r\n\r\n");

  http::request_parser<http::buffer_body> parser;
  const auto accepted = accept_head(input.substr(0, head_size), limits, parser);
  if (!accepted) return 0;
  check_accepted(*accepted, limits);
  check_forwarded(*accepted, limits);
  check_body(input.substr(head_size), *accepted, limits, parser);
  return 0;
}
