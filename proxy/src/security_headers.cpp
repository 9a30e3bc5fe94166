#include "veil/proxy/security_headers.hpp"

#include <memory>
#include <string>
#include <string_view>

#include "consent_cache.hpp"
#include "text.hpp"

namespace veil::proxy {
namespace {

namespace http = boost::beast::http;

// Comma-separated list items, trimmed, empty ones skipped.
template <class Each>
void for_each_item(std::string_view list, Each each) {
  for (std::string_view item : split_list(list)) {
    if (!item.empty()) each(item);
  }
}

}  // namespace

bool is_html_response(const ResponseHead& response) {
  // Every response passes here (twice): a walk comparing field codes costs less than a lookup by
  // name, which compares strings case-insensitively.
  for (const auto& field : response) {
    if (field.name() != http::field::content_type) continue;
    const std::string_view type = field.value();
    return iequals(trim(type.substr(0, type.find(';'))), "text/html");
  }
  return false;
}

void mark_personalised(ResponseHead& response) {
  const std::string cache_control(response[http::field::cache_control]);
  std::string rewritten;
  bool personal = false;
  for_each_item(cache_control, [&](std::string_view item) {
    const auto name = item.substr(0, item.find('='));
    if (iequals(name, "public") || iequals(name, "s-maxage")) return;
    if (iequals(name, "private") || iequals(name, "no-store")) personal = true;
    if (!rewritten.empty()) rewritten += ", ";
    rewritten += item;
  });
  if (!personal) rewritten = rewritten.empty() ? "private" : "private, " + rewritten;
  response.set(http::field::cache_control, rewritten);

  bool varies = false;
  std::string vary;
  for (auto [field, end] = response.equal_range(http::field::vary); field != end; ++field) {
    for_each_item(field->value(), [&](std::string_view item) {
      if (item == "*" || iequals(item, "cookie")) varies = true;
    });
    if (!vary.empty()) vary += ", ";
    vary += field->value();
  }
  if (!varies) response.set(http::field::vary, vary.empty() ? "Cookie" : vary + ", Cookie");
}

struct SecurityHeaders::Cache {
  ConsentCache<policies::CategorySet, std::string> csp;
};

SecurityHeaders::SecurityHeaders(const ConsentFilter& consent)
    : consent_(consent), cache_(std::make_unique<Cache>()) {}

SecurityHeaders::~SecurityHeaders() = default;

void SecurityHeaders::on_response_head(Exchange& exchange) {
  const auto policy = exchange_policy(exchange);
  if (!policy || !is_html_response(exchange.response)) return;
  const auto consent = consent_.consent_of(exchange);
  if (!consent) return;
  const std::string_view target(exchange.request.target().data(), exchange.request.target().size());
  const auto mode = policy->mode_for_path(target.substr(0, target.find('?')));
  // insert, never set: an origin's own policy stays, and the browser enforces both.
  // The CSP depends on the granted categories only (consent_content_security_policy).
  const auto csp = cache_->csp.get(
      policy, consent->granted, [&] { return consent_content_security_policy(*policy, *consent); });
  exchange.response.insert(mode == policies::Mode::enforce ? "Content-Security-Policy"
                                                           : "Content-Security-Policy-Report-Only",
                           *csp);
  mark_personalised(exchange.response);
}

}  // namespace veil::proxy
