// The ClientAddress filter: which address a request comes from. The TCP peer, unless the peer is a
// trusted proxy; then the right-most address in X-Forwarded-For (or, without it, Forwarded) that is
// not itself a trusted proxy. Fields with look-alike names (X_Forwarded_For) are never read.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "veil/proxy/filter.hpp"

namespace veil::proxy {

// An address block such as 10.0.0.0/8 or ::1/128; a bare address is a /32 or /128.
class Cidr {
 public:
  // Throws std::invalid_argument naming `text` when it is not a CIDR.
  static Cidr parse(std::string_view text);
  bool contains(const IpAddress& address) const;

 private:
  IpAddress network_;
  unsigned prefix_length_ = 0;
};

class TrustedProxies {
 public:
  explicit TrustedProxies(const std::vector<std::string>& cidrs);  // throws like Cidr::parse
  bool contains(const IpAddress& address) const;
  bool empty() const { return cidrs_.empty(); }

 private:
  std::vector<Cidr> cidrs_;
};

// The client address for a request from `peer` with these heads.
IpAddress resolve_client_address(const IpAddress& peer, const RequestHead& request,
                                 const TrustedProxies& trusted);

class ClientAddressFilter final : public Filter {
 public:
  explicit ClientAddressFilter(TrustedProxies trusted) : trusted_(std::move(trusted)) {}
  void on_request(Exchange& exchange) override;
  const TrustedProxies& trusted() const { return trusted_; }

 private:
  TrustedProxies trusted_;
};

}  // namespace veil::proxy
