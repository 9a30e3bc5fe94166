#include <catch2/catch.hpp>

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "veil/policies/http_date.hpp"
#include "veil/proxy/demo_origin.hpp"

namespace fs = std::filesystem;
using veil::proxy::DemoOrigin;
using veil::proxy::LocalRequest;
using veil::proxy::LocalResponse;

namespace {

const fs::path kSite = fs::path(VEIL_SOURCE_DIR) / "demo" / "site";

LocalRequest request(std::string method, std::string target, std::string body = {},
                     std::string content_type = "application/x-www-form-urlencoded") {
  LocalRequest result;
  result.method = std::move(method);
  result.target = std::move(target);
  result.body = std::move(body);
  if (!result.body.empty()) result.headers.emplace_back("content-type", content_type);
  return result;
}

std::vector<std::string> headers(const LocalResponse& response, std::string_view name) {
  std::vector<std::string> values;
  for (const auto& [key, value] : response.headers) {
    if (key == name) values.push_back(value);
  }
  return values;
}

std::string header(const LocalResponse& response, std::string_view name) {
  const auto values = headers(response, name);
  return values.empty() ? std::string() : values.front();
}

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The cookie's lifetime from now, from its `expires` attribute.
std::chrono::hours lifetime(const std::string& set_cookie) {
  const auto start = set_cookie.find("expires=");
  REQUIRE(start != std::string::npos);
  const auto end = set_cookie.find(';', start);
  const auto expires = veil::policies::parse_cookie_date(
      std::string_view(set_cookie).substr(start + 8, end - start - 8));
  REQUIRE(expires);
  return std::chrono::duration_cast<std::chrono::hours>(*expires -
                                                        std::chrono::system_clock::now());
}

struct TempSite {
  fs::path base;
  fs::path root;
  TempSite() {
    std::string pattern = (fs::temp_directory_path() / "veil-demo-site-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    base = pattern;
    root = base / "site";
    fs::create_directories(root / "assets");
    std::ofstream(root / "index.html") << "<h1>home</h1>";
    std::ofstream(root / "assets" / "a b.css") << "body{}";
    std::ofstream(base / "secret.txt") << "outside the site";
    fs::create_symlink(base / "secret.txt", root / "leak.txt");
    fs::create_directory_symlink(base, root / "up");
  }
  ~TempSite() { fs::remove_all(base); }
};

}  // namespace

TEST_CASE("the demo site's pages are served with their content types", "[demo_origin]") {
  const DemoOrigin origin(kSite);
  const auto home = origin.handle(request("GET", "/"));
  CHECK(home.status == 200);
  CHECK(header(home, "Content-Type") == "text/html; charset=utf-8");
  CHECK(home.body == read(kSite / "index.html"));

  const auto bins = origin.handle(request("GET", "/bins-and-recycling?postcode=EB1+4QT"));
  CHECK(bins.status == 200);
  CHECK(bins.body == read(kSite / "bins-and-recycling.html"));

  const auto css = origin.handle(request("GET", "/assets/council.css"));
  CHECK(css.status == 200);
  CHECK(header(css, "Content-Type") == "text/css; charset=utf-8");
  CHECK(header(origin.handle(request("GET", "/assets/analytics.js")), "Content-Type") ==
        "text/javascript; charset=utf-8");
  CHECK(header(origin.handle(request("GET", "/assets/crest.svg")), "Content-Type") ==
        "image/svg+xml");

  const auto head = origin.handle(request("HEAD", "/sign-in"));
  CHECK(head.status == 200);
  CHECK(head.body == read(kSite / "sign-in.html"));  // the server sends only its length
}

TEST_CASE("the bins page carries every kind of embed the consent filters must handle",
          "[demo_origin]") {
  const auto page = DemoOrigin(kSite).handle(request("GET", "/bins-and-recycling")).body;
  CHECK_THAT(page, Catch::Contains("<iframe width=\"560\" height=\"315\" "
                                   "src=\"https://www.youtube.com/embed/"));
  CHECK_THAT(page, Catch::Contains("src=\"https://www.google.com/maps/embed?pb="));
  CHECK_THAT(page, Catch::Contains("'https://www.googletagmanager.com/gtm.js?id='"));
  CHECK_THAT(page,
             Catch::Contains("<script async src=\"https://www.googletagmanager.com/gtag/js?id=G-"));
  CHECK_THAT(page, Catch::Contains("gtag('config', 'G-"));
  CHECK_THAT(page, Catch::Contains("src=\"https://www.facebook.com/tr?id="));
  CHECK_THAT(page, Catch::Contains("src=\"//s7.addthis.com/js/300/addthis_widget.js"));
  CHECK_THAT(page, Catch::Contains("platform-api.sharethis.com/js/sharethis.js"));
  CHECK_THAT(page, Catch::Contains("<script src=\"/assets/analytics.js\""));
  const auto script = DemoOrigin(kSite).handle(request("GET", "/assets/analytics.js")).body;
  CHECK_THAT(script, Catch::Contains("document.cookie = '_ga=GA1.1."));
}

TEST_CASE("unknown paths get the site's 404 page", "[demo_origin]") {
  const DemoOrigin origin(kSite);
  const auto missing = origin.handle(request("GET", "/council-tax"));
  CHECK(missing.status == 404);
  CHECK(missing.body == read(kSite / "404.html"));
  CHECK(origin.handle(request("GET", "/assets/missing.css")).status == 404);
}

TEST_CASE("nothing outside the site directory is ever served", "[demo_origin]") {
  TempSite site;
  const DemoOrigin origin(site.root);
  CHECK(origin.handle(request("GET", "/")).body == "<h1>home</h1>");
  CHECK(origin.handle(request("GET", "/assets/a%20b.css")).body == "body{}");
  for (const char* target : {"/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt",
                             "/assets/..%2f..%2fsecret.txt", "/assets/../../secret.txt",
                             "/..%5csecret.txt", "/.%2e/secret.txt", "/index.html%00.css",
                             "/leak.txt", "/up/secret.txt", "//secret.txt", "/./index.html"}) {
    INFO(target);
    const auto response = origin.handle(request("GET", target));
    CHECK(response.status == 404);
    CHECK(response.body.find("outside the site") == std::string::npos);
  }
  CHECK(origin.handle(request("GET", "/%zz")).status == 400);
  CHECK(origin.handle(request("GET", "/trailing%2")).status == 400);
  CHECK(origin.handle(request("GET", "relative")).status == 400);
}

TEST_CASE("signing in sets over-long session and remember-me cookies", "[demo_origin]") {
  const DemoOrigin origin(kSite);
  const auto response = origin.handle(request(
      "POST", "/sign-in", "username=resident%40example.org&password=p%26ss+word&remember=on"));
  CHECK(response.status == 303);
  CHECK(header(response, "Location") == "/");
  const auto cookies = headers(response, "Set-Cookie");
  REQUIRE(cookies.size() == 2);
  CHECK_THAT(cookies[0], Catch::StartsWith("ASP.NET_SessionId="));
  CHECK_THAT(cookies[0], Catch::EndsWith("; path=/; HttpOnly"));
  CHECK(lifetime(cookies[0]) >= std::chrono::hours(24 * 30 - 1));
  CHECK(lifetime(cookies[0]) <= std::chrono::hours(24 * 30));
  CHECK_THAT(cookies[1], Catch::StartsWith("remember_me="));
  CHECK(lifetime(cookies[1]) >= std::chrono::hours(24 * 365 - 1));

  const auto again = origin.handle(request("POST", "/sign-in", "username=a&password=b"));
  const auto session_cookies = headers(again, "Set-Cookie");
  REQUIRE(session_cookies.size() == 1);  // no "remember me": no remember_me cookie
  CHECK(session_cookies[0].substr(0, 40) != cookies[0].substr(0, 40));  // a fresh session id
}

TEST_CASE("the sign-in form is checked before anything is set", "[demo_origin]") {
  const DemoOrigin origin(kSite);
  const auto empty = origin.handle(request("POST", "/sign-in", "username=a&password="));
  CHECK(empty.status == 400);
  CHECK(headers(empty, "Set-Cookie").empty());
  CHECK_THAT(empty.body, Catch::Contains("Enter your username and your password"));

  const auto json =
      origin.handle(request("POST", "/sign-in", "{\"username\":\"a\"}", "application/json"));
  CHECK(json.status == 415);
  CHECK(headers(json, "Set-Cookie").empty());
  CHECK(origin
            .handle(request("POST", "/sign-in", "username=a&password=b",
                            "Application/X-WWW-Form-Urlencoded; charset=UTF-8"))
            .status == 303);

  const auto put = origin.handle(request("PUT", "/sign-in", "username=a&password=b"));
  CHECK(put.status == 405);
  CHECK(header(put, "Allow") == "GET, HEAD, POST");
  const auto post_elsewhere = origin.handle(request("POST", "/", "username=a&password=b"));
  CHECK(post_elsewhere.status == 405);
  CHECK(header(post_elsewhere, "Allow") == "GET, HEAD");
}

TEST_CASE("a missing site directory fails at construction", "[demo_origin]") {
  CHECK_THROWS_WITH(DemoOrigin("/nonexistent/site"), Catch::Contains("/nonexistent/site"));
}
