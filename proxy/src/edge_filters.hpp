// The filters that tie a policy snapshot to each exchange and report on it: which policy an
// exchange runs under, the address forwarded upstream when the policy asks for an anonymised one,
// the request metrics and the access log. Private to the Edge.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>

#include "veil/policies/policy.hpp"
#include "veil/proxy/access_log_writer.hpp"
#include "veil/proxy/filter.hpp"
#include "veil/proxy/metrics.hpp"

namespace veil::proxy {

// The policy in force; swapped whole on reload.
class PolicyStore {
 public:
  explicit PolicyStore(std::shared_ptr<const policies::Policy> policy)
      : current_(std::move(policy)) {}
  std::shared_ptr<const policies::Policy> current() const { return current_.load(); }
  void replace(std::shared_ptr<const policies::Policy> policy) {
    current_.store(std::move(policy));
  }

 private:
  std::atomic<std::shared_ptr<const policies::Policy>> current_;
};

// The policy an exchange runs under: the one in force when its request arrived, or, for an exchange
// rejected before any filter ran, the one in force now.
std::shared_ptr<const policies::Policy> policy_of(const Exchange& exchange,
                                                  const PolicyStore& store);

// First in the chain: pins the exchange to the policy in force when its request arrived.
class PolicySnapshotFilter final : public Filter {
 public:
  explicit PolicySnapshotFilter(const PolicyStore& store) : store_(store) {}
  void on_request(Exchange& exchange) override;

 private:
  const PolicyStore& store_;
};

// Gives the core the client's anonymised address to send upstream in X-Forwarded-For/Forwarded
// (same method and key schedule as the access log). In the chain only when the core forwards
// anonymised addresses (ServerSettings::forward_client_ip, which a policy reload does not change),
// so that no other mode pays for it.
class AnonymisedAddressFilter final : public Filter {
 public:
  void on_request(Exchange& exchange) override;
};

// Requests by status class and upstream, latency, bytes.
class RequestMetricsFilter final : public Filter {
 public:
  RequestMetricsFilter(ProxyMetrics& metrics, const std::vector<std::string>& upstream_names);
  void on_complete(Exchange& exchange) override;

 private:
  ProxyMetrics& metrics_;
  std::unordered_map<std::string, const ProxyMetrics::UpstreamMetrics*> upstreams_;
  const ProxyMetrics::UpstreamMetrics& local_;
};

// One anonymised line per exchange, handed to the background writer.
class AccessLogFilter final : public Filter {
 public:
  AccessLogFilter(const PolicyStore& store, AccessLogWriter& writer, Counter& dropped)
      : store_(store), writer_(writer), dropped_(dropped) {}
  void on_complete(Exchange& exchange) override;

 private:
  const PolicyStore& store_;
  AccessLogWriter& writer_;
  Counter& dropped_;  // lines that could not be formatted (never written raw)
};

}  // namespace veil::proxy
