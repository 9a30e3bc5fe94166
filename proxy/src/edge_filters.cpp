#include "edge_filters.hpp"

#include <chrono>
#include <optional>

#include "address_text.hpp"
#include "veil/anonymiser/address_anonymiser.hpp"
#include "veil/proxy/access_log.hpp"

namespace veil::proxy {
namespace {

anonymiser::Day day_of(std::chrono::system_clock::time_point time) {
  return static_cast<anonymiser::Day>(
      std::chrono::floor<std::chrono::days>(time).time_since_epoch().count());
}

anonymiser::MasterKey key_for(const anonymiser::AnonymiseSettings& settings) {
  const auto bytes = anonymiser::key_bytes_for(settings.method);
  if (bytes == 0) return {};
  return anonymiser::load_key_file(settings.key_file, bytes);
}

// Per-thread state built from one policy: rebuilt when a thread first sees a newer policy. Holding
// the policy keeps the pointer comparison meaningful (no reuse of a freed address).
template <typename Value>
struct PerPolicy {
  std::shared_ptr<const policies::Policy> policy;
  std::optional<Value> value;
};

std::string_view header(const RequestHead& request, std::string_view name) {
  const auto value = request[boost::beast::string_view(name.data(), name.size())];
  return {value.data(), value.size()};
}

}  // namespace

std::shared_ptr<const policies::Policy> policy_of(const Exchange& exchange,
                                                  const PolicyStore& store) {
  if (exchange.policy) return std::static_pointer_cast<const policies::Policy>(exchange.policy);
  return store.current();
}

void PolicySnapshotFilter::on_request(Exchange& exchange) {
  exchange.policy = store_.current();
}

void AnonymisedAddressFilter::on_request(Exchange& exchange) {
  const auto policy = std::static_pointer_cast<const policies::Policy>(exchange.policy);
  if (!policy) return;
  thread_local PerPolicy<anonymiser::AddressAnonymiser> cache;
  if (cache.policy != policy) {
    cache.value.reset();
    cache.value.emplace(policy->anonymise, key_for(policy->anonymise));
    cache.policy = policy;
  }
  exchange.anonymised_client_address =
      cache.value->map(to_anonymiser_address(exchange.client_address), day_of(exchange.received_at))
          .to_string();
}

RequestMetricsFilter::RequestMetricsFilter(ProxyMetrics& metrics,
                                           const std::vector<std::string>& upstream_names)
    : metrics_(metrics), local_(metrics.upstream(ProxyMetrics::kNoUpstream)) {
  for (const auto& name : upstream_names) upstreams_.emplace(name, &metrics.upstream(name));
}

void RequestMetricsFilter::on_complete(Exchange& exchange) {
  const auto found = upstreams_.find(exchange.upstream_name);
  const auto& upstream = found == upstreams_.end() ? local_ : *found->second;
  const std::chrono::duration<double> elapsed = exchange.completed - exchange.started;
  upstream.count_response(exchange.response.result_int(), elapsed.count());
  metrics_.received_bytes.inc(exchange.request_body_bytes);
  metrics_.sent_bytes.inc(exchange.response_body_bytes);
  using Error = ProxyMetrics::UpstreamError;
  const std::string_view error = exchange.error;
  if (error == "upstream_connect") upstream.count_error(Error::connect);
  if (error == "upstream_timeout") upstream.count_error(Error::timeout);
  if (error == "upstream_reset") upstream.count_error(Error::reset);
  if (error == "upstream_bad_response") upstream.count_error(Error::protocol);
}

void AccessLogFilter::on_complete(Exchange& exchange) {
  const auto policy = policy_of(exchange, store_);
  if (!policy) return;
  thread_local PerPolicy<AccessLogFormatter> cache;
  thread_local std::string line;
  try {
    if (cache.policy != policy) {
      cache.value.reset();
      const auto format = policy->access_log.format == policies::AccessLogFormat::json
                              ? anonymiser::LogFormat::json
                              : anonymiser::LogFormat::combined;
      cache.value.emplace(policy->anonymise, format, key_for(policy->anonymise));
      cache.policy = policy;
    }
    const auto& client =
        exchange.client_address.is_unspecified() ? exchange.peer_address : exchange.client_address;
    const AddressText client_text(client);
    const auto& request = exchange.request;
    const auto method = request.method_string();
    const auto target = request.target();
    AccessRecord record;
    record.client_address = client_text.view();
    record.time = exchange.received_at;
    record.method = {method.data(), method.size()};
    record.target = {target.data(), target.size()};
    record.protocol = request.version() == 10 ? "HTTP/1.0" : "HTTP/1.1";
    record.status = exchange.response.result_int();
    record.body_bytes_sent = exchange.response_body_bytes;
    record.referrer = header(request, "Referer");
    record.user_agent = header(request, "User-Agent");
    record.forwarded_for = header(request, "X-Forwarded-For");
    record.upstream = exchange.upstream_name;
    record.duration = std::chrono::duration_cast<std::chrono::microseconds>(exchange.completed -
                                                                            exchange.started);
    line.clear();
    cache.value->format(record, line);
  } catch (const std::exception&) {
    // A key file that vanished after the policy was validated: the line is lost, never raw.
    dropped_.inc();
    return;
  }
  writer_.submit(line);
}

}  // namespace veil::proxy
