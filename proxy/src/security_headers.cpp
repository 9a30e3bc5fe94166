#include "veil/proxy/security_headers.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

#include "consent_cache.hpp"

namespace veil::proxy {
namespace {

namespace http = boost::beast::http;

std::string lowered(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Comma-separated list items, trimmed and lower-cased.
template <class Each>
void for_each_item(std::string_view list, Each each) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto item = trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (!item.empty()) each(item);
  }
}

std::string_view view(boost::beast::string_view value) {
  return {value.data(), value.size()};
}

}  // namespace

bool is_html_response(const ResponseHead& response) {
  const auto type = view(response[http::field::content_type]);
  return lowered(trim(type.substr(0, type.find(';')))) == "text/html";
}

void mark_personalised(ResponseHead& response) {
  const std::string cache_control(view(response[http::field::cache_control]));
  std::string rewritten;
  bool personal = false;
  for_each_item(cache_control, [&](std::string_view item) {
    const auto name = lowered(item.substr(0, item.find('=')));
    if (name == "public" || name == "s-maxage") return;
    if (name == "private" || name == "no-store") personal = true;
    if (!rewritten.empty()) rewritten += ", ";
    rewritten += item;
  });
  if (!personal) rewritten = rewritten.empty() ? "private" : "private, " + rewritten;
  response.set(http::field::cache_control, rewritten);

  bool varies = false;
  std::string vary;
  for (auto [field, end] = response.equal_range(http::field::vary); field != end; ++field) {
    for_each_item(view(field->value()), [&](std::string_view item) {
      if (item == "*" || lowered(item) == "cookie") varies = true;
    });
    if (!vary.empty()) vary += ", ";
    vary += view(field->value());
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
