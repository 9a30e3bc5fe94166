// A request answered inside the proxy (admin endpoints, the demo origin, `/_veil/*` consent
// endpoints) and the response it produces. Plain data with no Beast or Asio, so handlers can be
// written and unit-tested without the network stack. Owned by the proxy core; other pieces only use
// it.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace veil::proxy {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct LocalRequest {
  std::string method;  // as sent, e.g. "GET"
  std::string target;  // origin-form as sent, e.g. "/metrics?x=1"
  HeaderList headers;  // in arrival order; names as sent (compare case-insensitively)
  std::string body;    // the whole body, already within the server's body limit
};

// The server adds framing (Content-Length) and Connection handling; a handler must not set
// Content-Length, Transfer-Encoding or Connection itself. For HEAD the body is not sent.
struct LocalResponse {
  unsigned status = 200;
  HeaderList headers;
  std::string body;
};

// A plain-text answer that no cache keeps: admin endpoints and the errors of local endpoints.
inline LocalResponse plain_text_response(unsigned status, std::string body) {
  LocalResponse response;
  response.status = status;
  response.headers = {{"Content-Type", "text/plain; charset=utf-8"}, {"Cache-Control", "no-store"}};
  response.body = std::move(body);
  return response;
}

// Must not block for long: it runs on the connection's I/O thread.
using LocalHandler = std::function<LocalResponse(const LocalRequest&)>;

}  // namespace veil::proxy
