// The filter chain end to end inside one process: a local-handler-only Server as the origin, a
// proxying Server in front of it with test filters, and a blocking socket as the client.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <mutex>
#include <string>

#include "server_core.hpp"
#include "upstream_pool.hpp"
#include "veil/proxy/filter.hpp"
#include "veil/proxy/server.hpp"

using namespace veil::proxy;

namespace {

// Sends `request` to 127.0.0.1:port and returns everything received until the server closes.
std::string round_trip(std::uint16_t port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size()));
  std::string received;
  char buffer[4096];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) received.append(buffer, n);
  ::close(fd);
  return received;
}

// The content of a complete chunked body; "<malformed>" if it is not one.
std::string dechunked(std::string_view body) {
  std::string content;
  for (;;) {
    const auto line_end = body.find("\r\n");
    if (line_end == std::string_view::npos) return "<malformed>";
    std::size_t size = 0;
    const auto [end, error] = std::from_chars(body.data(), body.data() + line_end, size, 16);
    if (error != std::errc() || end != body.data() + line_end) return "<malformed>";
    body.remove_prefix(line_end + 2);
    if (size == 0) return body == "\r\n" ? content : "<malformed>";
    if (body.size() < size + 2 || body.substr(size, 2) != "\r\n") return "<malformed>";
    content += body.substr(0, size);
    body.remove_prefix(size + 2);
  }
}

class UppercaseBody final : public BodyTransform {
 public:
  void transform(std::string_view chunk, std::string& out) override {
    for (char c : chunk) out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  void finish(std::string& out) override { out += "!"; }
};

// What a BodyWatcher saw; written on a proxy thread, read by the test.
struct Watched {
  std::mutex mutex;
  std::string text;
  std::string get() {
    std::lock_guard lock(mutex);
    return text;
  }
  void add(std::string_view more) {
    std::lock_guard lock(mutex);
    text += more;
  }
};

// Reads the body without changing it, as a report-only check does.
class BodyWatcher final : public BodyTransform {
 public:
  explicit BodyWatcher(Watched& seen) : seen_(seen) {}
  void transform(std::string_view chunk, std::string&) override { seen_.add(chunk); }
  void finish(std::string&) override { seen_.add("<end>"); }
  bool reads_only() const override { return true; }

 private:
  Watched& seen_;
};

class TestFilter final : public Filter {
 public:
  std::atomic<int> completed{0};
  std::atomic<bool> saw_loopback_client{false};
  Watched watched;

  void on_request(Exchange& exchange) override {
    saw_loopback_client = exchange.client_address.to_string() == "127.0.0.1";
    exchange.request.set("X-Added-By-Filter", "yes");
  }
  void on_response_head(Exchange& exchange) override { exchange.response.set("X-Seen", "1"); }
  std::unique_ptr<BodyTransform> response_body_transform(Exchange& exchange) override {
    if (exchange.request.target() == "/watch") return std::make_unique<BodyWatcher>(watched);
    if (exchange.request.target() != "/shout") return nullptr;
    return std::make_unique<UppercaseBody>();
  }
  void on_complete(Exchange&) override { ++completed; }
};

ServerSettings local_settings() {
  ServerSettings settings;
  settings.listen = {"127.0.0.1:0"};
  settings.threads = 1;
  return settings;
}

}  // namespace

TEST_CASE("filters see, edit and transform exchanges; local handlers answer inside the proxy") {
  Server origin(local_settings(),
                {std::make_shared<LocalHandlerFilter>("", [](const LocalRequest& request) {
                  LocalResponse response;
                  const bool marked =
                      std::any_of(request.headers.begin(), request.headers.end(),
                                  [](const auto& h) { return h.first == "X-Added-By-Filter"; });
                  response.body = marked ? "hello from the origin" : "unmarked";
                  response.headers.emplace_back("Content-Type", "text/plain");
                  return response;
                })});
  origin.start();

  auto filter = std::make_shared<TestFilter>();
  ServerSettings settings = local_settings();
  settings.threads = 2;
  settings.upstreams.push_back(
      parse_upstream_url("http://127.0.0.1:" + std::to_string(origin.listening_ports()[0])));
  Server proxy(
      settings,
      {filter, std::make_shared<LocalHandlerFilter>("/_veil/", [](const LocalRequest& request) {
         return LocalResponse{201, {{"X-Method", request.method}}, "got " + request.body};
       })});
  proxy.start();
  const std::uint16_t port = proxy.listening_ports()[0];

  SECTION("a body transform re-frames the response as chunked") {
    const std::string response =
        round_trip(port, "GET /shout HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    CHECK(response.starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(response.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
    CHECK(response.find("Content-Length") == std::string::npos);
    CHECK(response.find("X-Seen: 1\r\n") != std::string::npos);
    // How the body is cut into chunks depends on how it arrived from the origin.
    CHECK(dechunked(response.substr(response.find("\r\n\r\n") + 4)) == "HELLO FROM THE ORIGIN!");
    CHECK(filter->saw_loopback_client.load());
  }
  SECTION("without a transform the origin's length is kept") {
    const std::string response =
        round_trip(port, "GET /plain HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    CHECK(response.find("Content-Length: 21\r\n") != std::string::npos);
    CHECK(response.ends_with("\r\n\r\nhello from the origin"));
  }
  SECTION("a transform that only reads sees the body, which keeps the origin's length and bytes") {
    const std::string response =
        round_trip(port, "GET /watch HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    CHECK(response.find("Content-Length: 21\r\n") != std::string::npos);
    CHECK(response.find("Transfer-Encoding") == std::string::npos);
    CHECK(response.ends_with("\r\n\r\nhello from the origin"));
    CHECK(filter->watched.get() == "hello from the origin<end>");
  }
  SECTION("a local handler gets the body and its response goes through on_response_head") {
    const std::string response =
        round_trip(port,
                   "POST /_veil/consent HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: "
                   "close\r\n\r\na=1");
    CHECK(response.starts_with("HTTP/1.1 201 Created\r\n"));
    CHECK(response.find("X-Method: POST\r\n") != std::string::npos);
    CHECK(response.find("X-Seen: 1\r\n") != std::string::npos);
    CHECK(response.ends_with("\r\n\r\ngot a=1"));
  }
  SECTION("rejected requests complete too and never reach a handler") {
    const std::string response = round_trip(port, "GET / HTTP/1.1\r\n\r\n");
    CHECK(response.starts_with("HTTP/1.1 400 Bad Request\r\n"));
    CHECK_FALSE(filter->saw_loopback_client.load());  // on_request never ran
  }
  CHECK(filter->completed.load() == 1);

  CHECK(proxy.drain(std::chrono::seconds(5)));
  proxy.stop();
  origin.stop();
}

TEST_CASE("server names: exact beats wildcard, a longer wildcard beats a shorter one", "[route]") {
  CHECK(server_name_match("www.example.gov.uk", "www.example.gov.uk") >
        server_name_match("*.example.gov.uk", "www.example.gov.uk"));
  CHECK(server_name_match("*.example.gov.uk", "a.b.example.gov.uk") > 0);
  CHECK(server_name_match("*.b.example.gov.uk", "a.b.example.gov.uk") >
        server_name_match("*.example.gov.uk", "a.b.example.gov.uk"));
  CHECK(server_name_match("*.example.gov.uk", "example.gov.uk") == 0);  // subdomains only
  CHECK(server_name_match("*.example.gov.uk", "badexample.gov.uk") == 0);
  CHECK(server_name_match("*.example.gov.uk", "www.example.gov.uk.evil") == 0);
  CHECK(server_name_match("www.example.gov.uk", "example.gov.uk") == 0);
}

TEST_CASE("route() picks the most specific upstream, exact before wildcard, else the default",
          "[route]") {
  ServerCore core;
  auto add = [&](std::string name, std::vector<std::string> server_names) {
    core.pools.push_back(std::make_unique<UpstreamPool>(
        Upstream{std::move(name), "127.0.0.1", 80, std::move(server_names)},
        std::vector<boost::asio::ip::tcp::endpoint>{}, 0, std::chrono::milliseconds(1000), 1));
  };
  add("council", {});  // the default
  add("wide", {"*.example.gov.uk"});
  add("narrow", {"*.planning.example.gov.uk"});
  add("exact", {"maps.planning.example.gov.uk", "www.example.gov.uk"});
  const auto routed = [&](std::string_view host) { return core.route(host)->upstream().name; };
  CHECK(routed("bins.example.gov.uk") == "wide");
  CHECK(routed("BINS.Example.GOV.uk:8443") == "wide");
  CHECK(routed("www.example.gov.uk") == "exact");
  CHECK(routed("apply.planning.example.gov.uk") == "narrow");
  CHECK(routed("maps.planning.example.gov.uk") == "exact");
  CHECK(routed("planning.example.gov.uk") == "wide");
  CHECK(routed("example.gov.uk") == "council");
  CHECK(routed("elsewhere.example") == "council");

  ServerCore without_default;
  without_default.pools.push_back(std::make_unique<UpstreamPool>(
      Upstream{"wide", "127.0.0.1", 80, {"*.example.gov.uk"}},
      std::vector<boost::asio::ip::tcp::endpoint>{}, 0, std::chrono::milliseconds(1000), 1));
  CHECK(without_default.route("example.gov.uk") == nullptr);
  CHECK(without_default.route("a.example.gov.uk") != nullptr);
}
