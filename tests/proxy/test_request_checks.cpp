#include <catch2/catch.hpp>

#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <optional>
#include <string>

#include "request_checks.hpp"

namespace http = boost::beast::http;
using veil::proxy::check_request_head;
using veil::proxy::RequestHead;

namespace {

// Parses a head with Beast as the session does; returns the status the proxy answers (0 =
// accepted).
unsigned status_for(const std::string& raw, RequestHead* out = nullptr) {
  http::request_parser<http::buffer_body> parser;
  parser.header_limit(64 * 1024);
  parser.body_limit(1024 * 1024);
  boost::system::error_code error;
  parser.put(boost::asio::buffer(raw), error);
  if (error) return veil::proxy::rejection_for_parse_error(error).status;
  REQUIRE(parser.is_header_done());
  RequestHead head = parser.get().base();
  const auto rejection = check_request_head(head);
  if (out) *out = head;
  return rejection ? rejection->status : 0;
}

std::string with(const std::string& fields, const std::string& start = "POST / HTTP/1.1") {
  return start + "\r\n" + fields + "\r\n";
}

}  // namespace

TEST_CASE("Transfer-Encoding must be exactly chunked") {
  CHECK(status_for(with("Host: a\r\nTransfer-Encoding: chunked\r\n")) == 0);
  CHECK(status_for(with("Host: a\r\nTransfer-Encoding: CHUNKED\r\n")) == 0);
  CHECK(status_for(with("Host: a\r\nTransfer-Encoding: chunked, gzip\r\n")) == 400);
  CHECK(status_for(with("Host: a\r\nTransfer-Encoding: gzip\r\n")) == 400);
  CHECK(status_for(with("Host: a\r\nTransfer-Encoding: xchunked\r\n")) == 501);
  CHECK(status_for(with("Host: a\r\nTransfer-Encoding: gzip, chunked\r\n")) == 501);
  CHECK(status_for(with("Host: a\r\nTransfer-Encoding: ,chunked\r\n")) == 400);
  CHECK(status_for(with(
            "Host: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n")) == 400);
}

TEST_CASE("Transfer-Encoding with Content-Length, or in HTTP/1.0, is refused") {
  CHECK(status_for(with("Host: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n")) == 400);
  CHECK(status_for(with("Host: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n")) == 400);
  CHECK(status_for(with("Host: a\r\nTransfer-Encoding: xchunked\r\nContent-Length: 5\r\n")) == 400);
  CHECK(status_for(with("Host: a\r\nTransfer-Encoding: chunked\r\n", "POST / HTTP/1.0")) == 400);
}

TEST_CASE("Content-Length duplicates and lists are refused") {
  CHECK(status_for(with("Host: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n")) == 400);
  CHECK(status_for(with("Host: a\r\nContent-Length: 5, 5\r\n")) == 400);
  CHECK(status_for(with("Host: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n")) == 400);
  CHECK(status_for(with("Host: a\r\nContent-Length: -1\r\n")) == 400);
  CHECK(status_for(with("Host: a\r\nContent-Length: 2000000\r\n")) == 413);
  CHECK(status_for(with("Host: a\r\nContent-Length: 5\r\n")) == 0);
}

TEST_CASE("exactly one valid Host in HTTP/1.1") {
  CHECK(status_for(with("X: 1\r\n", "GET / HTTP/1.1")) == 400);
  CHECK(status_for(with("Host: a\r\nHost: b\r\n", "GET / HTTP/1.1")) == 400);
  CHECK(status_for(with("Host: a b\r\n", "GET / HTTP/1.1")) == 400);
  CHECK(status_for(with("Host: user@a\r\n", "GET / HTTP/1.1")) == 400);
  CHECK(status_for(with("X: 1\r\n", "GET / HTTP/1.0")) == 0);
  CHECK(status_for(with("Host: [::1]:8080\r\n", "GET / HTTP/1.1")) == 0);
}

TEST_CASE("CONNECT and malformed targets are refused") {
  CHECK(status_for(with("Host: a:443\r\n", "CONNECT a:443 HTTP/1.1")) == 400);
  CHECK(status_for(with("Host: a\r\n", "GET * HTTP/1.1")) == 400);
  CHECK(status_for(with("Host: a\r\n", "OPTIONS * HTTP/1.1")) == 0);
  CHECK(status_for(with("Host: a\r\n", "GET a/b HTTP/1.1")) == 400);
}

TEST_CASE("methods are upper-case tokens, as nginx requires") {
  CHECK(status_for(with("Host: a\r\n", "get / HTTP/1.1")) == 400);
  CHECK(status_for(with("Host: a\r\n", "Get / HTTP/1.1")) == 400);
  CHECK(status_for(with("Host: a\r\n", "G3T / HTTP/1.1")) == 400);
  CHECK(status_for(with("Host: a\r\n", "PROPFIND / HTTP/1.1")) == 0);
  CHECK(status_for(with("Host: a\r\n", "M-SEARCH / HTTP/1.1")) == 0);
  CHECK(status_for(with("Host: a\r\n", "X_CUSTOM / HTTP/1.1")) == 0);
}

TEST_CASE("absolute-form target must agree with Host and becomes origin-form") {
  RequestHead head;
  CHECK(status_for(with("Host: b.example\r\n", "GET http://a.example/x HTTP/1.1")) == 400);
  REQUIRE(status_for(with("Host: A.example\r\n", "GET http://a.example?q=1 HTTP/1.1"), &head) == 0);
  CHECK(head.target() == "/?q=1");
  CHECK(head[http::field::host] == "a.example");
  REQUIRE(status_for(with("X: 1\r\n", "GET http://c.example:81/p HTTP/1.0"), &head) == 0);
  CHECK(head[http::field::host] == "c.example:81");
  CHECK(head.target() == "/p");
}

TEST_CASE("Beast's own parse errors map to statuses") {
  CHECK(status_for("GET / HTTP/1.1\r\nHost : a\r\n\r\n") == 400);  // space before colon
  CHECK(status_for("G(T / HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
  CHECK(status_for(with("Host: a\r\nX: a\rb\r\n", "GET / HTTP/1.1")) == 400);
}

TEST_CASE("host_without_port lower-cases and strips the port") {
  CHECK(veil::proxy::host_without_port("WWW.Example.org:8080") == "www.example.org");
  CHECK(veil::proxy::host_without_port("[::1]:80") == "[::1]");
  CHECK(veil::proxy::host_without_port("a") == "a");
}
