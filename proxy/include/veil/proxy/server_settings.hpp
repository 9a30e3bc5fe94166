// Everything a proxy Server needs to know, as plain data. The policy loader and the `veil proxy`
// flags are mapped onto this by the app; the proxy library never reads configuration files.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace veil::proxy {

// An origin server, spoken to in plain HTTP/1.1 with keep-alive.
struct Upstream {
  std::string name;  // for logs and metrics, e.g. "council-site"
  std::string host;  // name or address; resolved once when the server starts
  std::uint16_t port = 80;
  // Host header values (lower case, without port) routed here. An upstream with no names is the
  // default for requests whose Host matches no other upstream.
  std::vector<std::string> server_names;
};

// Parses "http://host[:port]" (a trailing "/" allowed; https and paths are refused). Throws
// std::invalid_argument naming the problem.
Upstream parse_upstream_url(std::string_view url);

// What the origin is told about the client address (X-Forwarded-For and Forwarded).
enum class ForwardClientIp : std::uint8_t {
  real,        // the resolved client address, after the chain received from a trusted proxy
  anonymised,  // only the address a filter stored in Exchange::anonymised_client_address
  none         // neither field is sent
};

// Defaults follow nginx where nginx has one; the header limits are larger than Beast's 8 KiB total
// because council cookie jars are large.
struct Limits {
  std::size_t request_line_bytes = 8 * 1024;       // longer → 414
  std::size_t header_line_bytes = 8 * 1024;        // any longer field line → 431
  std::size_t header_total_bytes = 32 * 1024;      // request line + fields → 431
  std::size_t header_fields = 100;                 // more → 431
  std::uint64_t request_body_bytes = 1024 * 1024;  // more → 413
  std::size_t max_connections = 10'000;            // further connections are closed on accept
  std::size_t upstream_idle_connections = 64;      // kept-alive origin connections per upstream
};

struct Timeouts {
  using seconds = std::chrono::seconds;
  std::chrono::milliseconds header{seconds(10)};  // whole request head (slowloris); closes silently
  std::chrono::milliseconds keep_alive_idle{seconds(75)};  // waiting for the next request
  std::chrono::milliseconds body_idle{seconds(60)};        // between body reads/writes, either side
  std::chrono::milliseconds upstream_connect{seconds(5)};  // → 504
  std::chrono::milliseconds upstream_read{
      seconds(60)};  // response head or between body reads → 504
  std::chrono::milliseconds upstream_idle{
      seconds(30)};  // pooled connection older than this is dropped
  std::chrono::milliseconds tunnel_idle{seconds(300)};  // an Upgrade tunnel with no traffic
  std::chrono::milliseconds tls_handshake{seconds(10)};
};

struct ServerSettings {
  // "127.0.0.1:8080", "[::1]:8443", "[::]:80", ":8080" (all IPv6 and IPv4 addresses). Port 0 picks
  // a free port (see Server::listening_ports).
  std::vector<std::string> listen;
  std::vector<Upstream> upstreams;  // empty: only filters answering locally (admin, demo origin)
  std::vector<std::string> trusted_proxies;  // CIDRs, e.g. "10.0.0.0/8", "::1/128"
  ForwardClientIp forward_client_ip = ForwardClientIp::real;
  // PEM files; both set → every listener speaks TLS.
  std::string tls_certificate_file;
  std::string tls_private_key_file;
  unsigned threads = 0;  // I/O threads; 0 → one per core
  Limits limits;
  Timeouts timeouts;
};

}  // namespace veil::proxy
