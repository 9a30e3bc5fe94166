#include <catch2/catch.hpp>

#include <boost/json.hpp>
#include <chrono>
#include <string>

#include "access_log_line.hpp"
#include "veil/proxy/access_log_record.hpp"

using veil::anonymiser::LogFormat;
using veil::proxy::AccessRecord;
using veil::proxy::detail::append_raw_access_line;

namespace {

// 2026-11-23 09:36:15 UTC
const auto kTime = std::chrono::system_clock::time_point(std::chrono::seconds(1795426575));

AccessRecord sample_record() {
  AccessRecord record;
  record.client_address = "203.0.113.7";
  record.time = kTime;
  record.method = "GET";
  record.target = "/bins-and-recycling?postcode=AB1+2CD";
  record.protocol = "HTTP/1.1";
  record.status = 200;
  record.body_bytes_sent = 10240;
  record.referrer = "https://www.example.gov.uk/";
  record.user_agent = "Mozilla/5.0 (X11; Linux x86_64)";
  record.forwarded_for = "198.51.100.1, 203.0.113.7";
  record.upstream = "council";
  record.duration = std::chrono::microseconds(2345);
  return record;
}

std::string raw_line(const AccessRecord& record, LogFormat format) {
  std::string out;
  append_raw_access_line(record, format, out);
  return out;
}

}  // namespace

TEST_CASE("combined lines have nginx's field layout with the time in UTC", "[access_log]") {
  CHECK(raw_line(sample_record(), LogFormat::combined) ==
        "203.0.113.7 - - [23/Nov/2026:09:36:15 +0000] \"GET /bins-and-recycling?postcode=AB1+2CD "
        "HTTP/1.1\" 200 10240 \"https://www.example.gov.uk/\" \"Mozilla/5.0 (X11; Linux x86_64)\"");
}

TEST_CASE("combined lines log absent fields as '-' and zero bytes as 0", "[access_log]") {
  auto record = sample_record();
  record.referrer = {};
  record.user_agent = {};
  record.body_bytes_sent = 0;
  record.status = 304;
  const auto line = raw_line(record, LogFormat::combined);
  CHECK_THAT(line, Catch::EndsWith("\" 304 0 \"-\" \"-\""));
}

TEST_CASE("combined fields cannot break out of their quotes or the line", "[access_log]") {
  auto record = sample_record();
  record.target = "/a\"b\\c\nd\x7f\xc3\xa9";
  record.user_agent = "evil\" 200 0 \"x";
  const auto line = raw_line(record, LogFormat::combined);
  CHECK_THAT(line, Catch::Contains("\"GET /a\\x22b\\x5Cc\\x0Ad\\x7F\\xC3\\xA9 HTTP/1.1\""));
  CHECK_THAT(line, Catch::EndsWith("\"evil\\x22 200 0 \\x22x\""));
  CHECK(line.find('\n') == std::string::npos);
}

TEST_CASE("JSON lines carry nginx variable names and parse", "[access_log]") {
  const auto line = raw_line(sample_record(), LogFormat::json);
  CHECK(line ==
        "{\"time_iso8601\":\"2026-11-23T09:36:15+00:00\",\"remote_addr\":\"203.0.113.7\","
        "\"request_method\":\"GET\",\"request_uri\":\"/bins-and-recycling?postcode=AB1+2CD\","
        "\"server_protocol\":\"HTTP/1.1\",\"status\":200,\"body_bytes_sent\":10240,"
        "\"http_referer\":\"https://www.example.gov.uk/\","
        "\"http_user_agent\":\"Mozilla/5.0 (X11; Linux x86_64)\","
        "\"http_x_forwarded_for\":\"198.51.100.1, 203.0.113.7\",\"upstream\":\"council\","
        "\"request_time\":0.002}");
  const auto parsed = boost::json::parse(line).as_object();
  CHECK(parsed.at("status").as_int64() == 200);
  CHECK(parsed.at("request_time").as_double() == Approx(0.002));
}

TEST_CASE("JSON strings are escaped and always valid UTF-8", "[access_log]") {
  auto record = sample_record();
  record.target = "/q\"\\\n\t\x01\xc3\xa9";
  record.user_agent =
      "bad \xff\xc3 bytes \xed\xa0\x80";  // stray bytes, a truncated sequence, a surrogate
  record.referrer = {};
  record.duration = std::chrono::microseconds(12'345'678);
  const auto line = raw_line(record, LogFormat::json);
  CHECK_THAT(line, Catch::Contains("\"request_uri\":\"/q\\\"\\\\\\n\\t\\u0001\xc3\xa9\""));
  CHECK_THAT(line, Catch::Contains("\"http_user_agent\":\"bad \\ufffd\\ufffd bytes "
                                   "\\ufffd\\ufffd\\ufffd\""));
  CHECK_THAT(line, Catch::Contains("\"http_referer\":\"\""));
  CHECK_THAT(line, Catch::Contains("\"request_time\":12.345}"));
  const auto parsed = boost::json::parse(line).as_object();
  CHECK(parsed.at("request_uri").as_string() == "/q\"\\\n\t\x01\xc3\xa9");
}
