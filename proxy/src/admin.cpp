#include "veil/proxy/admin.hpp"

#include <string>
#include <string_view>
#include <utility>

namespace veil::proxy {

LocalResponse answer_admin_request(const LocalRequest& request, const AdminState& state,
                                   const MetricsRegistry& metrics) {
  if (request.method != "GET" && request.method != "HEAD") {
    auto response = plain_text_response(405, "method not allowed\n");
    response.headers.emplace_back("Allow", "GET, HEAD");
    return response;
  }
  const std::string_view target = request.target;
  const auto path = target.substr(0, target.find('?'));
  if (path == "/healthz") return plain_text_response(200, "ok\n");
  if (path == "/readyz") {
    if (state.draining.load()) return plain_text_response(503, "not ready: draining\n");
    if (!state.policy_loaded.load())
      return plain_text_response(503, "not ready: no policy loaded\n");
    if (!state.listening.load()) return plain_text_response(503, "not ready: listener not up\n");
    return plain_text_response(200, "ready\n");
  }
  if (path == "/metrics") {
    auto response = plain_text_response(200, metrics.render());
    response.headers.front().second = kPrometheusContentType;
    return response;
  }
  return plain_text_response(404,
                             "not found: the admin endpoints are /healthz, /readyz, /metrics\n");
}

}  // namespace veil::proxy
