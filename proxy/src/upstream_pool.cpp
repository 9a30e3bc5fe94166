#include "upstream_pool.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <limits>

namespace veil::proxy {

UpstreamPool::UpstreamPool(Upstream upstream, std::vector<tcp::endpoint> endpoints,
                           std::size_t max_idle, std::chrono::milliseconds max_idle_time)
    : upstream_(std::move(upstream)),
      endpoints_(std::move(endpoints)),
      max_idle_(max_idle),
      max_idle_time_(max_idle_time) {}

UpstreamPool::~UpstreamPool() {
  for (const auto& entry : idle_) ::close(entry.connection.descriptor);
}

namespace {

// Open, idle, and silent: a peek that would block. 0 means the origin closed it; data means the
// origin sent something nobody asked for, and the connection cannot be trusted for framing.
bool still_usable(int descriptor) {
  char byte;
  const auto received = ::recv(descriptor, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return received < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

std::size_t server_name_match(std::string_view server_name, std::string_view host) {
  if (server_name == host) return std::numeric_limits<std::size_t>::max();
  if (!server_name.starts_with("*.")) return 0;
  const std::string_view suffix = server_name.substr(1);  // ".example.gov.uk"
  return host.size() > suffix.size() && host.ends_with(suffix) ? suffix.size() : 0;
}

std::optional<UpstreamPool::IdleConnection> UpstreamPool::take() {
  const auto now = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  while (!idle_.empty()) {
    const Entry entry = idle_.back();
    idle_.pop_back();
    if (now - entry.since <= max_idle_time_ && still_usable(entry.connection.descriptor)) {
      return entry.connection;
    }
    ::close(entry.connection.descriptor);
  }
  return std::nullopt;
}

void UpstreamPool::give_back(tcp::socket& socket, tcp protocol) {
  boost::system::error_code error;
  const int descriptor = socket.release(error);
  if (error) return;
  std::unique_lock lock(mutex_);
  if (idle_.size() >= max_idle_) {
    lock.unlock();
    ::close(descriptor);
    return;
  }
  idle_.push_back(Entry{{descriptor, protocol}, std::chrono::steady_clock::now()});
}

}  // namespace veil::proxy
