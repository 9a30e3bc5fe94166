#include "veil/proxy/consent_filter.hpp"

#include <algorithm>
#include <chrono>
#include <string_view>
#include <vector>

#include "veil/policies/cookie_header.hpp"

namespace veil::proxy {
namespace {

namespace http = boost::beast::http;
constexpr std::string_view kGpcJsonPath = "/.well-known/gpc.json";

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

}  // namespace

std::vector<policies::CookiePair> request_cookies(const RequestHead& request) {
  const auto [first, end] = request.equal_range(http::field::cookie);
  // A pair per ';' at most, and one more per header: one allocation.
  std::size_t most = 0;
  for (auto field = first; field != end; ++field) {
    const auto value = field->value();
    most += 1 + static_cast<std::size_t>(std::count(value.begin(), value.end(), ';'));
  }
  std::vector<policies::CookiePair> cookies;
  cookies.reserve(most);
  for (auto field = first; field != end; ++field) {
    policies::CookieHeaderReader reader(
        std::string_view(field->value().data(), field->value().size()));
    for (policies::CookiePair pair; reader.next(pair);) cookies.push_back(pair);
  }
  return cookies;
}

std::shared_ptr<const policies::Policy> exchange_policy(const Exchange& exchange) {
  return std::static_pointer_cast<const policies::Policy>(exchange.policy);
}

std::optional<policies::ConsentState> consent_set_by_response(const policies::Policy& policy,
                                                              const ResponseHead& response) {
  std::vector<std::string_view> values;
  for (auto [field, end] = response.equal_range(http::field::set_cookie); field != end; ++field) {
    values.emplace_back(field->value().data(), field->value().size());
  }
  if (values.empty()) return std::nullopt;
  return consent_set_by_response(policy, values);
}

ConsentFilter::ConsentFilter(std::string gpc_last_update)
    : gpc_last_update_(std::move(gpc_last_update)) {}

void ConsentFilter::on_request(Exchange& exchange) {
  auto policy = exchange_policy(exchange);
  if (!policy) return;
  const std::vector<policies::CookiePair> cookies = request_cookies(exchange.request);
  const bool sec_gpc = exchange.request["Sec-GPC"] == "1";
  auto state = std::make_shared<Visitor>();
  state->consent = policies::read_consent_state(*policy, cookies, sec_gpc);
  if (auto flag = policies::find_cookie(cookies, kConsentSavedCookie)) {
    state->saved = parse_consent_saved(*flag);
  }

  const std::string_view target(exchange.request.target().data(), exchange.request.target().size());
  const auto path = path_of(target);
  if (path == consent_endpoint(*policy)) {
    ConsentRequestContext context;
    context.consent = state->consent;
    context.tls = exchange.tls;
    context.host = std::string(exchange.request[http::field::host]);
    context.now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    exchange.respond_locally([policy, context = std::move(context)](const LocalRequest& request) {
      return handle_consent_request(*policy, request, context);
    });
  } else if (path == kGpcJsonPath && policy->consent.honour_gpc) {
    exchange.respond_locally(
        [date = gpc_last_update_](const LocalRequest&) { return gpc_json_response(date); });
  } else if (path.starts_with(policy->consent.endpoint_prefix)) {
    exchange.respond_locally([](const LocalRequest&) {
      LocalResponse response;
      response.status = 404;
      response.headers = {{"Content-Type", "text/plain; charset=utf-8"}};
      response.body = "Not found.\n";
      return response;
    });
  }
  exchange.state_for(*this) = std::move(state);
}

const ConsentFilter::Visitor* ConsentFilter::visitor(Exchange& exchange) const {
  return static_cast<const Visitor*>(exchange.state_for(*this).get());
}

std::optional<policies::ConsentState> ConsentFilter::consent_of(Exchange& exchange) const {
  const auto* requested = request_consent_of(exchange);
  if (requested == nullptr) return std::nullopt;
  if (auto policy = exchange_policy(exchange)) {
    if (auto recorded = consent_set_by_response(*policy, exchange.response)) return recorded;
  }
  return *requested;
}

const policies::ConsentState* ConsentFilter::request_consent_of(Exchange& exchange) const {
  const auto* state = visitor(exchange);
  return state == nullptr ? nullptr : &state->consent;
}

ConsentSaved ConsentFilter::confirmation_of(Exchange& exchange) const {
  const auto* state = visitor(exchange);
  return state == nullptr ? ConsentSaved::none : state->saved;
}

}  // namespace veil::proxy
