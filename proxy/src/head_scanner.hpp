// Checks the raw bytes of a request head before Beast parses it, for the limits and framing rules
// Beast 1.81 does not enforce: per-line lengths (414 for the request line, 431 for a field line), a
// total size and a field count (431), obs-fold and bare LF (400), and the HTTP version (505 for
// anything but 1.0 and 1.1). Incremental: call scan() each time more bytes arrived.
#pragma once

#include <cstddef>
#include <string_view>

#include "veil/proxy/server_settings.hpp"

namespace veil::proxy {

class HeadScanner {
 public:
  enum class Result { incomplete, complete, rejected };

  explicit HeadScanner(const Limits& limits) : limits_(limits) {}

  // Forgets the previous head. `data` passed to scan() must then start at the new head's first
  // byte.
  void reset();

  // Examines `data`: everything received so far for this head (and possibly beyond it). Bytes
  // examined by earlier calls are not looked at again.
  Result scan(std::string_view data);

  // After `complete`: the head's length including the final empty line.
  std::size_t head_size() const { return head_size_; }
  // After `rejected`: the status to answer and why.
  unsigned status() const { return status_; }
  std::string_view reason() const { return reason_; }

 private:
  Result reject(unsigned status, std::string_view reason);
  Result check_request_line(std::string_view line);
  // The limits a line ending at `end` (not yet terminated) already breaks.
  Result check_line_so_far(std::size_t end, std::size_t line_limit);
  Result line_too_long();

  const Limits limits_;
  std::size_t scanned_ = 0;
  std::size_t line_start_ = 0;
  std::size_t fields_ = 0;
  bool request_line_done_ = false;
  std::size_t head_size_ = 0;
  unsigned status_ = 0;
  std::string_view reason_;
};

// Number of empty lines (CRLF or LF) at the start of `data`, which RFC 9112 §2.2 lets a server
// ignore before a request line; returns the bytes to skip.
std::size_t leading_empty_lines(std::string_view data);

}  // namespace veil::proxy
