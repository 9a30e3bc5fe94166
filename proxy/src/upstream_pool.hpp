// Kept-alive connections to one upstream. Idle connections are held as bare descriptors, so a
// session adopts one into a stream bound to its own strand (timers included) rather than sharing an
// I/O object across strands.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "veil/proxy/server_settings.hpp"

namespace veil::proxy {

// How well an upstream's server name matches a request's host name (lower case, no port), for
// routing: 0 when it does not, and more for a closer match. An exact name beats every wildcard;
// "*.example.gov.uk" matches any name below example.gov.uk (not example.gov.uk itself), and a
// longer wildcard suffix beats a shorter one.
std::size_t server_name_match(std::string_view server_name, std::string_view host);

class UpstreamPool {
 public:
  using tcp = boost::asio::ip::tcp;

  struct IdleConnection {
    int descriptor;
    tcp protocol;
  };

  UpstreamPool(Upstream upstream, std::vector<tcp::endpoint> endpoints, std::size_t max_idle,
               std::chrono::milliseconds max_idle_time);
  ~UpstreamPool();
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  const Upstream& upstream() const { return upstream_; }
  const std::vector<tcp::endpoint>& endpoints() const { return endpoints_; }

  // The most recently used idle connection that is still open (the origin has not closed it or sent
  // unsolicited bytes, and it has not idled too long); nullopt when there is none.
  std::optional<IdleConnection> take();
  // Hands an open connection (of `protocol`) with no outstanding operations back; closed if the
  // pool is full.
  void give_back(tcp::socket& socket, tcp protocol);

 private:
  struct Entry {
    IdleConnection connection;
    std::chrono::steady_clock::time_point since;
  };

  const Upstream upstream_;
  const std::vector<tcp::endpoint> endpoints_;
  const std::size_t max_idle_;
  const std::chrono::milliseconds max_idle_time_;
  std::mutex mutex_;
  std::vector<Entry> idle_;
};

}  // namespace veil::proxy
