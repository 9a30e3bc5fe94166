// Semantic checks on a parsed request head that Beast 1.81 does not make (reference
// http-hardening.md §1 and §6), and the mapping of Beast's parse errors to statuses. Every
// rejection here is answered and the connection closed: the request never reaches the origin.
#pragma once

#include <boost/system/error_code.hpp>

#include <optional>
#include <string_view>

#include "veil/proxy/filter.hpp"

namespace veil::proxy {

struct Rejection {
  unsigned status;
  std::string_view reason;
};

// Validates `head` and normalises an absolute-form target to origin-form plus Host.
std::optional<Rejection> check_request_head(RequestHead& head);

// The status for an error from Beast's request parser.
Rejection rejection_for_parse_error(const boost::system::error_code& error);

// The value of the single Host field without port, lower-cased; empty when absent.
std::string host_without_port(std::string_view host);

}  // namespace veil::proxy
