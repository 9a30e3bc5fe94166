#include "request_checks.hpp"

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>

#include <algorithm>
#include <array>
#include <string>

#include "text.hpp"

namespace veil::proxy {
namespace http = boost::beast::http;

namespace {

// RFC 3986 authority characters for reg-name, IPv4 and IP-literal hosts with an optional port;
// userinfo ('@') is not allowed in a Host.
bool valid_host(std::string_view host) {
  if (host.empty()) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("-._~!$&'()*+,;=:[]%").find(c) != std::string_view::npos;
  });
}

bool known_transfer_coding(std::string_view coding) {
  static constexpr std::array<std::string_view, 7> known = {
      "chunked", "gzip", "x-gzip", "deflate", "compress", "x-compress", "identity"};
  return std::any_of(known.begin(), known.end(),
                     [&](std::string_view k) { return iequals(k, coding); });
}

std::optional<Rejection> check_transfer_encoding(std::string_view value) {
  bool all_known = true;
  std::string_view last;
  std::size_t codings = 0;
  for (std::string_view coding : split_list(value)) {
    if (coding.empty()) return Rejection{400, "malformed Transfer-Encoding"};
    all_known = all_known && known_transfer_coding(coding);
    last = coding;
    ++codings;
  }
  if (codings == 0) return Rejection{400, "malformed Transfer-Encoding"};
  if (!iequals(last, "chunked")) {
    if (!all_known) return Rejection{501, "unknown Transfer-Encoding"};
    return Rejection{400, "Transfer-Encoding does not end in chunked"};
  }
  if (codings > 1) return Rejection{501, "unsupported Transfer-Encoding"};
  return std::nullopt;
}

// Absolute-form "http://authority/path?query" → origin-form; the authority must agree with Host.
std::optional<Rejection> normalise_absolute_form(RequestHead& head) {
  const std::string_view target = head.target();
  std::size_t scheme_end = 0;
  if (istarts_with(target, "http://")) {
    scheme_end = 7;
  } else if (istarts_with(target, "https://")) {
    scheme_end = 8;
  } else {
    return Rejection{400, "malformed request target"};
  }
  const std::string_view rest = target.substr(scheme_end);
  const std::size_t authority_end = std::min(rest.find_first_of("/?#"), rest.size());
  const std::string_view authority = rest.substr(0, authority_end);
  if (!valid_host(authority) || authority.find('@') != std::string_view::npos) {
    return Rejection{400, "malformed authority in request target"};
  }
  const auto host = head.find(http::field::host);
  if (host != head.end() && !iequals(host->value(), authority)) {
    return Rejection{400, "request target authority does not match Host"};
  }
  std::string origin_form(rest.substr(authority_end));
  if (origin_form.empty() || origin_form.front() != '/') origin_form.insert(0, 1, '/');
  const std::string authority_copy(authority);
  head.target(origin_form);
  head.set(http::field::host, authority_copy);
  return std::nullopt;
}

// Methods are case-sensitive (RFC 9110 §9.1): "get" is not GET, yet an origin or a filter
// comparing case-insensitively would treat it as GET. Registered methods use upper-case letters,
// '-' and '_' only; like nginx, veil serves no others.
bool upper_case_method(std::string_view method) {
  return std::all_of(method.begin(), method.end(),
                     [](char c) { return (c >= 'A' && c <= 'Z') || c == '-' || c == '_'; });
}

}  // namespace

std::optional<Rejection> check_request_head(RequestHead& head) {
  if (head.method() == http::verb::connect) return Rejection{400, "CONNECT is not served"};
  if (!upper_case_method(head.method_string())) return Rejection{400, "malformed method"};

  std::size_t hosts = 0;
  std::size_t content_lengths = 0;
  std::size_t transfer_encodings = 0;
  for (const auto& field : head) {
    switch (field.name()) {
      case http::field::host:
        ++hosts;
        break;
      case http::field::content_length:
        ++content_lengths;
        if (field.value().find(',') != std::string_view::npos) {
          return Rejection{400, "list in Content-Length"};
        }
        break;
      case http::field::transfer_encoding:
        ++transfer_encodings;
        break;
      default:
        break;
    }
  }
  if (hosts > 1) return Rejection{400, "more than one Host"};
  if (hosts == 0 && head.version() == 11) return Rejection{400, "missing Host"};
  if (hosts == 1 && !valid_host(head[http::field::host])) return Rejection{400, "invalid Host"};
  if (content_lengths > 1) return Rejection{400, "more than one Content-Length"};
  if (transfer_encodings > 1) return Rejection{400, "more than one Transfer-Encoding"};
  if (transfer_encodings == 1) {
    if (head.version() == 10) return Rejection{400, "Transfer-Encoding in HTTP/1.0"};
    if (content_lengths > 0) return Rejection{400, "both Transfer-Encoding and Content-Length"};
    if (auto rejection = check_transfer_encoding(head[http::field::transfer_encoding])) {
      return rejection;
    }
  }

  const std::string_view target = head.target();
  if (target.empty()) return Rejection{400, "empty request target"};
  if (target == "*") {
    if (head.method() != http::verb::options) return Rejection{400, "'*' target without OPTIONS"};
  } else if (target.front() != '/') {
    if (auto rejection = normalise_absolute_form(head)) return rejection;
  }
  return std::nullopt;
}

Rejection rejection_for_parse_error(const boost::system::error_code& error) {
  if (error == http::error::body_limit) return {413, "request body too large"};
  if (error == http::error::header_limit) return {431, "request header fields too large"};
  if (error == http::error::bad_version) return {505, "HTTP version not supported"};
  if (error == http::error::bad_content_length || error == http::error::multiple_content_length) {
    return {400, "invalid Content-Length"};
  }
  if (error == http::error::bad_transfer_encoding) return {400, "invalid Transfer-Encoding"};
  if (error == http::error::bad_chunk || error == http::error::bad_chunk_extension) {
    return {400, "invalid chunked body"};
  }
  return {400, "malformed request"};
}

std::string host_without_port(std::string_view host) {
  std::string_view name = host;
  if (!name.empty() && name.front() == '[') {
    name = name.substr(0, name.find(']') + 1);
  } else if (const auto colon = name.rfind(':'); colon != std::string_view::npos) {
    name = name.substr(0, colon);
  }
  std::string lowered(name);
  for (char& c : lowered) c = to_lower(c);
  return lowered;
}

}  // namespace veil::proxy
