#include <catch2/catch.hpp>

#include "veil/policies/cookie_header.hpp"

using namespace veil::policies;

TEST_CASE("Cookie header splits on semicolons and trims whitespace") {
  const auto cookies = parse_cookie_header("  a=1;b = 2 ;\tc=three words ;;  ; d=");
  REQUIRE(cookies.size() == 4);
  CHECK(cookies[0] == CookiePair{"a", "1"});
  CHECK(cookies[1] == CookiePair{"b", "2"});
  CHECK(cookies[2] == CookiePair{"c", "three words"});
  CHECK(cookies[3] == CookiePair{"d", ""});
}

TEST_CASE("Cookie header never splits on commas: consent values keep JSON intact") {
  const std::string header =
      R"(_ga=GA1.1.123.456; cookies_policy={"essential":true,"settings":false,"usage":true,)"
      R"("campaigns":false}; cookies_preferences_set=true; CookieConsent={stamp:'a+b/c==',)"
      R"(necessary:true%2Cpreferences:false}; x="quoted, with spaces")";
  const auto cookies = parse_cookie_header(header);
  REQUIRE(cookies.size() == 5);
  CHECK(cookies[1].name == "cookies_policy");
  CHECK(cookies[1].value ==
        R"({"essential":true,"settings":false,"usage":true,"campaigns":false})");
  CHECK(cookies[3].value == "{stamp:'a+b/c==',necessary:true%2Cpreferences:false}");
  CHECK(cookies[4].value == R"("quoted, with spaces")");
  CHECK(find_cookie(cookies, "cookies_preferences_set") == "true");
  CHECK_FALSE(find_cookie(cookies, "missing"));
}

TEST_CASE("Cookie header: the value keeps every '=' after the first") {
  const auto cookies = parse_cookie_header("token=abc==; q=a=b=c");
  REQUIRE(cookies.size() == 2);
  CHECK(cookies[0] == CookiePair{"token", "abc=="});
  CHECK(cookies[1] == CookiePair{"q", "a=b=c"});
}

TEST_CASE("Cookie header: nameless cookies and empty pieces") {
  const auto cookies = parse_cookie_header("justvalue; =alsovalue; =; ; a=1");
  REQUIRE(cookies.size() == 3);
  CHECK(cookies[0] == CookiePair{"", "justvalue"});
  CHECK(cookies[1] == CookiePair{"", "alsovalue"});
  CHECK(cookies[2] == CookiePair{"a", "1"});
  CHECK(parse_cookie_header("").empty());
  CHECK(parse_cookie_header(" ;;; ").empty());
}

TEST_CASE("Cookie header: duplicates keep their order (two domains, two paths)") {
  const auto cookies = parse_cookie_header("_ga=host; _ga=parent");
  REQUIRE(cookies.size() == 2);
  CHECK(find_cookie(cookies, "_ga") == "host");
}

TEST_CASE("Cookie header: the reader walks pairs without copying") {
  const std::string header = "a=1; b=2";
  CookieHeaderReader reader(header);
  CookiePair pair;
  REQUIRE(reader.next(pair));
  CHECK(pair.name.data() == header.data());
  REQUIRE(reader.next(pair));
  CHECK(pair == CookiePair{"b", "2"});
  CHECK_FALSE(reader.next(pair));
  CHECK_FALSE(reader.next(pair));
}

TEST_CASE("Cookie header: filtering and serialising for upstream") {
  auto cookies = parse_cookie_header(
      R"(PHPSESSID=abc; _ga=GA1.1.1.2; cookies_policy={"essential":true,"usage":false}; _gid=x)");
  std::erase_if(cookies, [](const CookiePair& c) { return c.name.starts_with("_g"); });
  CHECK(serialize_cookie_header(cookies) ==
        R"(PHPSESSID=abc; cookies_policy={"essential":true,"usage":false})");
  const std::vector<CookiePair> nameless = {{"", "v"}, {"a", "1"}};
  CHECK(serialize_cookie_header(nameless) == "v; a=1");
  const std::vector<CookiePair> nameless_with_equals = {{"", "k=v"}};
  CHECK(serialize_cookie_header(nameless_with_equals) == "=k=v");
  CHECK(parse_cookie_header("=k=v") == nameless_with_equals);
  CHECK(serialize_cookie_header({}).empty());
}

TEST_CASE("Cookie header: serialise then parse gives the same pairs") {
  const std::string header = R"(a=1;b=  x y ;c={"k":[1,2]}; d="q,r"; e=)";
  const auto first = parse_cookie_header(header);
  const std::string written = serialize_cookie_header(first);
  CHECK(parse_cookie_header(written) == first);
}
