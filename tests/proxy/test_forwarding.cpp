#include <catch2/catch.hpp>

#include <string>

#include "forwarding.hpp"

namespace http = boost::beast::http;
using namespace veil::proxy;

namespace {

RequestHead request_with(std::initializer_list<std::pair<const char*, const char*>> fields) {
  RequestHead head;
  head.method(http::verb::get);
  head.target("/");
  head.version(11);
  for (const auto& [name, value] : fields) head.insert(name, value);
  return head;
}

std::string serialised(const RequestHead& head) {
  std::string out;
  serialise_request_head(head, out);
  return out;
}

ForwardingContext context_for(const char* peer, const char* client, bool trusted) {
  ForwardingContext context;
  context.peer_address = boost::asio::ip::make_address(peer);
  context.client_address = boost::asio::ip::make_address(client);
  context.peer_trusted = trusted;
  return context;
}

}  // namespace

TEST_CASE("hop-by-hop fields and the fields Connection names are removed") {
  auto head = request_with({{"Host", "a"},
                            {"Connection", "keep-alive, X-Private"},
                            {"X-Private", "1"},
                            {"Keep-Alive", "timeout=5"},
                            {"Proxy-Connection", "keep-alive"},
                            {"TE", "trailers"},
                            {"Trailer", "X"},
                            {"Transfer-Encoding", "chunked"},
                            {"Content-Length", "3"},
                            {"Upgrade", "websocket"},
                            {"X_Forwarded_For", "1.2.3.4"},
                            {"Accept", "*/*"}});
  remove_hop_by_hop(head, false);
  CHECK(serialised(head) == "GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n");
}

TEST_CASE("Upgrade survives when tunnelling") {
  auto head = request_with({{"Connection", "Upgrade"}, {"Upgrade", "websocket"}});
  remove_hop_by_hop(head, true);
  CHECK(head[http::field::upgrade] == "websocket");
  CHECK(head.count(http::field::connection) == 0);
}

TEST_CASE("an untrusted peer's forwarding chain is replaced") {
  auto head = request_with({{"X-Forwarded-For", "6.6.6.6"},
                            {"Forwarded", "for=6.6.6.6"},
                            {"X-Forwarded-Proto", "https"},
                            {"X-Real-IP", "6.6.6.6"}});
  set_forwarding_fields(head, context_for("192.0.2.1", "192.0.2.1", false));
  CHECK(head["X-Forwarded-For"] == "192.0.2.1");
  CHECK(head[http::field::forwarded] == "for=192.0.2.1;proto=http");
  CHECK(head["X-Forwarded-Proto"] == "http");
  CHECK(head["X-Real-IP"] == "192.0.2.1");
  CHECK(head[http::field::via] == "1.1 veil");
}

TEST_CASE("a trusted peer's chain is extended with the peer") {
  auto head = request_with({{"X-Forwarded-For", "198.51.100.7, 10.0.0.2"},
                            {"X-Forwarded-Proto", "https"},
                            {"Via", "1.1 lb"}});
  set_forwarding_fields(head, context_for("10.0.0.1", "198.51.100.7", true));
  CHECK(head["X-Forwarded-For"] == "198.51.100.7, 10.0.0.2, 10.0.0.1");
  CHECK(head["X-Forwarded-Proto"] == "https");
  CHECK(head["X-Real-IP"] == "198.51.100.7");
  CHECK(head[http::field::forwarded] == "for=10.0.0.1;proto=http");
  CHECK(head[http::field::via] == "1.1 lb, 1.1 veil");
}

TEST_CASE("IPv6 nodes are quoted in Forwarded") {
  auto head = request_with({});
  set_forwarding_fields(head, context_for("2001:db8::1", "2001:db8::1", false));
  CHECK(head[http::field::forwarded] == "for=\"[2001:db8::1]\";proto=http");
}

TEST_CASE("anonymised and none modes never pass a raw address") {
  auto head = request_with({{"X-Forwarded-For", "198.51.100.7"}});
  auto context = context_for("10.0.0.1", "198.51.100.7", true);
  context.mode = ForwardClientIp::anonymised;
  context.anonymised_client_address = "198.51.100.0";
  set_forwarding_fields(head, context);
  CHECK(head["X-Forwarded-For"] == "198.51.100.0");
  CHECK(head["X-Real-IP"] == "198.51.100.0");
  CHECK(serialised(head).find("198.51.100.7") == std::string::npos);
  CHECK(serialised(head).find("10.0.0.1") == std::string::npos);

  auto none = request_with({{"X-Forwarded-For", "198.51.100.7"}, {"Forwarded", "for=1.1.1.1"}});
  context.mode = ForwardClientIp::none;
  set_forwarding_fields(none, context);
  CHECK(none.count("X-Forwarded-For") == 0);
  CHECK(none.count(http::field::forwarded) == 0);
  CHECK(none.count("X-Real-IP") == 0);
}

TEST_CASE("trailers exclude framing and sensitive fields") {
  CHECK(allowed_in_trailer("X-Checksum"));
  CHECK_FALSE(allowed_in_trailer("Content-Length"));
  CHECK_FALSE(allowed_in_trailer("transfer-encoding"));
  CHECK_FALSE(allowed_in_trailer("Set-Cookie"));
  CHECK_FALSE(allowed_in_trailer("X_Sneaky"));
}

TEST_CASE("response heads serialise with a reason phrase") {
  ResponseHead head;
  head.result(404);
  head.set(http::field::content_length, "0");
  std::string out;
  serialise_response_head(head, out);
  CHECK(out == "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
}

TEST_CASE(
    "the forwarded head: Expect dropped, Upgrade kept for a tunnel, Host added when missing") {
  const Upstream site{.name = "site", .host = "127.0.0.1", .port = 80, .server_names = {}};
  const Upstream v6{.name = "v6", .host = "::1", .port = 8081, .server_names = {}};

  RequestHead with_host =
      request_with({{"Host", "www.example.gov.uk"}, {"Expect", "100-continue"}});
  prepare_forwarded_head(with_host, false, site);
  CHECK(with_host[http::field::host] == "www.example.gov.uk");
  CHECK(with_host.find(http::field::expect) == with_host.end());

  RequestHead old = request_with({{"Connection", "Upgrade"}, {"Upgrade", "websocket"}});
  prepare_forwarded_head(old, true, site);
  CHECK(old[http::field::host] == "127.0.0.1");  // port 80 left out
  CHECK(old[http::field::connection] == "upgrade");
  CHECK(old[http::field::upgrade] == "websocket");

  RequestHead to_v6 = request_with({});
  prepare_forwarded_head(to_v6, false, v6);
  CHECK(to_v6[http::field::host] == "[::1]:8081");
}
