#include "head_scanner.hpp"

namespace veil::proxy {

void HeadScanner::reset() {
  scanned_ = 0;
  line_start_ = 0;
  fields_ = 0;
  request_line_done_ = false;
  head_size_ = 0;
  status_ = 0;
  reason_ = {};
}

HeadScanner::Result HeadScanner::reject(unsigned status, std::string_view reason) {
  status_ = status;
  reason_ = reason;
  return Result::rejected;
}

HeadScanner::Result HeadScanner::check_request_line(std::string_view line) {
  const auto last_space = line.rfind(' ');
  if (last_space == std::string_view::npos) return reject(400, "malformed request line");
  const std::string_view version = line.substr(last_space + 1);
  if (version == "HTTP/1.1" || version == "HTTP/1.0") return Result::incomplete;
  const bool well_formed = version.size() == 8 && version.substr(0, 5) == "HTTP/" &&
                           version[5] >= '0' && version[5] <= '9' && version[6] == '.' &&
                           version[7] >= '0' && version[7] <= '9';
  if (well_formed) return reject(505, "HTTP version not supported");
  return reject(400, "malformed request line");
}

HeadScanner::Result HeadScanner::scan(std::string_view data) {
  while (scanned_ < data.size()) {
    const auto newline = data.find('\n', scanned_);
    const std::size_t line_limit =
        request_line_done_ ? limits_.header_line_bytes : limits_.request_line_bytes;
    if (newline == std::string_view::npos) {
      scanned_ = data.size();
      return check_line_so_far(scanned_, line_limit);
    }
    scanned_ = newline + 1;
    // A line's end may arrive with its start or later: the checks made while it was arriving come
    // first, so that the verdict does not depend on how the bytes arrive.
    if (check_line_so_far(newline, line_limit) == Result::rejected) return Result::rejected;
    if (newline == line_start_ || data[newline - 1] != '\r') {
      return reject(400, "line not terminated by CRLF");
    }
    const std::string_view line = data.substr(line_start_, newline - 1 - line_start_);
    line_start_ = scanned_;
    if (line.size() > line_limit) return line_too_long();
    if (scanned_ > limits_.header_total_bytes) {
      return reject(431, "request header fields too large");
    }
    if (!request_line_done_) {
      request_line_done_ = true;
      if (check_request_line(line) == Result::rejected) return Result::rejected;
      continue;
    }
    if (line.empty()) {
      head_size_ = scanned_;
      return Result::complete;
    }
    if (line.front() == ' ' || line.front() == '\t') return reject(400, "obsolete line folding");
    if (++fields_ > limits_.header_fields) return reject(431, "too many header fields");
  }
  return Result::incomplete;
}

HeadScanner::Result HeadScanner::check_line_so_far(std::size_t end, std::size_t line_limit) {
  if (end - line_start_ > line_limit + 1) return line_too_long();  // +1: a CR may follow
  if (end > limits_.header_total_bytes) return reject(431, "request header fields too large");
  return Result::incomplete;
}

HeadScanner::Result HeadScanner::line_too_long() {
  if (!request_line_done_) return reject(414, "request line too long");
  return reject(431, "request header field too long");
}

std::size_t leading_empty_lines(std::string_view data) {
  std::size_t skip = 0;
  while (true) {
    if (data.substr(skip, 2) == "\r\n") {
      skip += 2;
    } else if (data.substr(skip, 1) == "\n") {
      skip += 1;
    } else {
      return skip;
    }
  }
}

}  // namespace veil::proxy
