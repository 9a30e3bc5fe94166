#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "log_time.hpp"
#include "veil/anonymiser/log_format.hpp"

using namespace veil::anonymiser;

namespace {

struct Located {
  FieldRole role;
  std::string text;
  bool operator==(const Located&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Located& field) {
  return os << static_cast<int>(field.role) << ":'" << field.text << "'";
}

std::vector<Located> located(std::string_view line, const ParsedLine& parsed) {
  std::vector<Located> fields;
  for (const auto& span : parsed.spans()) {
    fields.push_back({span.role, std::string(line.substr(span.begin, span.end - span.begin))});
  }
  return fields;
}

// Parses `line` with a fresh parser for `format`; empty when the line does not match.
std::optional<std::vector<Located>> parse_line(LogFormat format, std::string_view line,
                                               std::optional<std::int32_t>* day = nullptr,
                                               const AnonymiseSettings& settings = {}) {
  auto parser = make_line_parser(format, settings);
  ParsedLine parsed;
  if (!parser->parse(line, parsed)) return std::nullopt;
  if (day) *day = parsed.day;
  return located(line, parsed);
}

constexpr auto client = FieldRole::client;
constexpr auto address_list = FieldRole::address_list;
constexpr auto target = FieldRole::target;
constexpr auto referrer = FieldRole::referrer;
constexpr auto user = FieldRole::user;
constexpr auto plain = FieldRole::plain;
constexpr auto agent = FieldRole::agent;

}  // namespace

TEST_CASE("dates become UTC days since 1970", "[log_formats]") {
  CHECK(days_from_civil(1970, 1, 1) == 0);
  CHECK(days_from_civil(2000, 3, 1) == 11017);
  CHECK(days_from_civil(1969, 12, 31) == -1);
  const auto oct10 = days_from_civil(2000, 10, 10);
  CHECK(clf_day("10/Oct/2000:13:55:36 -0700") == oct10);
  // 20:00 at -0700 is 03:00 UTC the next day; 01:00 at +0200 is 23:00 UTC the day before.
  CHECK(clf_day("10/Oct/2000:20:00:00 -0700") == oct10 + 1);
  CHECK(clf_day("10/Oct/2000:01:00:00 +0200") == oct10 - 1);
  CHECK(clf_day("10/Oct/2000:01:00:00 +0000") == oct10);
  CHECK_FALSE(clf_day("10/Okt/2000:13:55:36 -0700"));
  CHECK_FALSE(clf_day("10/Oct/2000:13:55:36"));
  CHECK_FALSE(clf_day("10/Oct/2000:25:55:36 -0700"));

  const auto sep13 = days_from_civil(2016, 9, 13);
  CHECK(iso8601_day("2016-09-13") == sep13);
  CHECK(iso8601_day("2016-09-13T21:45:10Z") == sep13);
  CHECK(iso8601_day("2016-09-13T23:45:10-01:00") == sep13 + 1);
  CHECK(iso8601_day("2016-09-13T00:30:00+01:00") == sep13 - 1);
  CHECK(iso8601_day("2016-09-13T00:30:00.123456+0100") == sep13 - 1);
  CHECK(iso8601_day("2016-09-13 21:45:10") == sep13);
  CHECK_FALSE(iso8601_day("2016-13-13"));
  CHECK_FALSE(iso8601_day("2016-09-13T21:45:10 junk"));
  CHECK(timestamp_day("1709251200") == days_from_civil(2024, 3, 1));
  CHECK(timestamp_day("1709251199.999") == days_from_civil(2024, 2, 29));
  CHECK_FALSE(timestamp_day("yesterday"));
}

TEST_CASE("property: ClfDays reads a sequence of times as clf_day reads each", "[log_formats]") {
  // Runs of times that keep their date and offset, change them, repeat exactly, or are broken in
  // one byte (a separator, a digit, the month, the offset): the remembered date and offset must
  // never stand in for ones that differ, nor make a broken time valid.
  std::mt19937_64 random(2600);
  constexpr std::array<std::string_view, 4> kDates{"31/Dec/2025", "01/Jan/2026", "29/Feb/2024",
                                                   "10/Oct/2000"};
  constexpr std::array<std::string_view, 4> kOffsets{" +0000", " -0700", " +0530", " +1400"};
  constexpr std::string_view kNoise = "0123456789/: +-XaJ";
  ClfDays days;
  std::string text(26, ' ');
  std::size_t valid = 0;
  for (int n = 0; n < 100000; ++n) {
    if (n == 0 || random() % 50 == 0) {
      text.replace(0, 11, kDates[random() % kDates.size()]);
      text.replace(20, 6, kOffsets[random() % kOffsets.size()]);
    }
    if (random() % 4 != 0) {  // else the same time again
      char clock[10];
      std::snprintf(clock, sizeof clock, ":%02d:%02d:%02d", static_cast<int>(random() % 25),
                    static_cast<int>(random() % 61), static_cast<int>(random() % 62));
      text.replace(11, 9, clock);
    }
    std::string read = text;
    if (random() % 10 == 0) read[random() % read.size()] = kNoise[random() % kNoise.size()];
    INFO(read);
    const auto expected = clf_day(read);
    REQUIRE(days.day_of(read) == expected);
    if (expected) ++valid;
  }
  CHECK(valid > 50000);
}

TEST_CASE("combined: nginx default format", "[log_formats]") {
  std::optional<std::int32_t> day;
  const std::string line =
      R"L(203.0.113.9 - jane@example.org [10/Oct/2000:13:55:36 -0700] "GET /bins?postcode=SW1A+1AA HTTP/1.1" 200 2326 "https://www.google.co.uk/search?q=bins" "Mozilla/5.0 (X11; Linux x86_64)")L";
  auto fields = parse_line(LogFormat::combined, line, &day);
  REQUIRE(fields);
  CHECK(*fields == std::vector<Located>{{client, "203.0.113.9"},
                                        {user, "jane@example.org"},
                                        {plain, "[10/Oct/2000:13:55:36 -0700]"},
                                        {target, "/bins?postcode=SW1A+1AA"},
                                        {plain, " HTTP/1.1\" 200 2326"},
                                        {referrer, "https://www.google.co.uk/search?q=bins"},
                                        {agent, "Mozilla/5.0 (X11; Linux x86_64)"}});
  CHECK(day == days_from_civil(2000, 10, 10));
}

TEST_CASE("combined: Apache escapes, IPv6 clients, extra fields, vhost prefix", "[log_formats]") {
  SECTION("escaped quotes and backslashes stay inside their field") {
    const std::string line =
        R"(2001:db8::1 - - [01/Jan/2024:00:00:00 +0000] "GET /a\"b\\c\x1b HTTP/1.1" 404 - "http://x/\" q" "UA \"quoted\"")";
    auto fields = parse_line(LogFormat::combined, line);
    REQUIRE(fields);
    CHECK(*fields == std::vector<Located>{{client, "2001:db8::1"},
                                          {user, "-"},
                                          {plain, "[01/Jan/2024:00:00:00 +0000]"},
                                          {target, R"(/a\"b\\c\x1b)"},
                                          {plain, R"( HTTP/1.1" 404 -)"},
                                          {referrer, R"(http://x/\" q)"},
                                          {agent, R"(UA \"quoted\")"}});
  }
  SECTION("nginx X-Forwarded-For and request time after the user agent") {
    const std::string line =
        R"(::ffff:192.0.2.1 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/2.0" 200 512 "-" "curl/8.0" "198.51.100.7, 10.0.0.1" 0.004)";
    auto fields = parse_line(LogFormat::combined, line);
    REQUIRE(fields);
    CHECK(fields->front() == Located{client, "::ffff:192.0.2.1"});
    // What follows the user agent is no field of its own.
    CHECK(fields->back() == Located{agent, "curl/8.0"});
  }
  SECTION("Debian vhost_combined") {
    const std::string line =
        R"(www.council.gov.uk:443 192.0.2.44 - - [01/Jan/2024:00:00:00 +0000] "GET /x HTTP/1.1" 200 10 "-" "UA")";
    auto fields = parse_line(LogFormat::combined, line);
    REQUIRE(fields);
    CHECK(fields->front() == Located{client, "192.0.2.44"});
  }
  SECTION("a reverse-DNS client and a request without protocol") {
    const std::string line =
        R"(host81-2-69-160.range81-2.btcentralplus.com - - [01/Jan/2024:00:00:00 +0000] "GET /old" 200 10 "-" "UA")";
    auto fields = parse_line(LogFormat::combined, line);
    REQUIRE(fields);
    CHECK((*fields)[0] == Located{client, "host81-2-69-160.range81-2.btcentralplus.com"});
    CHECK((*fields)[3] == Located{target, "/old"});
    CHECK((*fields)[4] == Located{plain, R"(" 200 10)"});
  }
  SECTION("junk request lines are all target") {
    const std::string line =
        R"(192.0.2.1 - - [01/Jan/2024:00:00:00 +0000] "\x16\x03\x01" 400 157 "-" "-")";
    auto fields = parse_line(LogFormat::combined, line);
    REQUIRE(fields);
    CHECK((*fields)[3] == Located{target, R"(\x16\x03\x01)"});
    CHECK((*fields)[4] == Located{plain, R"(" 400 157)"});
  }
  SECTION("a user name with a space") {
    const std::string line =
        R"(192.0.2.1 - Jane Doe [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-")";
    auto fields = parse_line(LogFormat::combined, line);
    REQUIRE(fields);
    CHECK((*fields)[1] == Located{user, "Jane Doe"});
  }
}

TEST_CASE("combined and common reject lines of other shapes", "[log_formats]") {
  const std::string common_line =
      R"(192.0.2.1 - - [01/Aug/1995:00:00:01 -0400] "GET /images/launch-logo.gif HTTP/1.0" 200 1713)";
  CHECK_FALSE(parse_line(LogFormat::combined, common_line));
  auto common = parse_line(LogFormat::common, common_line);
  REQUIRE(common);
  CHECK(common->size() == 5);
  // The common parser still finds a referrer when one is there.
  auto combined_as_common = parse_line(
      LogFormat::common,
      R"(192.0.2.1 - - [01/Aug/1995:00:00:01 -0400] "GET / HTTP/1.0" 200 17 "http://r/" "UA")");
  REQUIRE(combined_as_common);
  CHECK((*combined_as_common)[5] == Located{referrer, "http://r/"});
  CHECK(combined_as_common->back() == Located{agent, "UA"});
  // "-" stands for a missing status or byte count.
  CHECK(parse_line(LogFormat::common,
                   R"(192.0.2.1 - - [01/Aug/1995:00:00:01 -0400] "GET / HTTP/1.0" - -)"));

  for (std::string bad : {
           std::string(""),
           std::string("just some text 192.0.2.1"),
           std::string(R"(192.0.2.1 - - [01/Aug/1995:00:00:01] "GET / HTTP/1.0" 200 1)"),
           std::string(R"(192.0.2.1 - - [01/Aug/1995:00:00:01 -0400] "GET / HTTP/1.0 200 1)"),
           std::string(R"(192.0.2.1 - - [01/Aug/1995:00:00:01 -0400] "GET / HTTP/1.0" OK 1)"),
           std::string(R"(192.0.2.1 - [01/Aug/1995:00:00:01 -0400] "GET / HTTP/1.0" 200 1)"),
           std::string(R"(192.0.2.1 - - [01/Aug/1995:00:00:01 -0400] "GET / HTTP/1.0" 200 12x)"),
           std::string(R"(192.0.2.1 - - [01/Aug/1995:00:00:01 -0400] "GET / HTTP/1.0" 200 1-)"),
           std::string(R"(192.0.2.1 - - [01/Aug/1995:00:00:01 -0400] "GET / HTTP/1.0" -- 1)"),
           std::string(R"(192.0.2.1 - - [01/Aug/1995:00:00:01 -0400] "GET / HTTP/1.0" 200 )"),
           std::string(R"(192.0.2.1 - - [01/Aug/1995:00:00:01 -0400] "GET / HTTP/1.0" 200)"),
       }) {
    INFO(bad);
    CHECK_FALSE(parse_line(LogFormat::common, bad));
    CHECK_FALSE(parse_line(LogFormat::combined, bad));
  }
}

TEST_CASE("w3c: IIS 10 and IIS 6 defaults, #Fields changing mid-file", "[log_formats]") {
  auto parser = make_line_parser(LogFormat::w3c, {});
  ParsedLine parsed;
  CHECK_FALSE(parser->parse("2016-09-13 21:45:10 ::1 GET / - 80 - ::1 UA - 200 0 0 1", parsed));

  const std::vector<std::string> iis10_header{
      "#Software: Microsoft Internet Information Services 10.0", "#Version: 1.0",
      "#Date: 2016-09-13 21:45:10",
      "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
      "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken"};
  for (const auto& directive : iis10_header) {
    CHECK(parser->parse(directive, parsed));
    CHECK(parsed.field_count == 0);
  }
  const std::string iis10 =
      "2016-09-13 21:45:10 10.0.0.4 GET /webapp2 q=SW1A+1AA 80 DOM\\jane 2001:db8::7 "
      "Mozilla/5.0+(Windows+NT+10.0) https://example.org/?x=1 500 0 0 5502";
  REQUIRE(parser->parse(iis10, parsed));
  CHECK(parsed.day == days_from_civil(2016, 9, 13));
  CHECK(located(iis10, parsed) == std::vector<Located>{{plain, "2016-09-13"},
                                                       {plain, "21:45:10"},
                                                       {target, "/webapp2"},
                                                       {target, "q=SW1A+1AA"},
                                                       {user, "DOM\\jane"},
                                                       {client, "2001:db8::7"},
                                                       {referrer, "https://example.org/?x=1"}});
  CHECK_FALSE(parser->parse("2016-09-13 21:45:10 10.0.0.4 GET /too-few-columns", parsed));

  // A restart writes a new header with the IIS 6 default fields and a custom X-Forwarded-For.
  const std::string iis6_fields =
      "#Fields: date time c-ip cs-username s-ip cs-method cs-uri-stem cs-uri-query sc-status "
      "sc-win32-status s-port cs(User-Agent) sc-substatus X-Forwarded-For";
  REQUIRE(parser->parse(iis6_fields, parsed));
  CHECK(parser->state() == iis6_fields);
  const std::string iis6 =
      "2003-01-02 00:00:01 192.0.2.10 - 10.1.1.1 GET /default.htm - 200 0 80 "
      "Mozilla/4.0+(compatible) 0 198.51.100.1,203.0.113.2";
  REQUIRE(parser->parse(iis6, parsed));
  CHECK(parsed.day == days_from_civil(2003, 1, 2));
  CHECK(located(iis6, parsed) == std::vector<Located>{{plain, "2003-01-02"},
                                                      {plain, "00:00:01"},
                                                      {client, "192.0.2.10"},
                                                      {user, "-"},
                                                      {target, "/default.htm"},
                                                      {target, "-"},
                                                      {address_list, "198.51.100.1,203.0.113.2"}});
  CHECK_FALSE(parser->parse(iis10, parsed));  // the old layout no longer applies
}

TEST_CASE("w3c: field names match case-insensitively; custom address fields", "[log_formats]") {
  auto parser = make_line_parser(LogFormat::w3c, {});
  ParsedLine parsed;
  REQUIRE(
      parser->parse("#Fields: DATE Time C-IP CS(REFERER) x-real-ip True-Client-IP lb-hdr", parsed));
  const std::string line = "2020-02-29 12:00:00 192.0.2.1 - 192.0.2.2 192.0.2.3 192.0.2.4";
  REQUIRE(parser->parse(line, parsed));
  CHECK(located(line, parsed) == std::vector<Located>{{plain, "2020-02-29"},
                                                      {plain, "12:00:00"},
                                                      {client, "192.0.2.1"},
                                                      {referrer, "-"},
                                                      {address_list, "192.0.2.2"},
                                                      {address_list, "192.0.2.3"}});
}

TEST_CASE("w3c: the #Fields state carries between blocks", "[log_formats]") {
  const std::string block1 =
      "#Software: IIS\r\n#Fields: date time c-ip\r\n2020-01-01 00:00:00 192.0.2.1\r\n";
  const std::string block2 = "2020-01-01 00:00:01 192.0.2.2\n#Fields: date c-ip time\n";
  const std::string block3 = "2020-01-01 192.0.2.3 00:00:02\n";
  auto state = carry_format_state(LogFormat::w3c, block1, "");
  CHECK(state == "#Fields: date time c-ip");
  CHECK(carry_format_state(LogFormat::w3c, block3, state) == state);
  state = carry_format_state(LogFormat::w3c, block2, state);
  CHECK(state == "#Fields: date c-ip time");
  CHECK(carry_format_state(LogFormat::combined, block2, "") == "");

  auto parser = make_line_parser(LogFormat::w3c, {});
  parser->set_state(state);
  ParsedLine parsed;
  const std::string line = "2020-01-01 192.0.2.3 00:00:02";
  REQUIRE(parser->parse(line, parsed));
  CHECK(located(line, parsed)[1] == Located{client, "192.0.2.3"});
  parser->set_state("");
  CHECK_FALSE(parser->parse(line, parsed));
}

TEST_CASE("json: default keys, nested dotted paths, arrays, dates", "[log_formats]") {
  AnonymiseSettings settings;
  settings.json_fields = {"source.address", "http.request.client"};
  const std::string line =
      R"({"time_iso8601":"2024-03-01T00:30:00+01:00","remote_addr":"192.0.2.1","remote_user":"-",)"
      R"("request":"GET /?email=a%40b.org HTTP/1.1","status":200,"http_referer":"https://x/",)"
      R"("http_x_forwarded_for":["198.51.100.1","2001:db8::2"],)"
      R"("source":{"address":"203.0.113.5","port":443},"http":{"request":{"client":"192.0.2.9"}},)"
      R"("address":"not a client path"} )";
  std::optional<std::int32_t> day;
  auto fields = parse_line(LogFormat::json, line, &day, settings);
  REQUIRE(fields);
  CHECK(day == days_from_civil(2024, 2, 29));
  CHECK(*fields == std::vector<Located>{{plain, "2024-03-01T00:30:00+01:00"},
                                        {client, "192.0.2.1"},
                                        {user, "-"},
                                        {target, "GET /?email=a%40b.org HTTP/1.1"},
                                        {referrer, "https://x/"},
                                        {address_list, "198.51.100.1"},
                                        {address_list, "2001:db8::2"},
                                        {client, "203.0.113.5"},
                                        {client, "192.0.2.9"}});
}

TEST_CASE("json: epoch timestamps, escapes, malformed objects", "[log_formats]") {
  std::optional<std::int32_t> day;
  auto fields =
      parse_line(LogFormat::json, R"({"time":1709251200.5,"uri":"/a\"b","ip":"::1"})", &day);
  REQUIRE(fields);
  CHECK(day == days_from_civil(2024, 3, 1));
  CHECK(*fields ==
        std::vector<Located>{{plain, "1709251200.5"}, {target, R"(/a\"b)"}, {client, "::1"}});
  for (std::string bad :
       {std::string(R"({"ip":"1.2.3.4")"), std::string(R"({"ip":"1.2.3.4"} x)"),
        std::string(R"(["ip"])"), std::string(R"({"ip" "1.2.3.4"})"),
        std::string(R"({"ip":1.2.3.4,})"), std::string("plain text"), std::string(40, '{')}) {
    INFO(bad);
    CHECK_FALSE(parse_line(LogFormat::json, bad));
  }
  CHECK_THROWS_AS(
      [] {
        AnonymiseSettings settings;
        settings.json_fields = {"a..b"};
        return make_line_parser(LogFormat::json, settings);
      }(),
      std::invalid_argument);
}

TEST_CASE("plain lines parse with no fields and no date", "[log_formats]") {
  std::optional<std::int32_t> day = 1;
  auto fields = parse_line(LogFormat::plain, "[client 192.0.2.1:51234] File does not exist", &day);
  REQUIRE(fields);
  CHECK(fields->empty());
  CHECK_FALSE(day);
  CHECK_THROWS_AS(make_line_parser(LogFormat::automatic, {}), std::invalid_argument);
}
