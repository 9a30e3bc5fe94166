// The admin listener's endpoints (default 127.0.0.1:9901, never the public port):
//   GET /healthz  200 while the process runs
//   GET /readyz   200 once a policy is loaded and the public listener is up, 503 (with the reason)
//                 before that and while draining
//   GET /metrics  the metrics registry in the Prometheus text format
// HEAD works wherever GET does; other methods get 405, other paths 404. The query is ignored.
#pragma once

#include <atomic>

#include "veil/proxy/local_response.hpp"
#include "veil/proxy/metrics.hpp"

namespace veil::proxy {

// Set by the server as it starts, reloads and drains; read by /readyz on any thread.
struct AdminState {
  std::atomic<bool> policy_loaded{false};
  std::atomic<bool> listening{false};
  std::atomic<bool> draining{false};
};

LocalResponse answer_admin_request(const LocalRequest& request, const AdminState& state,
                                   const MetricsRegistry& metrics);

}  // namespace veil::proxy
