// The proxy server: listeners, I/O threads, client sessions and upstream pools. Beast and Asio stay
// behind the pimpl.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "veil/proxy/server_settings.hpp"

namespace veil::proxy {

class Filter;

class Server {
 public:
  // `filters` run in order after the built-in client-address resolution. Throws
  // std::invalid_argument for bad settings (listen address, CIDR, TLS files, unresolvable
  // upstream).
  Server(ServerSettings settings, std::vector<std::shared_ptr<Filter>> filters);
  ~Server();  // stop()s
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every listen address and starts the I/O threads. Throws std::runtime_error naming the
  // address that could not be bound.
  void start();

  // The bound port of each listen address, in settings order (useful with port 0).
  std::vector<std::uint16_t> listening_ports() const;

  // Stops accepting, closes idle keep-alive connections, answers the next response of every other
  // connection with `Connection: close`, and waits up to `deadline` for in-flight exchanges.
  // Returns true if every connection finished in time.
  bool drain(std::chrono::milliseconds deadline);

  // Closes everything at once and joins the I/O threads. Idempotent.
  void stop();

  std::size_t active_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace veil::proxy
