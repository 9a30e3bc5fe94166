// Kept-alive connections to one upstream. Idle connections are held as bare descriptors, so a
// session adopts one into a stream bound to its own strand (timers included) rather than sharing an
// I/O object across strands.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
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

// Idle connections are kept per worker (one I/O thread and its io_context): a connection stays
// registered with the reactor of the worker that opened it, so reusing one costs no system call to
// re-register it or to set it non-blocking, and a worker's list is only touched by its own thread.
class UpstreamPool {
 public:
  using tcp = boost::asio::ip::tcp;

  UpstreamPool(Upstream upstream, std::vector<tcp::endpoint> endpoints, std::size_t max_idle,
               std::chrono::milliseconds max_idle_time, std::size_t workers);
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  const Upstream& upstream() const { return upstream_; }
  const std::vector<tcp::endpoint>& endpoints() const { return endpoints_; }

  // The most recently used idle connection of `worker` that is still open (the origin has not
  // closed it or sent unsolicited bytes, and it has not idled too long); nullopt when there is
  // none. Only on `worker`'s thread.
  std::optional<tcp::socket> take(std::size_t worker);
  // Hands an open connection of `worker`'s with no outstanding operations back; closed if the
  // worker's share of the pool is full. Only on `worker`'s thread.
  void give_back(std::size_t worker, tcp::socket socket);
  // Closes every idle connection; once the workers have stopped, before their io_contexts go.
  void close_idle();

 private:
  struct Entry {
    tcp::socket socket;
    std::chrono::steady_clock::time_point since;
  };

  const Upstream upstream_;
  const std::vector<tcp::endpoint> endpoints_;
  const std::size_t max_idle_per_worker_;
  const std::chrono::milliseconds max_idle_time_;
  std::vector<std::vector<Entry>> idle_;  // by worker
};

}  // namespace veil::proxy
