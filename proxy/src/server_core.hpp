// State shared by the listener and every session of one Server.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "upstream_pool.hpp"
#include "veil/proxy/client_address.hpp"
#include "veil/proxy/filter.hpp"
#include "veil/proxy/server_settings.hpp"

namespace veil::proxy {

// What the server can ask of a live session from another thread.
class SessionControl {
 public:
  virtual ~SessionControl() = default;
  // Closes the connection if it is waiting for a next request (used by drain).
  virtual void close_if_idle() = 0;
};

struct ServerCore {
  ServerSettings settings;
  std::shared_ptr<ClientAddressFilter> client_address;
  std::vector<std::shared_ptr<Filter>> filters;      // client_address first
  std::vector<std::unique_ptr<UpstreamPool>> pools;  // in settings.upstreams order
  std::optional<boost::asio::ssl::context> tls;

  std::atomic<bool> draining{false};
  std::atomic<std::size_t> connections{0};

  std::mutex sessions_mutex;
  std::unordered_map<SessionControl*, std::weak_ptr<SessionControl>> sessions;

  // The pool for a Host field value (any case, port ignored): the upstream whose server name
  // matches it best (server_name_match: an exact name, else the longest `*.` suffix; the first
  // upstream on a tie), else the default one (no server names); nullptr if none.
  UpstreamPool* route(std::string_view host) const;
};

// Starts serving an accepted connection (TCP or TLS per `core.tls`) on `worker`, the I/O thread
// whose io_context the socket belongs to; the session owns itself.
void start_session(ServerCore& core, boost::asio::ip::tcp::socket socket, std::size_t worker);

}  // namespace veil::proxy
