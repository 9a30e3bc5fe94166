#include "veil/proxy/filter.hpp"

namespace veil::proxy {

std::shared_ptr<void>& Exchange::state_for(const Filter& filter) {
  for (auto& [owner, state] : filter_state_) {
    if (owner == &filter) return state;
  }
  return filter_state_.emplace_back(&filter, nullptr).second;
}

LocalHandlerFilter::LocalHandlerFilter(std::string path_prefix, LocalHandler handler)
    : path_prefix_(std::move(path_prefix)), handler_(std::move(handler)) {}

void LocalHandlerFilter::on_request(Exchange& exchange) {
  if (exchange.request.target().starts_with(path_prefix_)) exchange.respond_locally(handler_);
}

}  // namespace veil::proxy
