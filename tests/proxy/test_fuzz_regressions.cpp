// Inputs found by the proxy's fuzz targets in fuzz/ (one case per finding), kept so the fixes stay
// fixed. The anonymiser's sit with the tests of the code they fixed, tagged [fuzz_regressions].
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "head_scanner.hpp"
#include "veil/proxy/html_rewriter.hpp"

using namespace veil::proxy;

namespace {

// The status the scanner gives `head` when it arrives whole and when it arrives cut at `split`.
std::pair<unsigned, unsigned> statuses_whole_and_split(const std::string& head, std::size_t split,
                                                       const Limits& limits) {
  HeadScanner whole(limits);
  REQUIRE(whole.scan(head) == HeadScanner::Result::rejected);
  HeadScanner pieces(limits);
  auto result = pieces.scan(head.substr(0, split));
  if (result == HeadScanner::Result::incomplete) result = pieces.scan(head);
  REQUIRE(result == HeadScanner::Result::rejected);
  return {whole.status(), pieces.status()};
}

}  // namespace

// fuzz_http_request: a request line over its limit that ended in a bare LF got 400 when it arrived
// whole but 414 when its start arrived first; the length checks now come first either way.
TEST_CASE("a line over its limit without CRLF gets the same status however it arrives",
          "[fuzz_regressions]") {
  Limits limits;
  limits.request_line_bytes = 48;
  limits.header_line_bytes = 40;
  limits.header_total_bytes = 200;

  const std::string long_request_line =
      "POST /p HTTP/\xb1.1\r" + std::string(38, '\0') + "\nHost: a\r\n\r\n";
  const std::string long_field_line = "GET / HTTP/1.1\r\nX: " + std::string(45, 'x') + "\n\r\n";
  std::string over_total = "GET / HTTP/1.1\r\n";
  for (int field = 0; field < 4; ++field) over_total += "X: " + std::string(35, 'x') + "\r\n";
  over_total += "Y: " + std::string(37, 'y') + "\n\r\n";  // within its line limit, past the total
  for (const auto& [head, status] :
       {std::pair{long_request_line, 414u}, {long_field_line, 431u}, {over_total, 431u}}) {
    for (std::size_t split = 1; split < head.size(); ++split) {
      INFO("split at " << split);
      const auto [whole, pieces] = statuses_whole_and_split(head, split, limits);
      CHECK(whole == status);
      CHECK(pieces == status);
    }
  }
}

// fuzz_html_rewriter: the fast skip over a tag of no interest ended its name at '=', so that in
// `<ip=c="` the '"' opened an attribute value that swallowed the next tags, and a blocked script's
// src survived when the page came in one piece (not when the name was cut by a chunk end).
TEST_CASE("a tag name with '=' and '\"' does not hide the tags after it", "[fuzz_regressions]") {
  const std::string page = "<ip\x8f\xdfsrc=c=\"><script src=//tracker.example/t.js></script>";
  HtmlRewriter rewriter(HtmlRewriterOptions{});
  int scripts = 0;
  rewriter.on_element({HtmlTag::script}, [&](HtmlElement& script) {
    ++scripts;
    CHECK(script.attribute("src") == std::optional<std::string_view>("//tracker.example/t.js"));
    script.remove_attribute("src");
  });
  std::string out;
  rewriter.write(page, out);
  rewriter.end(out);
  CHECK(scripts == 1);
  CHECK(out.starts_with("<ip\x8f\xdfsrc=c=\"><script"));
  CHECK(out.find("tracker.example") == std::string::npos);
}
