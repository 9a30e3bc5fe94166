#include <catch2/catch.hpp>

#include "veil/policies/set_cookie.hpp"

using namespace veil::policies;
using namespace std::chrono;

namespace {

sys_seconds at(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
  return sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s};
}

SetCookie parsed(std::string_view header) {
  SetCookieParse result = parse_set_cookie(header);
  INFO("header: " << header << " error: " << result.error);
  REQUIRE(result.cookie);
  return std::move(*result.cookie);
}

std::string_view rejected(std::string_view header) {
  const SetCookieParse result = parse_set_cookie(header);
  INFO("header: " << header);
  REQUIRE_FALSE(result.cookie);
  REQUIRE_FALSE(result.error.empty());
  return result.error;
}

}  // namespace

TEST_CASE("Set-Cookie: a typical session cookie") {
  const SetCookie c = parsed("ASP.NET_SessionId=abc123; path=/; secure; HttpOnly; SameSite=Lax");
  CHECK(c.name() == "ASP.NET_SessionId");
  CHECK(c.value() == "abc123");
  CHECK(c.path() == "/");
  CHECK(c.secure());
  CHECK(c.http_only());
  CHECK(c.same_site() == SameSite::lax);
  CHECK_FALSE(c.domain());
  CHECK(c.is_session());
  CHECK_FALSE(c.lifetime(at(2024, 1, 1)));
  CHECK_FALSE(c.partitioned());
  CHECK(c.attributes().size() == 4);
}

TEST_CASE("Set-Cookie: a Google Analytics cookie with Domain and Expires") {
  const SetCookie c = parsed(
      "_ga=GA1.1.1234.5678; expires=Wed, 23 Nov 2028 09:00:00 GMT; path=/; "
      "domain=.Example.GOV.uk; SameSite=None; Secure; Partitioned");
  CHECK(c.domain() == "example.gov.uk");
  CHECK(c.expires() == at(2028, 11, 23, 9));
  CHECK_FALSE(c.max_age());
  CHECK(c.lifetime(at(2026, 11, 23, 9)) == (at(2028, 11, 23, 9) - at(2026, 11, 23, 9)).count());
  CHECK(c.same_site() == SameSite::none);
  CHECK(c.partitioned());
}

TEST_CASE("Set-Cookie: name and value are trimmed; '=' and spaces stay in the value") {
  const SetCookie c = parsed("  A=== BC  ;foo;;;   bar");
  CHECK(c.name() == "A");
  CHECK(c.value() == "== BC");
  CHECK(c.attributes().size() == 2);  // "foo" and "bar": unknown attributes kept
  CHECK(c.attributes()[0].name == "foo");
  CHECK_FALSE(c.attributes()[0].has_value);

  const SetCookie json = parsed(R"(cookies_policy={"essential":true,"usage":false}; Path=/)");
  CHECK(json.value() == R"({"essential":true,"usage":false})");
  const SetCookie comma = parsed("z=y, a=b");  // commas never split a Set-Cookie
  CHECK(comma.value() == "y, a=b");
}

TEST_CASE("Set-Cookie: nameless cookies as RFC 6265bis defines them") {
  const SetCookie bare = parsed("foo; Path=/");
  CHECK(bare.name().empty());
  CHECK(bare.value() == "foo");
  CHECK_FALSE(bare.has_name_separator());
  CHECK(bare.serialize() == "foo; Path=/");

  const SetCookie equals_first = parsed("=bar");
  CHECK(equals_first.name().empty());
  CHECK(equals_first.value() == "bar");
  CHECK(equals_first.has_name_separator());
  CHECK(equals_first.serialize() == "=bar");

  const SetCookie empty_value = parsed("x=");
  CHECK(empty_value.name() == "x");
  CHECK(empty_value.value().empty());
}

TEST_CASE("Set-Cookie: what a browser ignores entirely") {
  CHECK(rejected("") == "empty name and value");
  CHECK(rejected("=") == "empty name and value");
  CHECK(rejected("   ") == "empty name and value");
  CHECK(rejected(" = ; Path=/") == "empty name and value");
  CHECK(rejected("; Secure") == "empty name and value");
  CHECK(rejected(std::string_view("a=b\0c", 5)) == "control character in Set-Cookie");
  CHECK(rejected("a=b\rc") == "control character in Set-Cookie");
  CHECK(rejected("a=b; Path=/\n") == "control character in Set-Cookie");
  CHECK(rejected("a=b\x7f") == "control character in Set-Cookie");
  CHECK(rejected("a=" + std::string(4096, 'v')) == "name and value longer than 4096 octets");
  CHECK(rejected(std::string(10 * 1024, 'n') + "=v") == "name and value longer than 4096 octets");
  // Exactly 4096 octets of name and value is still accepted; HTAB is no control character here.
  CHECK(parsed(std::string(4000, 'n') + "=" + std::string(96, 'v')).value().size() == 96);
  CHECK(parsed("a=b\tc").value() == "b\tc");
  // Bytes above 0x7F (UTF-8) are allowed.
  CHECK(parsed("name=\xE6\x98\xA5\xE8\x8A\x82").value() == "\xE6\x98\xA5\xE8\x8A\x82");
}

TEST_CASE("Set-Cookie: attribute names are case-insensitive, flags ignore values") {
  const SetCookie c = parsed("a=b; SECURE=yes; httponly=; pArTiTiOnEd");
  CHECK(c.secure());
  CHECK(c.http_only());
  CHECK(c.partitioned());
  CHECK_FALSE(parsed("a=b; \"Secure\"").secure());
  CHECK_FALSE(parsed("a=b; Secure qux").secure());
  CHECK(parsed("a=b;       Secure     ;").secure());
}

TEST_CASE("Set-Cookie: SameSite values") {
  CHECK(parsed("a=b; SameSite=strict").same_site() == SameSite::strict);
  CHECK(parsed("a=b; samesite=LAX").same_site() == SameSite::lax);
  CHECK(parsed("a=b; SameSite = None ").same_site() == SameSite::none);
  CHECK(parsed("a=b; SameSite=Relaxed").same_site() == SameSite::unrecognised);
  CHECK(parsed("a=b; SameSite").same_site() == SameSite::unrecognised);
  CHECK(parsed("a=b").same_site() == SameSite::unspecified);
  // The last SameSite wins even when its value is not recognised.
  CHECK(parsed("a=b; SameSite=Strict; SameSite=bogus").same_site() == SameSite::unrecognised);
  CHECK(parsed("a=b; SameSite=bogus; SameSite=Strict").same_site() == SameSite::strict);
}

TEST_CASE("Set-Cookie: Max-Age digits, sign, overflow and precedence over Expires") {
  CHECK(parsed("a=b; Max-Age=3600").max_age() == 3600);
  CHECK(parsed("a=b; max-age=0").max_age() == 0);
  CHECK(parsed("a=b; Max-Age=-20").max_age() == -20);
  CHECK(parsed("a=b; Max-Age=007").max_age() == 7);
  for (const char* invalid :
       {"a=b; Max-Age=", "a=b; Max-Age=-", "a=b; Max-Age=+5", "a=b; Max-Age=1.5",
        "a=b; Max-Age=50,399", "a=b; Max-Age=1e3", "a=b; Max-Age= 12 3", "a=b; Max-Age=0x10"}) {
    INFO(invalid);
    CHECK_FALSE(parsed(invalid).max_age());
  }
  CHECK(parsed("a=b; Max-Age=99999999999999999999999999999999").max_age() ==
        SetCookie::kMaxAgeLimit);
  CHECK(parsed("a=b; Max-Age=-99999999999999999999999999999999").max_age() ==
        -SetCookie::kMaxAgeLimit);
  // An invalid Max-Age is ignored: the earlier valid one stays.
  CHECK(parsed("a=b; Max-Age=60; Max-Age=abc").max_age() == 60);
  CHECK(parsed("a=b; Max-Age=60; Max-Age=120").max_age() == 120);
  // Max-Age wins over Expires wherever it stands.
  const SetCookie both = parsed("a=b; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
  CHECK(both.lifetime(at(2020, 1, 1)) == 60);
  CHECK_FALSE(both.is_deletion(at(2020, 1, 1)));
}

TEST_CASE("Set-Cookie: Expires uses the cookie-date algorithm, last valid one wins") {
  CHECK(parsed("a=b; Expires=Sun, 06 Nov 1994 08:49:37 GMT").expires() ==
        at(1994, 11, 6, 8, 49, 37));
  CHECK(parsed("a=b; expires=Sunday, 06-Nov-94 08:49:37 GMT").expires() ==
        at(1994, 11, 6, 8, 49, 37));
  CHECK(parsed("a=b; Expires=Sun Nov  6 08:49:37 1994").expires() == at(1994, 11, 6, 8, 49, 37));
  CHECK_FALSE(parsed("a=b; Expires=tomorrow").expires());
  CHECK_FALSE(parsed("a=b; Expires=Sun, 31 Feb 2020 08:49:37 GMT").expires());
  CHECK(parsed("a=b; Expires=Fri, 01 Jan 2021 00:00:00 GMT; Expires=never").expires() ==
        at(2021, 1, 1));
  CHECK(parsed("a=b; Expires=Fri, 01 Jan 2021 00:00:00 GMT; Expires=Sat, 01 Jan 2022 00:00:00 GMT")
            .expires() == at(2022, 1, 1));
  const SetCookie past = parsed("a=b; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
  CHECK(past.is_deletion(at(2024, 1, 1)));
  CHECK_FALSE(past.is_session());
}

TEST_CASE("Set-Cookie: Domain drops one leading dot and lower-cases; empty Domain is ignored") {
  CHECK(parsed("a=b; Domain=.Example.org").domain() == "example.org");
  CHECK(parsed("a=b; Domain=..example.org").domain() == ".example.org");
  CHECK(parsed("a=b; Domain=  .home.example.org  ").domain() == "home.example.org");
  CHECK(parsed("a=b; Domain=example.org; Domain=").domain() == "example.org");
  CHECK(parsed("a=b; Domain=example.org; Domain=other.org").domain() == "other.org");
  CHECK_FALSE(parsed("a=b; Domain=example.org; Domain=.").domain());
}

TEST_CASE("Set-Cookie: Path must start with '/', otherwise the default path") {
  CHECK(parsed("a=b; Path=/docs").path() == "/docs");
  CHECK_FALSE(parsed("a=b; Path=docs").path());
  CHECK_FALSE(parsed("a=b; Path").path());
  CHECK_FALSE(parsed("a=b; Path=/dog; Path=").path());
  CHECK(parsed("a=b; Path=; Path=/dog").path() == "/dog");
  CHECK(parsed("a=b; path    =       /x   ").path() == "/x");
}

TEST_CASE("Set-Cookie: attribute values over 1024 octets are ignored but kept") {
  const std::string long_path = "/" + std::string(1024, 'p');
  const SetCookie c = parsed("a=b; Path=/short; Path=" + long_path);
  CHECK(c.path() == "/short");
  CHECK(c.attributes().size() == 2);
  CHECK(parsed("a=b; Path=" + long_path.substr(0, 1024)).path() == long_path.substr(0, 1024));
  CHECK(parsed("a=b; Domain=" + std::string(1025, 'd')).domain() == std::nullopt);
}

TEST_CASE("Set-Cookie: many attributes and conflicting duplicates") {
  std::string header = "many=1";
  for (int i = 0; i < 2000; ++i) header += "; X-Attr" + std::to_string(i) + "=v";
  header += "; Secure; Max-Age=5; Max-Age=10; Domain=a.example; Domain=b.example";
  const SetCookie c = parsed(header);
  CHECK(c.attributes().size() == 2005);
  CHECK(c.max_age() == 10);
  CHECK(c.domain() == "b.example");
  CHECK(c.secure());
}

TEST_CASE("Set-Cookie: serialising keeps names, order and spelling") {
  const std::string header = "sid=a b; path=/; Secure; HttpOnly; Custom=\"x, y\"; SameSite=lax";
  const SetCookie c = parsed(header);
  CHECK(c.serialize() == header);
  CHECK(parsed("  a  =  b  ;  Path  =  /  ;Secure").serialize() == "a=b; Path=/; Secure");
  CHECK(parsed("a=b; Secure=").serialize() == "a=b; Secure=");
}

TEST_CASE("Set-Cookie: editing attributes keeps meaning and text consistent") {
  SetCookie c = parsed("a=b; Max-Age=10; Path=/; max-age=20; Secure");
  c.set_attribute("Max-Age", "5");
  CHECK(c.max_age() == 5);
  CHECK(c.serialize() == "a=b; Max-Age=5; Path=/; Secure");
  c.remove_attribute("secure");
  CHECK_FALSE(c.secure());
  c.set_attribute("HttpOnly", std::nullopt);
  CHECK(c.http_only());
  CHECK(c.serialize() == "a=b; Max-Age=5; Path=/; HttpOnly");
  const SetCookieParse again = parse_set_cookie(c.serialize());
  REQUIRE(again.cookie);
  CHECK(*again.cookie == c);
}

TEST_CASE("Set-Cookie: __Secure- and __Host- prefix rules") {
  CHECK(prefix_violation(parsed("__Secure-id=1; Secure")) == "");
  CHECK(prefix_violation(parsed("__Secure-id=1")) == "__Secure- cookie without Secure");
  CHECK(prefix_violation(parsed("__secure-id=1")) == "__Secure- cookie without Secure");
  CHECK(prefix_violation(parsed("__Host-id=1; Secure; Path=/")) == "");
  CHECK(prefix_violation(parsed("__Host-id=1; Path=/")) == "__Host- cookie without Secure");
  CHECK(prefix_violation(parsed("__Host-id=1; Secure")) == "__Host- cookie without Path=/");
  CHECK(prefix_violation(parsed("__Host-id=1; Secure; Path=/app")) ==
        "__Host- cookie without Path=/");
  CHECK(prefix_violation(parsed("__HOST-id=1; Secure; Path=/; Domain=example.org")) ==
        "__Host- cookie with a Domain");
  CHECK(prefix_violation(parsed("__Host-x; Secure; Path=/")) ==
        "nameless cookie whose value starts with __Secure- or __Host-");
  CHECK(prefix_violation(parsed("plain=1")) == "");
}

TEST_CASE("Set-Cookie: lifetime capping relative to the response Date") {
  const sys_seconds date = at(2026, 11, 23, 10);
  const auto two_days = hours{48};

  SetCookie max_age = parsed("login=x; Max-Age=31536000; Path=/; HttpOnly");
  CHECK(cap_lifetime(max_age, two_days, date));
  CHECK(max_age.max_age() == 172800);
  CHECK(max_age.expires() == date + two_days);
  CHECK(max_age.serialize() ==
        "login=x; Max-Age=172800; Path=/; HttpOnly; Expires=Wed, 25 Nov 2026 10:00:00 GMT");

  SetCookie expires = parsed("_ga=1; Expires=Wed, 23 Nov 2028 10:00:00 GMT; Path=/");
  CHECK(cap_lifetime(expires, two_days, date));
  CHECK(expires.serialize() ==
        "_ga=1; Expires=Wed, 25 Nov 2026 10:00:00 GMT; Path=/; Max-Age=172800");
  CHECK(expires.lifetime(date) == 172800);

  // Expires relative to the response's Date, not to the proxy's clock: a cookie one day from
  // Date is within a two-day cap however far in the past Date is.
  SetCookie within = parsed("a=1; Expires=Tue, 24 Nov 2026 10:00:00 GMT");
  CHECK_FALSE(cap_lifetime(within, two_days, date));
  CHECK(within.serialize() == "a=1; Expires=Tue, 24 Nov 2026 10:00:00 GMT");

  SetCookie session = parsed("s=1; Path=/");
  CHECK_FALSE(cap_lifetime(session, two_days, date));
  CHECK(session.is_session());

  SetCookie invalid_expiry = parsed("s=1; Expires=someday");  // still a session cookie
  CHECK_FALSE(cap_lifetime(invalid_expiry, two_days, date));

  for (const char* deletion :
       {"d=; Max-Age=0", "d=; Max-Age=-1", "d=; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        "d=; Max-Age=0; Expires=Fri, 01 Jan 2100 00:00:00 GMT"}) {
    INFO(deletion);
    SetCookie c = parsed(deletion);
    CHECK(c.is_deletion(date));
    CHECK_FALSE(cap_lifetime(c, two_days, date));
    CHECK(c.serialize() == deletion);
  }

  SetCookie huge = parsed("h=1; Max-Age=99999999999999999999999");
  CHECK(cap_lifetime(huge, hours{24 * 395}, date));
  CHECK(huge.max_age() == 395 * 86400);
}

TEST_CASE("Set-Cookie: required attributes are added once") {
  SetCookie c = parsed("_ga=1; SameSite=None");
  CHECK(require_attributes(c, {.secure = true, .http_only = true, .same_site = SameSite::lax}));
  CHECK(c.secure());
  CHECK(c.http_only());
  CHECK(c.same_site() == SameSite::lax);
  CHECK(c.serialize() == "_ga=1; SameSite=Lax; Secure; HttpOnly");
  CHECK_FALSE(
      require_attributes(c, {.secure = true, .http_only = true, .same_site = SameSite::lax}));
  CHECK_FALSE(require_attributes(c, {}));
}

TEST_CASE("Set-Cookie: building cookies") {
  NewCookie cookie;
  cookie.name = "cookies_policy";
  cookie.value = R"({"essential":true,"usage":false})";
  cookie.max_age = hours{24 * 365};
  cookie.now = at(2026, 11, 23, 10);
  cookie.secure = true;
  cookie.same_site = SameSite::lax;
  const auto header = build_set_cookie(cookie);
  REQUIRE(header);
  CHECK(*header == R"(cookies_policy={"essential":true,"usage":false}; Max-Age=31536000; )"
                   "Expires=Tue, 23 Nov 2027 10:00:00 GMT; Path=/; Secure; SameSite=Lax");
  const SetCookie back = parsed(*header);
  CHECK(back.value() == cookie.value);
  CHECK(back.lifetime(cookie.now) == 31536000);

  NewCookie session{.name = "s", .value = "1", .path = ""};
  CHECK(build_set_cookie(session) == "s=1");
  for (NewCookie bad : {NewCookie{.name = ""}, NewCookie{.name = "a=b"}, NewCookie{.name = "a;b"},
                        NewCookie{.name = "a", .value = "x;y"}, NewCookie{.name = "a\n"},
                        NewCookie{.name = "a", .domain = "e.org; Secure"}}) {
    CHECK_FALSE(build_set_cookie(bad));
  }
}

TEST_CASE("Set-Cookie: deletion cookies, host-only and per domain, honouring prefixes") {
  const sys_seconds now = at(2026, 11, 23);
  const auto host_only = build_deletion_set_cookie("_ga", "");
  REQUIRE(host_only);
  CHECK(*host_only == "_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/");
  const SetCookie host_cookie = parsed(*host_only);
  CHECK(host_cookie.is_deletion(now));
  CHECK_FALSE(host_cookie.domain());

  const auto parent = build_deletion_set_cookie("_ga", "example.gov.uk");
  REQUIRE(parent);
  CHECK(parsed(*parent).domain() == "example.gov.uk");
  CHECK(parsed(*parent).is_deletion(now));

  const auto secure = build_deletion_set_cookie("__Secure-token", "example.gov.uk");
  REQUIRE(secure);
  CHECK(parsed(*secure).secure());
  CHECK(prefix_violation(parsed(*secure)) == "");

  const auto host = build_deletion_set_cookie("__Host-session", "");
  REQUIRE(host);
  CHECK(*host ==
        "__Host-session=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Secure");
  CHECK(prefix_violation(parsed(*host)) == "");
  CHECK_FALSE(build_deletion_set_cookie("__Host-session", "example.gov.uk"));
  CHECK_FALSE(build_deletion_set_cookie("", ""));

  // The text build_set_cookie writes for such a cookie, and the same refusals.
  CHECK(parent ==
        build_set_cookie(NewCookie{
            .name = "_ga", .max_age = std::chrono::seconds{0}, .domain = "example.gov.uk"}));
  CHECK(secure == build_set_cookie(NewCookie{.name = "__Secure-token",
                                             .max_age = std::chrono::seconds{0},
                                             .domain = "example.gov.uk",
                                             .secure = true}));
  CHECK_FALSE(build_deletion_set_cookie("a=b", ""));
  CHECK_FALSE(build_deletion_set_cookie("a\n", ""));
  CHECK_FALSE(build_deletion_set_cookie("a", "e.org; Secure"));
}
