#include "forwarding.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>

#include <boost/container/small_vector.hpp>

#include <array>
#include <charconv>

#include "address_text.hpp"
#include "field_names.hpp"
#include "text.hpp"

namespace veil::proxy {
namespace http = boost::beast::http;

namespace {

// The names a Connection field lists: those fields are hop-by-hop too (RFC 9110 §7.6.1). Views
// into the fields' values, valid while those fields are.
using ConnectionTokens = boost::container::small_vector<std::string_view, 4>;

ConnectionTokens connection_tokens(const http::fields& fields) {
  ConnectionTokens tokens;
  // A walk down the list compares field codes; a lookup by name would compare strings.
  for (const auto& field : fields) {
    if (field.name() != http::field::connection) continue;
    for (std::string_view token : split_list(field.value())) {
      if (!token.empty()) tokens.push_back(token);
    }
  }
  return tokens;
}

bool is_hop_by_hop(const http::fields::value_type& field, const ConnectionTokens& named,
                   bool keep_upgrade) {
  switch (field.name()) {
    case http::field::connection:
    case http::field::keep_alive:
    case http::field::proxy_connection:
    case http::field::te:
    case http::field::trailer:
    case http::field::transfer_encoding:
    case http::field::content_length:
      return true;
    case http::field::upgrade:
      return !keep_upgrade;
    default:
      break;
  }
  const std::string_view name = field.name_string();
  if (name.find('_') != std::string_view::npos) return true;
  for (std::string_view token : named) {
    if (iequals(token, name)) return true;
  }
  return false;
}

}  // namespace

void remove_hop_by_hop(http::fields& fields, bool keep_upgrade) {
  const ConnectionTokens named = connection_tokens(fields);
  // Erased after the scan: the tokens point into the Connection field.
  boost::container::small_vector<http::fields::const_iterator, 8> hop_by_hop;
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    if (is_hop_by_hop(*it, named, keep_upgrade)) hop_by_hop.push_back(it);
  }
  for (const auto& it : hop_by_hop) fields.erase(it);
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

// RFC 7239 §6: IPv6 nodes are bracketed and quoted.
void append_forwarded_node(const IpAddress& address, std::string& out) {
  if (address.is_v6()) out += "\"[";
  out += AddressText(address).view();
  if (address.is_v6()) out += "]\"";
}

void append_list_element(std::string& list, std::string_view element) {
  if (!list.empty()) list += ", ";
  list += element;
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

void append_fields(const http::fields& fields, std::string& out) {
  for (const auto& field : fields) append_field(out, field.name_string(), field.value());
  out += "\r\n";
}

// The forwarding fields a request carries as received; kept only from a trusted peer.
struct ReceivedChain {
  std::string x_forwarded_for;
  std::string forwarded;
  std::string via;  // always kept: this hop is appended to it
  std::string_view x_forwarded_proto;
  unsigned x_forwarded_protos = 0;
};

// Which of the forwarding fields this is (they are rebuilt, never copied through).
enum class ForwardingField { none, x_forwarded_for, forwarded, x_real_ip, x_forwarded_proto, via };

ForwardingField forwarding_field(const http::fields::value_type& field) {
  switch (field.name()) {
    case http::field::forwarded:
      return ForwardingField::forwarded;
    case http::field::via:
      return ForwardingField::via;
    case http::field::unknown: {
      const std::string_view name = field.name_string();
      if (iequals(name, kXForwardedFor)) return ForwardingField::x_forwarded_for;
      if (iequals(name, kXRealIp)) return ForwardingField::x_real_ip;
      if (iequals(name, kXForwardedProto)) return ForwardingField::x_forwarded_proto;
      return ForwardingField::none;
    }
    default:
      return ForwardingField::none;
  }
}

}  // namespace

void serialise_forwarded_request(const RequestHead& request, const Upstream& upstream,
                                 const ForwardedShape& shape, const ForwardingContext& context,
                                 std::string& out) {
  out.reserve(out.size() + 1024);  // typical heads, and the fields veil adds, in one allocation
  out += request.method_string();
  out += ' ';
  out += request.target();
  out += " HTTP/1.1\r\n";

  const ConnectionTokens named = connection_tokens(request);
  ReceivedChain received;
  bool has_host = false;
  for (const auto& field : request) {
    if (is_hop_by_hop(field, named, shape.upgrade) || field.name() == http::field::expect) continue;
    const std::string_view value = field.value();
    switch (forwarding_field(field)) {
      case ForwardingField::none:
        if (field.name() == http::field::host) has_host = true;
        append_field(out, field.name_string(), value);
        continue;
      case ForwardingField::x_forwarded_for:
        append_list_element(received.x_forwarded_for, value);
        continue;
      case ForwardingField::forwarded:
        append_list_element(received.forwarded, value);
        continue;
      case ForwardingField::via:
        append_list_element(received.via, value);
        continue;
      case ForwardingField::x_forwarded_proto:
        received.x_forwarded_proto = value;
        ++received.x_forwarded_protos;
        continue;
      case ForwardingField::x_real_ip:
        continue;
    }
  }
  if (shape.upgrade) append_field(out, "Connection", "upgrade");
  if (!has_host) append_field(out, "Host", upstream_authority(upstream));

  const std::string_view proto = context.tls ? "https" : "http";
  std::string x_forwarded_for;
  std::string forwarded;
  std::string client;
  switch (context.mode) {
    case ForwardClientIp::real:
      if (context.peer_trusted) {
        x_forwarded_for = std::move(received.x_forwarded_for);
        forwarded = std::move(received.forwarded);
      }
      client = AddressText(context.client_address).view();
      // The chain ends with the hop that handed the request to us (nginx's
      // $proxy_add_x_forwarded_for); X-Real-IP carries the resolved client.
      append_list_element(x_forwarded_for, AddressText(context.peer_address).view());
      if (!forwarded.empty()) forwarded += ", ";
      forwarded += "for=";
      append_forwarded_node(context.peer_address, forwarded);
      forwarded += ";proto=";
      forwarded += proto;
      break;
    case ForwardClientIp::anonymised:
      // The received chain holds raw addresses: it is never passed on in this mode.
      if (!context.anonymised_client_address.empty()) {
        client = context.anonymised_client_address;
        x_forwarded_for = client;
        forwarded = "for=\"" + client + "\";proto=";
        forwarded += proto;
      }
      break;
    case ForwardClientIp::none:
      break;
  }
  if (!x_forwarded_for.empty()) append_field(out, kXForwardedFor, x_forwarded_for);
  if (!forwarded.empty()) append_field(out, "Forwarded", forwarded);
  if (!client.empty()) append_field(out, kXRealIp, client);
  const bool keep_proto = context.peer_trusted && received.x_forwarded_protos == 1;
  append_field(out, kXForwardedProto, keep_proto ? received.x_forwarded_proto : proto);
  append_list_element(received.via, request.version() == 10 ? "1.0 veil" : "1.1 veil");
  append_field(out, "Via", received.via);

  switch (shape.framing) {
    case BodyFraming::none:
      break;
    case BodyFraming::chunked:
      append_field(out, "Transfer-Encoding", "chunked");
      break;
    case BodyFraming::content_length: {
      char digits[20];
      const auto end = std::to_chars(digits, digits + sizeof digits, shape.content_length).ptr;
      append_field(out, "Content-Length", std::string_view(digits, end - digits));
      break;
    }
  }
  out += "\r\n";
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
