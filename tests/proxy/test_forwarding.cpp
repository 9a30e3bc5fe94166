#include <catch2/catch.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

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

ForwardingContext context_for(const char* peer, const char* client, bool trusted) {
  ForwardingContext context;
  context.peer_address = boost::asio::ip::make_address(peer);
  context.client_address = boost::asio::ip::make_address(client);
  context.peer_trusted = trusted;
  return context;
}

const Upstream& site() {
  static const Upstream upstream{
      .name = "site", .host = "127.0.0.1", .port = 80, .server_names = {}};
  return upstream;
}

std::string forwarded(const RequestHead& request, const ForwardingContext& context,
                      const ForwardedShape& shape = {}, const Upstream& upstream = site()) {
  std::string out;
  serialise_forwarded_request(request, upstream, shape, context, out);
  return out;
}

// The forwarded head parsed back, as the origin reads it.
RequestHead parsed(const std::string& head) {
  http::request_parser<http::empty_body> parser;
  boost::system::error_code error;
  parser.put(boost::asio::buffer(head), error);
  REQUIRE_FALSE(error);
  REQUIRE(parser.is_header_done());
  return parser.release().base();
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
                            {"Expect", "100-continue"},
                            {"Accept", "*/*"}});
  auto context = context_for("192.0.2.1", "192.0.2.1", false);
  context.mode = ForwardClientIp::none;
  CHECK(forwarded(head, context) ==
        "GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\nX-Forwarded-Proto: http\r\n"
        "Via: 1.1 veil\r\n\r\n");

  remove_hop_by_hop(head, false);
  CHECK(head.count(http::field::connection) == 0);
  CHECK(head.count("X-Private") == 0);
  CHECK(head.count(http::field::upgrade) == 0);
  CHECK(head.count("X_Forwarded_For") == 0);
  CHECK(head.count(http::field::transfer_encoding) == 0);
  CHECK(head[http::field::host] == "a");
  CHECK(head[http::field::accept] == "*/*");
}

TEST_CASE("Upgrade survives when tunnelling") {
  auto head = request_with({{"Host", "a"}, {"Connection", "Upgrade"}, {"Upgrade", "websocket"}});
  ForwardedShape tunnel;
  tunnel.upgrade = true;
  const auto sent = parsed(forwarded(head, context_for("192.0.2.1", "192.0.2.1", false), tunnel));
  CHECK(sent[http::field::upgrade] == "websocket");
  CHECK(sent[http::field::connection] == "upgrade");
  CHECK(sent.count(http::field::connection) == 1);

  remove_hop_by_hop(head, true);
  CHECK(head[http::field::upgrade] == "websocket");
  CHECK(head.count(http::field::connection) == 0);
}

TEST_CASE("an untrusted peer's forwarding chain is replaced") {
  auto head = request_with({{"X-Forwarded-For", "6.6.6.6"},
                            {"Forwarded", "for=6.6.6.6"},
                            {"X-Forwarded-Proto", "https"},
                            {"X-Real-IP", "6.6.6.6"}});
  const auto sent = parsed(forwarded(head, context_for("192.0.2.1", "192.0.2.1", false)));
  CHECK(sent["X-Forwarded-For"] == "192.0.2.1");
  CHECK(sent[http::field::forwarded] == "for=192.0.2.1;proto=http");
  CHECK(sent["X-Forwarded-Proto"] == "http");
  CHECK(sent["X-Real-IP"] == "192.0.2.1");
  CHECK(sent[http::field::via] == "1.1 veil");
  for (const char* name :
       {"X-Forwarded-For", "Forwarded", "X-Forwarded-Proto", "X-Real-IP", "Via"}) {
    CHECK(sent.count(name) == 1);
  }
  CHECK(head["X-Forwarded-For"] == "6.6.6.6");  // the exchange's request is left as received
}

TEST_CASE("a trusted peer's chain is extended with the peer") {
  auto head = request_with({{"X-Forwarded-For", "198.51.100.7"},
                            {"X-Forwarded-For", "10.0.0.2"},
                            {"X-Forwarded-Proto", "https"},
                            {"Via", "1.1 lb"},
                            {"Via", "1.0 cdn"}});
  const auto sent = parsed(forwarded(head, context_for("10.0.0.1", "198.51.100.7", true)));
  CHECK(sent["X-Forwarded-For"] == "198.51.100.7, 10.0.0.2, 10.0.0.1");
  CHECK(sent["X-Forwarded-Proto"] == "https");
  CHECK(sent["X-Real-IP"] == "198.51.100.7");
  CHECK(sent[http::field::forwarded] == "for=10.0.0.1;proto=http");
  CHECK(sent[http::field::via] == "1.1 lb, 1.0 cdn, 1.1 veil");
  CHECK(sent.count(http::field::via) == 1);

  // Two X-Forwarded-Proto values are ambiguous: the connection's own scheme is sent instead.
  auto twice = request_with({{"X-Forwarded-Proto", "https"}, {"X-Forwarded-Proto", "http"}});
  auto context = context_for("10.0.0.1", "198.51.100.7", true);
  context.tls = true;
  const auto sent_twice = parsed(forwarded(twice, context));
  CHECK(sent_twice.count("X-Forwarded-Proto") == 1);
  CHECK(sent_twice["X-Forwarded-Proto"] == "https");
}

TEST_CASE("IPv6 nodes are quoted in Forwarded") {
  auto head = request_with({});
  const auto sent = parsed(forwarded(head, context_for("2001:db8::1", "2001:db8::1", false)));
  CHECK(sent[http::field::forwarded] == "for=\"[2001:db8::1]\";proto=http");
  CHECK(sent["X-Forwarded-For"] == "2001:db8::1");
}

TEST_CASE("anonymised and none modes never pass a raw address") {
  auto head = request_with({{"X-Forwarded-For", "198.51.100.7"}});
  auto context = context_for("10.0.0.1", "198.51.100.7", true);
  context.mode = ForwardClientIp::anonymised;
  context.anonymised_client_address = "198.51.100.0";
  const std::string anonymised = forwarded(head, context);
  const auto sent = parsed(anonymised);
  CHECK(sent["X-Forwarded-For"] == "198.51.100.0");
  CHECK(sent["X-Real-IP"] == "198.51.100.0");
  CHECK(anonymised.find("198.51.100.7") == std::string::npos);
  CHECK(anonymised.find("10.0.0.1") == std::string::npos);

  auto none = request_with({{"X-Forwarded-For", "198.51.100.7"}, {"Forwarded", "for=1.1.1.1"}});
  context.mode = ForwardClientIp::none;
  const auto sent_none = parsed(forwarded(none, context));
  CHECK(sent_none.count("X-Forwarded-For") == 0);
  CHECK(sent_none.count(http::field::forwarded) == 0);
  CHECK(sent_none.count("X-Real-IP") == 0);
}

TEST_CASE("the forwarded body framing is the one veil chose") {
  auto head = request_with({{"Host", "a"}, {"Content-Length", "999"}});
  ForwardedShape sized;
  sized.framing = BodyFraming::content_length;
  sized.content_length = 12;
  const auto sent = parsed(forwarded(head, context_for("192.0.2.1", "192.0.2.1", false), sized));
  CHECK(sent[http::field::content_length] == "12");
  CHECK(sent.count(http::field::content_length) == 1);

  ForwardedShape chunked;
  chunked.framing = BodyFraming::chunked;
  const auto sent_chunked =
      parsed(forwarded(head, context_for("192.0.2.1", "192.0.2.1", false), chunked));
  CHECK(sent_chunked[http::field::transfer_encoding] == "chunked");
  CHECK(sent_chunked.count(http::field::content_length) == 0);
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

TEST_CASE("the forwarded head: HTTP/1.1, Expect dropped, Host added when missing") {
  const Upstream v6{.name = "v6", .host = "::1", .port = 8081, .server_names = {}};
  const auto context = context_for("192.0.2.1", "192.0.2.1", false);

  const auto with_host = parsed(forwarded(
      request_with({{"Host", "www.example.gov.uk"}, {"Expect", "100-continue"}}), context));
  CHECK(with_host[http::field::host] == "www.example.gov.uk");
  CHECK(with_host.find(http::field::expect) == with_host.end());

  RequestHead old = request_with({});
  old.version(10);
  const std::string old_sent = forwarded(old, context);
  CHECK(old_sent.rfind("GET / HTTP/1.1\r\n", 0) == 0);
  CHECK(parsed(old_sent)[http::field::host] == "127.0.0.1");  // port 80 left out
  CHECK(parsed(old_sent)[http::field::via] == "1.0 veil");

  CHECK(parsed(forwarded(request_with({}), context, {}, v6))[http::field::host] == "[::1]:8081");
}
