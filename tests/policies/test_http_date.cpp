#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>

#include "veil/policies/http_date.hpp"

using namespace veil::policies;
using namespace std::chrono;

namespace {
sys_seconds at(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
  return sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s};
}
}  // namespace

TEST_CASE("IMF-fixdate is formatted as RFC 9110 shows it") {
  CHECK(format_http_date(at(1994, 11, 6, 8, 49, 37)) == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(format_http_date(sys_seconds{}) == "Thu, 01 Jan 1970 00:00:00 GMT");
  CHECK(format_http_date(at(2024, 2, 29, 23, 59, 59)) == "Thu, 29 Feb 2024 23:59:59 GMT");
  // Four year digits at most: later instants are clamped to the last one they can express.
  CHECK(format_http_date(at(12000, 1, 1)) == "Fri, 31 Dec 9999 23:59:59 GMT");
}

TEST_CASE("IMF-fixdate parses strictly and round-trips") {
  CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == at(1994, 11, 6, 8, 49, 37));
  for (sys_seconds t : {at(1970, 1, 1), at(2017, 8, 9, 12, 0, 1), at(2038, 1, 19, 3, 14, 8),
                        at(2100, 3, 1, 0, 0, 0)}) {
    CHECK(parse_http_date(format_http_date(t)) == t);
  }
  CHECK_FALSE(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"));  // RFC 850
  CHECK_FALSE(parse_http_date("Sun Nov  6 08:49:37 1994"));        // asctime
  CHECK_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"));
  CHECK_FALSE(parse_http_date("Sun, 31 Feb 1994 08:49:37 GMT"));
  CHECK_FALSE(parse_http_date("Sun, 06 Nov 1994 24:00:00 GMT"));
  CHECK_FALSE(parse_http_date("Xyz, 06 Nov 1994 08:49:37 GMT"));
  CHECK_FALSE(parse_http_date("Sun, 0x Nov 1994 08:49:37 GMT"));
  CHECK_FALSE(parse_http_date(""));
}

TEST_CASE("cookie-date accepts every form of RFC 6265 section 5.1.1") {
  const sys_seconds expected = at(1994, 11, 6, 8, 49, 37);
  CHECK(parse_cookie_date("Sun, 06 Nov 1994 08:49:37 GMT") == expected);
  CHECK(parse_cookie_date("Sunday, 06-Nov-94 08:49:37 GMT") == expected);
  CHECK(parse_cookie_date("Sun Nov  6 08:49:37 1994") == expected);
  CHECK(parse_cookie_date("Sun, 06-Nov-1994 08:49:37 GMT") == expected);
  CHECK(parse_cookie_date("06 nOV 1994 8:49:37") == expected);
  CHECK(parse_cookie_date("1994 Nov 6 08:49:37") == expected);  // any token order
  CHECK(parse_cookie_date("Nov-06-1994 08:49:37 GMT+01:00") == expected);
  CHECK(parse_cookie_date("Sun, 06 November 1994 08:49:37 GMT") == expected);  // month *OCTET
  CHECK(parse_cookie_date("6 Nov 1994 8:9:7") == at(1994, 11, 6, 8, 9, 7));
  CHECK(parse_cookie_date("Thu, 01 Jan 1970 00:00:00 GMT") == sys_seconds{});
  CHECK(parse_cookie_date("01 Jan 1601 00:00:00") == at(1601, 1, 1));
  CHECK(parse_cookie_date("31 Dec 9999 23:59:59") == at(9999, 12, 31, 23, 59, 59));
}

TEST_CASE("cookie-date maps two-digit years and rejects out-of-range fields") {
  CHECK(parse_cookie_date("01 Jan 70 00:00:00") == at(1970, 1, 1));
  CHECK(parse_cookie_date("01 Jan 99 00:00:00") == at(1999, 1, 1));
  CHECK(parse_cookie_date("01 Jan 00 00:00:00") == at(2000, 1, 1));
  CHECK(parse_cookie_date("01 Jan 69 00:00:00") == at(2069, 1, 1));
  CHECK_FALSE(parse_cookie_date("01 Jan 1600 00:00:00"));   // before 1601
  CHECK_FALSE(parse_cookie_date("01 Jan 999 00:00:00"));    // three digits: 999 < 1601
  CHECK_FALSE(parse_cookie_date("01 Jan 10000 00:00:00"));  // five digits is no year
  CHECK_FALSE(parse_cookie_date("32 Jan 2020 00:00:00"));
  CHECK_FALSE(parse_cookie_date("00 Jan 2020 00:00:00"));
  CHECK_FALSE(parse_cookie_date("31 Feb 2020 00:00:00"));  // date does not exist
  CHECK(parse_cookie_date("29 Feb 2020 00:00:00") == at(2020, 2, 29));
  CHECK_FALSE(parse_cookie_date("29 Feb 2021 00:00:00"));
  CHECK_FALSE(parse_cookie_date("01 Jan 2020 24:00:00"));
  CHECK_FALSE(parse_cookie_date("01 Jan 2020 23:60:00"));
  CHECK_FALSE(parse_cookie_date("01 Jan 2020 23:59:60"));
  CHECK_FALSE(parse_cookie_date("01 Jan 2020 123:00:00"));  // time-field is 1*2DIGIT
  CHECK_FALSE(parse_cookie_date("01 Jan 2020"));            // no time
  CHECK_FALSE(parse_cookie_date("01 2020 00:00:00"));       // no month
  CHECK_FALSE(parse_cookie_date("Jan 2020 00:00:00"));      // "2020" is no day-of-month
  CHECK_FALSE(parse_cookie_date(""));
  CHECK_FALSE(parse_cookie_date("garbage"));
  CHECK_FALSE(parse_cookie_date(std::string(5000, '1')));
}

TEST_CASE("cookie-date takes the first token of each kind") {
  // Once a day was found, "02" matches the year production (2*4DIGIT): year 2002, and the later
  // "2020" and second time are ignored.
  CHECK(parse_cookie_date("01 02 Jan 2020 10:00:00 11:00:00") == at(2002, 1, 1, 10));
  // "1994" cannot be the day (1*2DIGIT then a digit), so it is the year.
  CHECK(parse_cookie_date("1994 06 Nov 08:49:37") == at(1994, 11, 6, 8, 49, 37));
  // Digits glued to letters still count: "6th" is day 6, "37Z" ends the time.
  CHECK(parse_cookie_date("6th Nov 1994 08:49:37Z") == at(1994, 11, 6, 8, 49, 37));
}

TEST_CASE("cookie-date: Chromium's examples from the http-state corpus") {
  std::ifstream file(VEIL_SOURCE_DIR "/tests/policies/data/http-state/dates-bsd-examples.json");
  REQUIRE(file);
  const std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  boost::json::parse_options options;
  options.allow_comments = true;
  const boost::json::value cases = boost::json::parse(text, {}, options);
  REQUIRE(cases.as_array().size() == 55);
  for (const boost::json::value& item : cases.as_array()) {
    const std::string input(item.at("test").as_string());
    const boost::json::value& expected = item.at("expected");
    INFO("input: " << input);
    const auto parsed = parse_cookie_date(input);
    if (expected.is_null()) {
      CHECK_FALSE(parsed);
    } else {
      REQUIRE(parsed);
      CHECK(format_http_date(*parsed) == std::string(expected.as_string()));
    }
  }
}
