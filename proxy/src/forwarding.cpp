#include "forwarding.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>

#include <array>
#include <vector>

#include "field_names.hpp"
#include "text.hpp"

namespace veil::proxy {
namespace http = boost::beast::http;

void remove_hop_by_hop(http::fields& fields, bool keep_upgrade) {
  std::vector<std::string> named;
  for (const auto& connection : fields_named(fields, http::field::connection)) {
    for (std::string_view token : split_list(connection.value())) {
      if (!token.empty()) named.emplace_back(token);
    }
  }
  for (const auto& name : named) {
    if (keep_upgrade && iequals(name, "upgrade")) continue;
    fields.erase(name);
  }
  static constexpr std::array<http::field, 7> hop_by_hop = {
      http::field::connection,       http::field::keep_alive,
      http::field::proxy_connection, http::field::te,
      http::field::trailer,          http::field::transfer_encoding,
      http::field::content_length};
  for (const auto field : hop_by_hop) fields.erase(field);
  if (!keep_upgrade) fields.erase(http::field::upgrade);
  for (auto it = fields.begin(); it != fields.end();) {
    if (it->name_string().find('_') != std::string_view::npos) {
      it = fields.erase(it);
    } else {
      ++it;
    }
  }
}

bool allowed_in_trailer(std::string_view name) {
  static constexpr std::array<std::string_view, 16> forbidden = {"content-length",
                                                                 "transfer-encoding",
                                                                 "host",
                                                                 "connection",
                                                                 "keep-alive",
                                                                 "proxy-connection",
                                                                 "te",
                                                                 "trailer",
                                                                 "upgrade",
                                                                 "authorization",
                                                                 "set-cookie",
                                                                 "cookie",
                                                                 "content-type",
                                                                 "content-encoding",
                                                                 "content-range",
                                                                 "cache-control"};
  for (std::string_view f : forbidden) {
    if (iequals(f, name)) return false;
  }
  return name.find('_') == std::string_view::npos;
}

namespace {

// "host[:port]" of the upstream as configured (IPv6 in brackets, port 80 left out).
std::string upstream_authority(const Upstream& upstream) {
  const bool ipv6 = upstream.host.find(':') != std::string::npos;
  std::string authority;
  if (ipv6) authority += '[';
  authority += upstream.host;
  if (ipv6) authority += ']';
  if (upstream.port != 80) {
    authority += ':';
    authority += std::to_string(upstream.port);
  }
  return authority;
}

std::string forwarded_node(const IpAddress& address) {
  // RFC 7239 §6: IPv6 nodes are bracketed and quoted.
  if (address.is_v6()) return "\"[" + address.to_string() + "]\"";
  return address.to_string();
}

}  // namespace

void prepare_forwarded_head(http::fields& head, bool upgrade, const Upstream& upstream) {
  remove_hop_by_hop(head, upgrade);
  head.erase(http::field::expect);
  if (upgrade) head.set(http::field::connection, "upgrade");
  if (head.find(http::field::host) == head.end()) {
    head.set(http::field::host, upstream_authority(upstream));
  }
}

void set_forwarding_fields(RequestHead& head, const ForwardingContext& context) {
  const std::string_view proto = context.tls ? "https" : "http";
  std::string x_forwarded_for;
  std::string forwarded;
  if (context.peer_trusted) {
    for (const auto& field : fields_named(head, kXForwardedFor)) {
      if (!x_forwarded_for.empty()) x_forwarded_for += ", ";
      x_forwarded_for += field.value();
    }
    for (const auto& field : fields_named(head, http::field::forwarded)) {
      if (!forwarded.empty()) forwarded += ", ";
      forwarded += field.value();
    }
  }
  const bool keep_proto = context.peer_trusted && head.count(kXForwardedProto) == 1;
  std::string client;
  switch (context.mode) {
    case ForwardClientIp::real:
      client = context.client_address.to_string();
      // The chain ends with the hop that handed the request to us (nginx's
      // $proxy_add_x_forwarded_for); X-Real-IP carries the resolved client.
      if (!x_forwarded_for.empty()) x_forwarded_for += ", ";
      x_forwarded_for += context.peer_address.to_string();
      if (!forwarded.empty()) forwarded += ", ";
      forwarded += "for=" + forwarded_node(context.peer_address) + ";proto=" + std::string(proto);
      break;
    case ForwardClientIp::anonymised:
      // The received chain holds raw addresses: it is never passed on in this mode.
      x_forwarded_for.clear();
      forwarded.clear();
      if (!context.anonymised_client_address.empty()) {
        client = context.anonymised_client_address;
        x_forwarded_for = client;
        forwarded = "for=\"" + client + "\";proto=" + std::string(proto);
      }
      break;
    case ForwardClientIp::none:
      x_forwarded_for.clear();
      forwarded.clear();
      break;
  }
  head.erase(kXForwardedFor);
  head.erase(http::field::forwarded);
  head.erase(kXRealIp);
  if (!x_forwarded_for.empty()) head.set(kXForwardedFor, x_forwarded_for);
  if (!forwarded.empty()) head.set(http::field::forwarded, forwarded);
  if (!client.empty()) head.set(kXRealIp, client);
  if (!keep_proto) head.set(kXForwardedProto, proto);
  const std::string_view via = head.version() == 10 ? "1.0 veil" : "1.1 veil";
  if (const auto existing = head.find(http::field::via); existing != head.end()) {
    std::string combined(existing->value());
    combined += ", ";
    combined += via;
    head.set(http::field::via, combined);
  } else {
    head.set(http::field::via, via);
  }
}

namespace {

void append_fields(const http::fields& fields, std::string& out) {
  for (const auto& field : fields) {
    out += field.name_string();
    out += ": ";
    out += field.value();
    out += "\r\n";
  }
  out += "\r\n";
}

}  // namespace

void serialise_request_head(const RequestHead& head, std::string& out) {
  out += head.method_string();
  out += ' ';
  out += head.target();
  out += " HTTP/1.1\r\n";
  append_fields(head, out);
}

void serialise_response_head(const ResponseHead& head, std::string& out) {
  out += "HTTP/1.1 ";
  const unsigned status = head.result_int();
  out += static_cast<char>('0' + status / 100 % 10);
  out += static_cast<char>('0' + status / 10 % 10);
  out += static_cast<char>('0' + status % 10);
  out += ' ';
  std::string_view reason = head.reason();
  if (reason.empty()) reason = http::obsolete_reason(static_cast<http::status>(status));
  out += reason;
  out += "\r\n";
  append_fields(head, out);
}

}  // namespace veil::proxy
