// What the access log records about one exchange: plain data, no Beast, no anonymiser. The proxy
// core fills it when an exchange completes and hands it to AccessLogFormatter (access_log.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

namespace veil::proxy {

// One finished exchange. Views into the exchange's own buffers; nothing is copied until formatting.
struct AccessRecord {
  std::string_view client_address;  // the raw client address as text ("203.0.113.7", "2001:db8::1")
  std::chrono::system_clock::time_point time;  // when the request head arrived
  std::string_view method;
  std::string_view target;    // as sent
  std::string_view protocol;  // "HTTP/1.1"
  unsigned status = 0;
  std::uint64_t body_bytes_sent = 0;
  std::string_view referrer;       // empty when absent
  std::string_view user_agent;     // empty when absent
  std::string_view forwarded_for;  // the X-Forwarded-For header as received, empty when absent
  std::string_view upstream;       // the upstream's name; empty when veil answered itself
  std::chrono::microseconds duration{0};
};

}  // namespace veil::proxy
