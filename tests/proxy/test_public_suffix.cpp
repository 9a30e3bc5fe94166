#include <catch2/catch.hpp>

#include <filesystem>
#include <string_view>
#include <vector>

#include "veil/proxy/public_suffix.hpp"

using namespace veil::proxy;
using Domains = std::vector<std::string_view>;

TEST_CASE("public suffix rules: normal, wildcard, exception, default", "[public_suffix]") {
  const auto list = PublicSuffixList::parse(
      "// comment\nuk\nco.uk\ngov.uk\n\n*.ck\n!www.ck\ncom   trailing words\n");
  CHECK(list.public_suffix("www.example.gov.uk") == "gov.uk");
  CHECK(list.public_suffix("shop.example.co.uk") == "co.uk");
  CHECK(list.public_suffix("example.uk") == "uk");
  CHECK(list.public_suffix("a.b.ck") == "b.ck");
  CHECK(list.public_suffix("www.ck") == "ck");
  CHECK(list.public_suffix("example.com") == "com");
  CHECK(list.public_suffix("example.test") == "test");  // the implicit "*" rule
}

TEST_CASE("cookie domains: the host and each parent below the public suffix", "[public_suffix]") {
  const auto list = PublicSuffixList::parse("uk\nco.uk\ngov.uk\n*.ck\n!www.ck\n");
  CHECK(list.cookie_domains("www.example.gov.uk") ==
        Domains{"www.example.gov.uk", "example.gov.uk"});
  CHECK(list.cookie_domains("a.b.example.co.uk") ==
        Domains{"a.b.example.co.uk", "b.example.co.uk", "example.co.uk"});
  CHECK(list.cookie_domains("example.gov.uk") == Domains{"example.gov.uk"});
  CHECK(list.cookie_domains("gov.uk").empty());  // a public suffix holds no cookies
  CHECK(list.cookie_domains("x.y.ck") == Domains{"x.y.ck"});
  CHECK(list.cookie_domains("www.ck") == Domains{"www.ck"});
  CHECK(list.cookie_domains("localhost").empty());
  CHECK(list.cookie_domains("192.168.1.10").empty());
  CHECK(list.cookie_domains("[::1]").empty());
  CHECK(list.cookie_domains("bad..name.gov.uk").empty());
  CHECK(list.cookie_domains("a;b.gov.uk").empty());
}

TEST_CASE("the system list gives gov.uk, co.uk and the private suffixes", "[public_suffix]") {
  if (!std::filesystem::exists(PublicSuffixList::kSystemPath)) {
    WARN("no " << PublicSuffixList::kSystemPath << " (Debian package publicsuffix)");
    return;
  }
  const auto list = PublicSuffixList::load();
  CHECK(list.size() > 5000);
  CHECK(list.cookie_domains("www.example.gov.uk") ==
        Domains{"www.example.gov.uk", "example.gov.uk"});
  CHECK(list.public_suffix("www.bbc.co.uk") == "co.uk");
  CHECK(list.public_suffix("my.service.gov.uk") == "service.gov.uk");
  CHECK(list.public_suffix("foo.github.io") == "github.io");
}

TEST_CASE("an unreadable list is an error naming the file", "[public_suffix]") {
  CHECK_THROWS_WITH(PublicSuffixList::load("/nonexistent/psl.dat"),
                    Catch::Contains("/nonexistent/psl.dat"));
}

TEST_CASE("Host header normalisation", "[public_suffix]") {
  CHECK(normalise_host("WWW.Example.GOV.uk:8080") == "www.example.gov.uk");
  CHECK(normalise_host(" example.gov.uk. ") == "example.gov.uk");
  CHECK(normalise_host("[::1]:8443") == "[::1]");
}
