#include <catch2/catch.hpp>

#include <boost/json.hpp>
#include <chrono>
#include <string>

#include "access_log_line.hpp"
#include "veil/anonymiser/line_anonymiser.hpp"
#include "veil/proxy/access_log.hpp"
#include "veil/proxy/access_log_record.hpp"

using veil::anonymiser::AnonymiseSettings;
using veil::anonymiser::LineAnonymiser;
using veil::anonymiser::LogFormat;
using veil::anonymiser::MasterKey;
using veil::anonymiser::Method;
using veil::anonymiser::Rotation;
using veil::proxy::AccessLogFormatter;
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

namespace {

MasterKey test_key(std::size_t bytes) {
  MasterKey key;
  for (std::size_t i = 0; i < bytes; ++i) key.bytes.push_back(static_cast<std::uint8_t>(i * 7 + 1));
  return key;
}

AnonymiseSettings settings_for(Method method, Rotation rotation) {
  AnonymiseSettings settings;
  settings.method = method;
  settings.rotation = rotation;
  return settings;
}

// What `veil anonymise` does to the same raw line: a LineAnonymiser with the same settings and key.
std::string anonymised_offline(const AnonymiseSettings& settings, LogFormat format,
                               const MasterKey& key, const AccessRecord& record) {
  std::string raw;
  append_raw_access_line(record, format, raw);
  LineAnonymiser offline(settings, format, key);
  std::string out;
  offline.anonymise_line(raw, out);
  return out;
}

}  // namespace

TEST_CASE("a line written by the proxy equals the raw line anonymised offline", "[access_log]") {
  const auto method = GENERATE(Method::truncate, Method::hash, Method::cryptopan, Method::ipcrypt);
  const auto rotation = GENERATE(Rotation::never, Rotation::daily);
  const auto format = GENERATE(LogFormat::combined, LogFormat::json);
  const auto settings = settings_for(method, rotation);
  const auto key = test_key(veil::anonymiser::key_bytes_for(method));
  AccessLogFormatter formatter(settings, format, key);

  auto record = sample_record();
  const std::string ipv6 = "2001:db8:85a3::8a2e:370:7334";
  for (const auto client : {std::string_view("203.0.113.7"), std::string_view(ipv6)}) {
    record.client_address = client;
    record.target = "/report?email=jo.bloggs@example.org&from=198.51.100.23";
    std::string line;
    formatter.format(record, line);
    INFO(line);
    CHECK(line == anonymised_offline(settings, format, key, record));
    CHECK(line.find(client) == std::string::npos);
    CHECK(line.find("198.51.100.23") == std::string::npos);
    CHECK(line.find("jo.bloggs@example.org") == std::string::npos);
    if (format == LogFormat::json) {
      CHECK(line.find("198.51.100.1,") == std::string::npos);  // X-Forwarded-For elements
    }
  }
}

TEST_CASE("formatted lines append to the output and keep the formatter reusable", "[access_log]") {
  const auto settings = settings_for(Method::truncate, Rotation::never);
  AccessLogFormatter formatter(settings, LogFormat::combined, MasterKey{});
  std::string out = "previous\n";
  formatter.format(sample_record(), out);
  CHECK_THAT(out, Catch::StartsWith("previous\n203.0.113.0 - - [23/Nov/2026:09:36:15 +0000] "));
  std::string second;
  formatter.format(sample_record(), second);
  CHECK(out.substr(9) == second);
}

TEST_CASE("with daily rotation the same client maps alike within a day, not across days",
          "[access_log]") {
  const auto settings = settings_for(Method::hash, Rotation::daily);
  const auto key = test_key(veil::anonymiser::key_bytes_for(Method::hash));
  AccessLogFormatter formatter(settings, LogFormat::json, key);
  auto client_field = [&](std::chrono::system_clock::time_point time) {
    auto record = sample_record();
    record.time = time;
    std::string line;
    formatter.format(record, line);
    return boost::json::parse(line).as_object().at("remote_addr").as_string();
  };
  const auto morning = client_field(kTime);
  CHECK(morning != "203.0.113.7");
  CHECK(client_field(kTime + std::chrono::hours(10)) == morning);
  CHECK(client_field(kTime + std::chrono::hours(24)) != morning);
}

TEST_CASE("the access log is written as combined or JSON only", "[access_log]") {
  const auto settings = settings_for(Method::truncate, Rotation::never);
  CHECK_THROWS_WITH(AccessLogFormatter(settings, LogFormat::w3c, MasterKey{}),
                    Catch::Contains("combined or json"));
  CHECK_THROWS_AS(AccessLogFormatter(settings, LogFormat::plain, MasterKey{}),
                  std::invalid_argument);
}
