#include <catch2/catch.hpp>

#include <string>

#include "head_scanner.hpp"

using veil::proxy::HeadScanner;
using veil::proxy::Limits;

namespace {

struct Scan {
  HeadScanner::Result result;
  unsigned status;
};

Scan scan(const std::string& head, const Limits& limits = Limits{}) {
  HeadScanner scanner(limits);
  const auto result = scanner.scan(head);
  return {result, scanner.status()};
}

}  // namespace

TEST_CASE("a normal head completes at the empty line") {
  HeadScanner scanner(Limits{});
  const std::string head = "GET / HTTP/1.1\r\nHost: a\r\n\r\nNEXT";
  REQUIRE(scanner.scan(head) == HeadScanner::Result::complete);
  CHECK(scanner.head_size() == head.size() - 4);
}

TEST_CASE("the scan is incremental across arbitrary splits") {
  const std::string head = "GET /x HTTP/1.1\r\nHost: a\r\nCookie: c=1\r\n\r\n";
  for (std::size_t split = 1; split < head.size(); ++split) {
    INFO("split at " << split);
    HeadScanner scanner(Limits{});
    REQUIRE(scanner.scan(head.substr(0, split)) == HeadScanner::Result::incomplete);
    REQUIRE(scanner.scan(head) == HeadScanner::Result::complete);
    CHECK(scanner.head_size() == head.size());
  }
}

TEST_CASE("line and size limits map to 414 and 431") {
  Limits limits;
  const std::string long_target(limits.request_line_bytes, 'a');
  CHECK(scan("GET /" + long_target + " HTTP/1.1\r\nHost: a\r\n\r\n").status == 414);
  CHECK(scan("GET /" + long_target).status == 414);  // rejected before the line ends
  CHECK(scan("GET / HTTP/1.1\r\nX: " + std::string(limits.header_line_bytes, 'v') + "\r\n\r\n")
            .status == 431);
  std::string many = "GET / HTTP/1.1\r\n";
  for (std::size_t i = 0; i <= limits.header_fields; ++i)
    many += "X-" + std::to_string(i) + ": 1\r\n";
  CHECK(scan(many + "\r\n").status == 431);
  std::string big = "GET / HTTP/1.1\r\n";
  while (big.size() <= limits.header_total_bytes)
    big += "Cookie: " + std::string(4000, 'c') + "\r\n";
  CHECK(scan(big).status == 431);
}

TEST_CASE("exactly at the limits is accepted") {
  Limits limits;
  limits.header_fields = 3;
  CHECK(scan("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits).result ==
        HeadScanner::Result::complete);
  CHECK(scan("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", limits).status == 431);
}

TEST_CASE("obs-fold and bare LF are rejected with 400") {
  CHECK(scan("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n  folded\r\n\r\n").status == 400);
  CHECK(scan("GET / HTTP/1.1\r\nTransfer-Encoding:\r\n\tchunked\r\n\r\n").status == 400);
  CHECK(scan("GET / HTTP/1.1\nHost: a\r\n\r\n").status == 400);
  CHECK(scan("GET / HTTP/1.1\r\nHost: a\n\r\n").status == 400);
}

TEST_CASE("versions other than 1.0 and 1.1 get 505, garbage 400") {
  CHECK(scan("GET / HTTP/2.0\r\n\r\n").status == 505);
  CHECK(scan("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").status == 505);
  CHECK(scan("GET / HTTP/1.2\r\n\r\n").status == 505);
  CHECK(scan("GET /\r\n\r\n").status == 400);
  CHECK(scan("GET / HTTP/1.10\r\n\r\n").status == 400);
  CHECK(scan("GET / HTTP/1.0\r\n\r\n").result == HeadScanner::Result::complete);
}

TEST_CASE("leading empty lines are skippable") {
  CHECK(veil::proxy::leading_empty_lines("\r\n\r\nGET") == 4);
  CHECK(veil::proxy::leading_empty_lines("GET") == 0);
}
