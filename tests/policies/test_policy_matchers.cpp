#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "veil/policies/loader.hpp"
#include "veil/policies/matchers.hpp"

using namespace veil::policies;

namespace {
CookiePattern exact(std::string text) {
  return {CookiePatternKind::exact, std::move(text), {}, {}};
}
CookiePattern glob(std::string text) {
  return {CookiePatternKind::glob, std::move(text), {}, {}};
}
CookiePattern regex(std::string text) {
  return {CookiePatternKind::regex, std::move(text), {}, {}};
}
}  // namespace

TEST_CASE("glob matching", "[matchers]") {
  CHECK(glob_matches("_ga_*", "_ga_ABC"));
  CHECK(glob_matches("_ga_*", "_ga_"));
  CHECK_FALSE(glob_matches("_ga_*", "_ga"));
  CHECK(glob_matches("*_session", "laravel_session"));
  CHECK(glob_matches("a?c", "abc"));
  CHECK_FALSE(glob_matches("a?c", "ac"));
  CHECK(glob_matches("a*b*c", "a-b-b-c"));
  CHECK_FALSE(glob_matches("a*b*c", "a-b-b-"));
  CHECK(glob_matches("*", ""));
  CHECK_FALSE(glob_matches("ABC", "abc"));  // cookie names are case-sensitive
}

TEST_CASE("cookie matcher: exact, glob and regex", "[matchers]") {
  CookieMatcher matcher({exact("_ga"), glob("_ga_*"), regex("_pk_(id|ses)\\..*"), glob("*_session"),
                         glob("a?c"), exact("x*y")});
  CHECK(matcher.first_match("_ga") == 0U);
  CHECK(matcher.first_match("_ga_XYZ") == 1U);
  CHECK(matcher.first_match("_pk_id.1.abcd") == 2U);
  CHECK_FALSE(matcher.first_match("_pk_ref.1.abcd"));
  CHECK(matcher.first_match("laravel_session") == 3U);
  CHECK(matcher.first_match("abc") == 4U);
  CHECK(matcher.first_match("x*y") == 5U);
  CHECK_FALSE(matcher.first_match("xzy"));  // an exact name's '*' is a plain character
  CHECK_FALSE(matcher.first_match("_gid"));
  CHECK_FALSE(matcher.first_match(""));
  // Regexes are anchored at both ends.
  CHECK_FALSE(matcher.first_match("x_pk_id.1"));
}

TEST_CASE("cookie matcher: the first matching rule in file order wins", "[matchers]") {
  // Each source (exact map, prefix table, RE2 set) has a candidate; the lowest index must win.
  CookieMatcher regex_first({regex("_g.*"), glob("_ga*"), exact("_ga")});
  CHECK(regex_first.first_match("_ga") == 0U);
  CookieMatcher prefix_first({glob("_g*"), regex("_ga"), exact("_ga")});
  CHECK(prefix_first.first_match("_ga") == 0U);
  CookieMatcher exact_first({exact("_ga"), glob("_g*"), regex("_ga")});
  CHECK(exact_first.first_match("_ga") == 0U);
  // Shorter and longer prefixes both match; the earlier rule wins whatever its length.
  CookieMatcher prefixes({glob("_hjSession_*"), glob("_hj*")});
  CHECK(prefixes.first_match("_hjSession_123") == 0U);
  CHECK(prefixes.first_match("_hjid") == 1U);
}

TEST_CASE("cookie matcher: domain and path conditions", "[matchers]") {
  CookiePattern scoped = exact("sid");
  scoped.domain = "jobs.example.gov.uk";
  scoped.path = "/apply";
  CookieMatcher matcher({scoped, exact("sid")});
  CHECK(matcher.first_match("sid", "jobs.example.gov.uk", "/apply") == 0U);
  CHECK(matcher.first_match("sid", ".JOBS.example.gov.uk", "/apply/form") == 0U);
  CHECK(matcher.first_match("sid", "a.jobs.example.gov.uk", "/apply") == 0U);
  CHECK(matcher.first_match("sid", "www.example.gov.uk", "/apply") == 1U);
  CHECK(matcher.first_match("sid", "xjobs.example.gov.uk", "/apply") == 1U);
  CHECK(matcher.first_match("sid", "jobs.example.gov.uk", "/applying") == 1U);
  CHECK(matcher.first_match("sid", "", "/apply") == 1U);  // unknown domain: condition fails
}

TEST_CASE("cookie matcher agrees with the reference glob matcher", "[matchers]") {
  std::vector<std::string> globs{"_ga*", "_ga_*", "*a*", "a?*", "*_id", "b", "?", "ab*ba"};
  std::vector<CookiePattern> patterns;
  for (const auto& text : globs) patterns.push_back(glob(text));
  CookieMatcher matcher(patterns);
  std::mt19937 random(42);
  const std::string alphabet = "_gab";
  for (int round = 0; round < 2000; ++round) {
    std::string name;
    auto length = random() % 7;
    for (unsigned i = 0; i < length; ++i) name += alphabet[random() % alphabet.size()];
    std::optional<std::size_t> expected;
    for (std::size_t i = 0; i < globs.size() && !expected; ++i) {
      if (glob_matches(globs[i], name)) expected = i;
    }
    INFO(name);
    CHECK(matcher.first_match(name) == expected);
  }
}

TEST_CASE("cookie matcher: remembered names give the same answers, from any thread", "[matchers]") {
  // Names beyond the matcher's bounded memory of names, looked up repeatedly from several
  // threads: every answer must still be the first matching pattern.
  CookiePattern scoped = glob("sess*");
  scoped.domain = "jobs.example.gov.uk";
  const std::vector<CookiePattern> patterns{
      regex("[a-z]+_[0-9]+x"), glob("*_7*"), exact("_ga"), glob("_ga*"), scoped, glob("*")};
  CookieMatcher matcher(patterns);
  const auto expected = [](const std::string& name, std::string_view domain) -> std::size_t {
    const bool regex_matches = [&] {
      const auto underscore = name.find('_');
      if (underscore == std::string::npos || underscore == 0 || name.back() != 'x') return false;
      for (std::size_t i = 0; i < underscore; ++i) {
        if (name[i] < 'a' || name[i] > 'z') return false;
      }
      const std::string digits = name.substr(underscore + 1, name.size() - underscore - 2);
      return !digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos;
    }();
    if (regex_matches) return 0;
    if (glob_matches("*_7*", name)) return 1;
    if (name == "_ga") return 2;
    if (name.starts_with("_ga")) return 3;
    if (name.starts_with("sess") && domain == "jobs.example.gov.uk") return 4;
    return 5;
  };
  std::vector<std::string> names;
  for (int i = 0; i < 6000; ++i) {
    names.push_back("tracker_" + std::to_string(i) + (i % 3 == 0 ? "x" : ""));
    if (i % 10 == 0) names.push_back("_ga" + std::to_string(i));
    if (i % 10 == 0) names.push_back("session" + std::to_string(i));
  }
  names.push_back("_ga");
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int pass = 0; pass < 2; ++pass) {
        for (std::size_t i = static_cast<std::size_t>(t); i < names.size(); i += 2) {
          const std::string_view domain = i % 2 ? "jobs.example.gov.uk" : "www.example.gov.uk";
          if (matcher.first_match(names[i], domain) != expected(names[i], domain)) {
            ++mismatches[static_cast<std::size_t>(t)];
          }
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(mismatches == std::vector<int>(4, 0));
  CHECK(matcher.first_match("tracker_7x") == 0U);
  CHECK(matcher.first_match("session1", "jobs.example.gov.uk") == 4U);
  CHECK(matcher.first_match("session1", "www.example.gov.uk") == 5U);
}

TEST_CASE("cookie matcher rejects invalid regexes", "[matchers]") {
  CHECK_THROWS_WITH(CookieMatcher({regex("(a")}), "invalid regex '(a': missing ): (a");
}

TEST_CASE("pattern coverage decides shadowing", "[matchers]") {
  CHECK(pattern_covers(glob("_ga*"), glob("_ga_*")));
  CHECK_FALSE(pattern_covers(glob("_ga_*"), glob("_ga*")));
  CHECK(pattern_covers(glob("_ga*"), exact("_ga")));
  CHECK(pattern_covers(glob("*"), regex("anything")) ==
        false);  // regexes are never judged narrower
  CHECK(pattern_covers(glob("a?c"), exact("abc")));
  CHECK_FALSE(pattern_covers(glob("a?c"), glob("a*c")));
  CHECK(pattern_covers(glob("a*c"), glob("a?c")));
  CHECK(pattern_covers(exact("x"), exact("x")));
  CHECK_FALSE(pattern_covers(exact("x*"), glob("x*")));
  CHECK(pattern_covers(regex("_pk_.*"), exact("_pk_id")));
  CHECK_FALSE(pattern_covers(regex("_pk_.*"), glob("_pk_*")));
  CookiePattern scoped = glob("_ga*");
  scoped.domain = "example.gov.uk";
  CHECK_FALSE(pattern_covers(scoped, exact("_ga")));
  CookiePattern narrower = exact("_ga");
  narrower.domain = "www.example.gov.uk";
  CHECK(pattern_covers(scoped, narrower));
}

TEST_CASE("host matcher: exact names and wildcard suffixes", "[matchers]") {
  HostMatcher matcher({"youtube.com", "*.youtube.com", "www.google.com", "*.google.com",
                       "*.maps.google.com", "youtu.be"});
  CHECK(matcher.match("youtube.com") == 0U);
  CHECK(matcher.match("www.youtube.com") == 1U);
  CHECK(matcher.match("a.b.youtube.com") == 1U);
  CHECK(matcher.match("WWW.YouTube.COM.") == 1U);
  CHECK(matcher.match("www.google.com") == 2U);  // the exact name beats the wildcard
  CHECK(matcher.match("mail.google.com") == 3U);
  CHECK(matcher.match("x.maps.google.com") == 4U);  // the longest suffix wins
  CHECK(matcher.match("youtu.be") == 5U);
  CHECK_FALSE(matcher.match("google.com"));  // "*." does not include the apex
  CHECK_FALSE(matcher.match("notyoutube.com"));
  CHECK_FALSE(matcher.match("youtube.com.evil.example"));
  CHECK_FALSE(matcher.match(""));
  CHECK_FALSE(matcher.match(std::string(300, 'a')));
}

TEST_CASE("durations", "[values]") {
  using std::chrono::seconds;
  CHECK(parse_duration("30s") == seconds(30));
  CHECK(parse_duration("30m") == seconds(1800));
  CHECK(parse_duration("2h") == seconds(7200));
  CHECK(parse_duration("2d") == seconds(2 * 86400));
  CHECK(parse_duration("14d") == seconds(14 * 86400));
  CHECK(parse_duration("2w") == seconds(14 * 86400));
  CHECK(parse_duration("13mo") == seconds(390 * 86400));
  CHECK(parse_duration("1y") == seconds(365 * 86400));
  CHECK(parse_duration("1h30m") == seconds(5400));
  CHECK(parse_duration("0s") == seconds(0));
  for (const char* bad :
       {"", "30", "m", "2 days", "-1d", "1.5h", "3x", "1d ", "99999999999999999999y"}) {
    INFO(bad);
    CHECK_FALSE(parse_duration(bad));
  }
  CHECK(format_duration(seconds(390 * 86400)) == "13mo");
  CHECK(format_duration(seconds(365 * 86400)) == "1y");
  CHECK(format_duration(seconds(14 * 86400)) == "2w");
  CHECK(format_duration(seconds(2 * 86400)) == "2d");
  CHECK(format_duration(seconds(90)) == "90s");
  CHECK(format_duration(seconds(0)) == "0s");
}

TEST_CASE("sizes, endpoints, CIDRs", "[values]") {
  CHECK(parse_size("512") == 512U);
  CHECK(parse_size("8KiB") == 8192U);
  CHECK(parse_size("8k") == 8192U);
  CHECK(parse_size("1MiB") == 1048576U);
  CHECK(parse_size("1g") == 1073741824U);
  CHECK_FALSE(parse_size("1.5MiB"));
  CHECK_FALSE(parse_size("MiB"));
  CHECK_FALSE(parse_size("1 MiB"));

  auto endpoint = parse_endpoint("[::1]:8443");
  REQUIRE(endpoint);
  CHECK(endpoint->host == "::1");
  CHECK(endpoint->port == 8443);
  CHECK(parse_endpoint("127.0.0.1:80")->host == "127.0.0.1");
  CHECK_FALSE(parse_endpoint("::1:80"));  // IPv6 needs brackets
  CHECK_FALSE(parse_endpoint("localhost:80"));
  CHECK_FALSE(parse_endpoint("127.0.0.1:0"));
  CHECK_FALSE(parse_endpoint("127.0.0.1"));

  auto v4 = parse_cidr("10.1.2.3/8");
  REQUIRE(v4);
  CHECK(v4->network.is_v4());
  CHECK(v4->prefix_length == 8);
  CHECK(v4->network.to_string() == "10.0.0.0");  // host bits cleared
  auto v6 = parse_cidr("2001:db8::/32");
  REQUIRE(v6);
  CHECK_FALSE(v6->network.is_v4());
  CHECK(parse_cidr("192.0.2.1")->prefix_length == 32);
  CHECK_FALSE(parse_cidr("10.0.0.0/33"));
  CHECK_FALSE(parse_cidr("2001:db8::/129"));
  CHECK_FALSE(parse_cidr("10.0.0.0/"));
  CHECK_FALSE(parse_cidr("10.0.0.0/-1"));
  CHECK_FALSE(parse_cidr("example.com/8"));
  CHECK_FALSE(parse_cidr("fe80::1%eth0/64"));
}

TEST_CASE("CIDR membership, for trusted proxies", "[values]") {
  using veil::anonymiser::IpAddress;
  auto v4 = *parse_cidr("10.0.0.0/8");
  CHECK(v4.contains(*IpAddress::parse("10.255.1.2")));
  CHECK(v4.contains(*IpAddress::parse("::ffff:10.1.2.3")));  // dual-stack view of an IPv4 peer
  CHECK_FALSE(v4.contains(*IpAddress::parse("11.0.0.1")));
  CHECK_FALSE(v4.contains(*IpAddress::parse("::a00:1")));
  auto v6 = *parse_cidr("2001:db8:8000::/33");
  CHECK(v6.contains(*IpAddress::parse("2001:db8:8000::1")));
  CHECK(v6.contains(*IpAddress::parse("2001:db8:ffff::1")));
  CHECK_FALSE(v6.contains(*IpAddress::parse("2001:db8:7fff::1")));
  CHECK(parse_cidr("0.0.0.0/0")->contains(*IpAddress::parse("203.0.113.9")));
  CHECK(parse_cidr("192.0.2.7")->contains(*IpAddress::parse("192.0.2.7")));
  CHECK_FALSE(parse_cidr("192.0.2.7")->contains(*IpAddress::parse("192.0.2.8")));
}

TEST_CASE("did-you-mean suggestions", "[values]") {
  std::vector<std::string_view> keys{"listen", "limits", "upstreams", "trusted_proxies"};
  CHECK(closest_match("lsten", keys) == "listen");
  CHECK(closest_match("upstream", keys) == "upstreams");
  CHECK(closest_match("trusted_proxy", keys) == "trusted_proxies");
  CHECK_FALSE(closest_match("mode", keys));
  CHECK(edit_distance("kitten", "sitting") == 3U);
  CHECK(edit_distance("", "abc") == 3U);
}
