#include "upstream_pool.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <limits>

namespace veil::proxy {

UpstreamPool::UpstreamPool(Upstream upstream, std::vector<tcp::endpoint> endpoints,
                           std::size_t max_idle, std::chrono::milliseconds max_idle_time,
                           std::size_t workers)
    : upstream_(std::move(upstream)),
      endpoints_(std::move(endpoints)),
      max_idle_per_worker_((max_idle + workers - 1) / workers),
      max_idle_time_(max_idle_time),
      idle_(workers) {}

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

std::optional<UpstreamPool::tcp::socket> UpstreamPool::take(std::size_t worker) {
  const auto now = std::chrono::steady_clock::now();
  auto& idle = idle_[worker];
  while (!idle.empty()) {
    Entry entry = std::move(idle.back());
    idle.pop_back();
    if (now - entry.since <= max_idle_time_ && still_usable(entry.socket.native_handle())) {
      return std::move(entry.socket);
    }
  }
  return std::nullopt;
}

void UpstreamPool::give_back(std::size_t worker, tcp::socket socket) {
  auto& idle = idle_[worker];
  if (idle.size() < max_idle_per_worker_) {
    idle.push_back(Entry{std::move(socket), std::chrono::steady_clock::now()});
  }
}

void UpstreamPool::close_idle() {
  for (auto& idle : idle_) idle.clear();
}

}  // namespace veil::proxy
