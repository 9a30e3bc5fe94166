// The edge as `veil proxy` and `veil demo` run it: a policy file turned into the public server with
// its filter chain, the admin server, the metrics and the access-log writer, with reload (SIGHUP),
// log reopening (SIGUSR1) and drain (SIGTERM) as operations. The app only maps flags and signals
// onto this class.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "veil/proxy/server_settings.hpp"

namespace veil::proxy {

// Command-line flags that take precedence over the policy file.
struct EdgeOverrides {
  std::vector<std::string> listen;   // replaces the policy's `listen`
  std::vector<Upstream> upstreams;   // replaces the policy's `upstreams`
  std::optional<std::string> admin;  // replaces `admin.listen`; "off" disables the admin server
  std::optional<std::string> access_log;  // replaces `access_log.path`
  std::optional<std::string> audit_log;   // replaces `audit.path`; "" disables the cookie audit
  unsigned threads = 0;                   // 0: one I/O thread per core
  std::optional<std::chrono::milliseconds> drain_timeout;
  // Further flags (TLS files, trusted proxies, limits), applied on top of the policy's settings.
  std::function<void(ServerSettings&)> adjust_server;
};

class Edge {
 public:
  // Loads the policy and builds everything; nothing listens yet. Throws std::runtime_error whose
  // message lists the policy's diagnostics (`file:line:col: error: …`) or names what failed.
  // Without a policy file the edge runs the built-in policy: report-only, so that it proxies and
  // writes anonymised logs but changes no response; it listens on 127.0.0.1:8080 and forwards the
  // real client address, as a plain reverse proxy would.
  Edge(std::optional<std::string> policy_path, EdgeOverrides overrides);
  ~Edge();  // stop()s
  Edge(const Edge&) = delete;
  Edge& operator=(const Edge&) = delete;

  // Binds the public and admin listeners. Throws std::runtime_error naming a public address it
  // cannot bind; an admin address that cannot be bound only disables the admin server (traffic
  // matters more than its instrumentation) and is returned as a warning.
  std::vector<std::string> start();
  std::vector<std::uint16_t> listening_ports() const;
  std::optional<std::uint16_t> admin_port() const;
  std::string access_log_path() const;
  // How long in-flight exchanges get on shutdown: the flag, else the policy's limits.drain_timeout.
  std::chrono::milliseconds drain_timeout() const;

  struct ReloadResult {
    bool applied = false;
    std::vector<std::string> messages;  // the new policy's diagnostics, and what needs a restart
  };
  // Reads the policy file again. A valid policy is used by every exchange that starts afterwards
  // (exchanges in flight finish under the one they started with); an invalid one changes nothing.
  // Listeners, upstreams, limits and TLS are fixed at start: a change to them is reported as
  // needing a restart.
  ReloadResult reload();

  // Reopens the access log (after logrotate moved it).
  void reopen_logs();

  // Stops accepting, lets in-flight exchanges finish within `deadline`, then flushes the access
  // log. Returns true when every exchange finished in time.
  bool drain(std::chrono::milliseconds deadline);
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace veil::proxy
