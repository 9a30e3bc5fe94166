// The filter chain: each concern of the proxy (client address, consent, cookies, HTML rewriting,
// security headers, access log) is a Filter that sees every Exchange. The core (listener, session,
// upstream pool) knows nothing about those concerns.
//
// Exposes Beast's header types (not its I/O): filters read and edit the request and response heads
// in place, without a conversion per request. Including this header costs about as much as
// <boost/beast/http/message.hpp> (measured in the proxy README section).
#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/message.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "veil/proxy/local_response.hpp"

namespace veil::proxy {

using RequestHead = boost::beast::http::request_header<>;
using ResponseHead = boost::beast::http::response_header<>;
using IpAddress = boost::asio::ip::address;

class Filter;

// A streaming rewrite of a response body: bytes in, bytes out, in order. When any filter supplies
// one, the response is sent chunked (close-delimited to HTTP/1.0 clients) without Content-Length.
class BodyTransform {
 public:
  virtual ~BodyTransform() = default;
  // Appends the rewritten form of `chunk` to `out`; may hold bytes back for the next call.
  virtual void transform(std::string_view chunk, std::string& out) = 0;
  // End of body: appends whatever was held back.
  virtual void finish(std::string& out) = 0;
  // True when the transform only reads the body (a report-only check) and appends nothing: the
  // client then gets the origin's bytes with the origin's framing.
  virtual bool reads_only() const { return false; }
};

// One request and its response. Lives for one exchange on one connection; never shared across
// threads while in use.
struct Exchange {
  // The request head as it will be forwarded (after the core's validation; filters may edit it).
  // Hop-by-hop and forwarding fields are rewritten by the core after the filters have run.
  RequestHead request;
  // The response head as it will be sent to the client, once on_response_head runs.
  ResponseHead response;

  // The TCP peer, and the client it speaks for (the peer itself unless the peer is a trusted
  // proxy). Raw addresses: kept in memory for this exchange only, never written anywhere.
  IpAddress peer_address;
  IpAddress client_address;
  // Filled by an anonymising filter when the policy asks for it; sent upstream when
  // ForwardClientIp::anonymised.
  std::string anonymised_client_address;

  bool tls = false;
  std::string upstream_name;  // empty: answered locally or rejected before routing
  // The policy snapshot this exchange started with; the core never looks inside.
  std::shared_ptr<const void> policy;

  // Counters and timing, filled by the core.
  std::uint64_t request_body_bytes = 0;   // body bytes received from the client
  std::uint64_t response_body_bytes = 0;  // body bytes sent to the client (after transforms)
  std::chrono::system_clock::time_point received_at;  // wall clock, for logs
  std::chrono::steady_clock::time_point started;
  std::chrono::steady_clock::time_point completed;
  // Set when the exchange ended without a complete response (client went away, origin failed
  // mid-body); the status then is what was sent, or 0 when nothing was sent.
  bool aborted = false;
  // Which error, if the core produced the response: "upstream_connect", "upstream_timeout",
  // "upstream_reset", "upstream_bad_response", "bad_request", ...; empty otherwise.
  std::string_view error;

  // Called by a filter's on_request to answer this request inside the proxy: the core reads the
  // body (within the body limit), calls `handler`, and sends its response; the origin is not
  // contacted and later filters' on_request are skipped (on_response_head and on_complete still
  // run).
  void respond_locally(LocalHandler handler) { local_handler = std::move(handler); }
  LocalHandler local_handler;

  // Per-filter state for one exchange (e.g. consent read in on_request, used in on_response_head).
  std::shared_ptr<void>& state_for(const Filter& filter);

 private:
  std::vector<std::pair<const Filter*, std::shared_ptr<void>>> filter_state_;
};

// Filters are shared by all connections and threads: hooks must be safe to call concurrently and
// must not block. Exceptions thrown by a hook end the exchange with a 500 (or a closed connection
// if the response has started).
class Filter {
 public:
  virtual ~Filter() = default;
  virtual void on_request(Exchange&) {}
  virtual void on_response_head(Exchange&) {}
  // Called after on_response_head when the response has a body; nullptr: body passes unchanged.
  virtual std::unique_ptr<BodyTransform> response_body_transform(Exchange&) { return nullptr; }
  // Called once for every response the proxy sends or abandons, including rejections made before
  // the head could be parsed (the request head is then empty) and failed or aborted exchanges.
  virtual void on_complete(Exchange&) {}
};

// Answers every request whose target starts with `path_prefix` with `handler`; the building block
// for servers that only answer locally (admin, demo origin) and for the consent endpoints.
class LocalHandlerFilter final : public Filter {
 public:
  LocalHandlerFilter(std::string path_prefix, LocalHandler handler);
  void on_request(Exchange& exchange) override;

 private:
  std::string path_prefix_;
  LocalHandler handler_;
};

}  // namespace veil::proxy
