// How heads are rewritten between client and origin: hop-by-hop fields removed, the forwarding
// fields (X-Forwarded-For, X-Forwarded-Proto, Forwarded, Via) set, and heads serialised afresh
// (never relayed as received bytes).
#pragma once

#include <boost/beast/http/fields.hpp>

#include <cstdint>
#include <string>

#include "veil/proxy/filter.hpp"
#include "veil/proxy/server_settings.hpp"

namespace veil::proxy {

// Removes Connection and every field it names, Keep-Alive, Proxy-Connection, TE, Trailer,
// Transfer-Encoding, Content-Length (the sender re-frames the body), Upgrade unless `keep_upgrade`,
// and fields whose names contain '_' (nginx's underscores_in_headers off: look-alikes of trusted
// fields such as X_Forwarded_For never pass).
void remove_hop_by_hop(boost::beast::http::fields& fields, bool keep_upgrade);

// Fields that must not appear in a trailer section (framing, routing, authentication, hop-by-hop).
bool allowed_in_trailer(std::string_view name);

struct ForwardingContext {
  ForwardClientIp mode = ForwardClientIp::real;
  bool peer_trusted = false;  // the peer's own X-Forwarded-* chain may be kept
  bool tls = false;
  IpAddress peer_address;
  IpAddress client_address;
  std::string_view anonymised_client_address;
};

// How the body of a forwarded request is framed (the request head announces it).
enum class BodyFraming { none, chunked, content_length };

struct ForwardedShape {
  bool upgrade = false;  // a tunnel: Upgrade is kept and Connection is "upgrade"
  BodyFraming framing = BodyFraming::none;
  std::uint64_t content_length = 0;  // with BodyFraming::content_length
};

// Appends the request head as it goes to `upstream`, written in one pass over the request's fields
// (the request itself is not changed: filters and the access log still see it as received):
// - "METHOD target HTTP/1.1" (what is forwarded is HTTP/1.1);
// - the fields, minus hop-by-hop ones (as remove_hop_by_hop) and Expect (veil answers it and
//   streams the body), in their order;
// - `Connection: upgrade` for a tunnel; for a request without Host (HTTP/1.0) the upstream's
//   authority as configured (nginx's $proxy_host);
// - X-Forwarded-For, Forwarded, X-Real-IP and X-Forwarded-Proto by `context` (a chain received
//   from an untrusted peer is replaced, never extended; X-Forwarded-Proto is kept from a trusted
//   peer that sent exactly one), then Via with this hop appended;
// - the body's framing; the blank line.
void serialise_forwarded_request(const RequestHead& request, const Upstream& upstream,
                                 const ForwardedShape& shape, const ForwardingContext& context,
                                 std::string& out);

// Appends "HTTP/1.1 status reason\r\n", the fields, and "\r\n".
void serialise_response_head(const ResponseHead& head, std::string& out);

}  // namespace veil::proxy
