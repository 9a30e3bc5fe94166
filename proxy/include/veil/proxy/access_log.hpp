// The access-log line of one exchange, anonymised before it exists anywhere but a scratch buffer.
//
// The line is first written in nginx `combined` or JSON-lines form, then passed through the
// anonymiser library's LineAnonymiser with the same settings and key as `veil anonymise`, so that a
// line written by the proxy and the same raw line anonymised offline are byte-identical (with daily
// key rotation, both derive the key from the line's own date). The raw line lives only in the
// formatter's scratch buffer, which is wiped after every line.
//
// combined:   nginx's predefined format, the time in UTC:
//   203.0.113.0 - - [23/Nov/2026:09:36:15 +0000] "GET /bins?x=1 HTTP/1.1" 200 10240 "-"
//   "curl/7.88.1"
// json:       one object per line, nginx variable names (escape=json), plus the upstream and
// timing:
//   {"time_iso8601":"2026-11-23T09:36:15+00:00","remote_addr":"203.0.113.0","request_method":"GET",
//    "request_uri":"/bins?x=1","server_protocol":"HTTP/1.1","status":200,"body_bytes_sent":10240,
//    "http_referer":"","http_user_agent":"curl/7.88.1","http_x_forwarded_for":"",
//    "upstream":"council","request_time":0.002}
#pragma once

#include <string>

#include "veil/anonymiser/line_anonymiser.hpp"
#include "veil/anonymiser/settings.hpp"
#include "veil/proxy/access_log_record.hpp"

namespace veil::proxy {

// Not thread-safe: one per io thread (construction compiles the PII rules; keep it).
class AccessLogFormatter {
 public:
  // `format` is combined or json; anything else throws std::invalid_argument, as does
  // LineAnonymiser for a bad key or PII rule.
  AccessLogFormatter(const anonymiser::AnonymiseSettings& settings, anonymiser::LogFormat format,
                     const anonymiser::MasterKey& key);

  // Appends the anonymised line for `record` (without a newline) to `out`.
  void format(const AccessRecord& record, std::string& out);

  anonymiser::LogFormat log_format() const { return format_; }

 private:
  anonymiser::LogFormat format_;
  anonymiser::LineAnonymiser anonymiser_;
  std::string raw_;  // scratch for the raw line, wiped after each use
};

}  // namespace veil::proxy
