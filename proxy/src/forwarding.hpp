// How heads are rewritten between client and origin: hop-by-hop fields removed, the forwarding
// fields (X-Forwarded-For, X-Forwarded-Proto, Forwarded, Via) set, and heads serialised afresh
// (never relayed as received bytes).
#pragma once

#include <boost/beast/http/fields.hpp>

#include <string>

#include "veil/proxy/filter.hpp"
#include "veil/proxy/server_settings.hpp"

namespace veil::proxy {

// Removes Connection and every field it names, Keep-Alive, Proxy-Connection, TE, Trailer,
// Transfer-Encoding, Content-Length (the sender re-frames the body), Upgrade unless `keep_upgrade`,
// and fields whose names contain '_' (nginx's underscores_in_headers off: look-alikes of trusted
// fields such as X_Forwarded_For never pass).
void remove_hop_by_hop(boost::beast::http::fields& fields, bool keep_upgrade);

// The request head as it goes upstream, before the forwarding fields and the body's framing are
// set: hop-by-hop fields removed, Expect dropped (veil answers it and streams the body),
// `Connection: upgrade` for a tunnel, and for a request without Host (HTTP/1.0) the upstream's
// authority as configured, since what is forwarded is HTTP/1.1 (nginx's $proxy_host).
void prepare_forwarded_head(boost::beast::http::fields& head, bool upgrade,
                            const Upstream& upstream);

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

// Sets X-Forwarded-For, X-Forwarded-Proto, Forwarded and X-Real-IP on a request going upstream, and
// appends Via. A chain received from an untrusted peer is replaced, never extended.
void set_forwarding_fields(RequestHead& head, const ForwardingContext& context);

// Appends "METHOD target HTTP/1.1\r\n", the fields, and "\r\n".
void serialise_request_head(const RequestHead& head, std::string& out);
// Appends "HTTP/1.1 status reason\r\n", the fields, and "\r\n".
void serialise_response_head(const ResponseHead& head, std::string& out);

}  // namespace veil::proxy
