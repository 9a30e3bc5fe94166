#include "veil/proxy/cookie_policy_filter.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "veil/policies/cookie_header.hpp"
#include "veil/policies/decisions.hpp"
#include "veil/policies/http_date.hpp"
#include "veil/policies/policy.hpp"
#include "veil/policies/set_cookie.hpp"

namespace veil::proxy {
namespace {

namespace http = boost::beast::http;
using policies::CategoryId;
using policies::CookieAction;
using policies::CookiePair;
using policies::Mode;
using policies::Policy;
using policies::RequestCookieAction;

constexpr std::string_view kUnclassified = "unclassified";
constexpr std::string_view kUnparseable = "(unparseable)";

enum Source : std::size_t { kFromSetCookie, kFromRequest };

std::size_t mode_index(Mode mode) {
  return mode == Mode::enforce ? 0 : 1;
}

template <class Value>
std::string_view view(const Value& value) {
  return {value.data(), value.size()};
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view request_path(std::string_view target) {
  return target.substr(0, target.find_first_of("?#"));
}

// A response that carries changed cookies must not be stored by a shared cache and served to
// another visitor: adds `private` (dropping `public`) unless it is already private or no-store.
void mark_private(ResponseHead& response) {
  const std::string_view current = view(response[http::field::cache_control]);
  std::string updated = "private";
  std::string_view rest = current;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view directive = trim(rest.substr(0, comma));
    rest.remove_prefix(comma == rest.npos ? rest.size() : comma + 1);
    const std::string_view name = trim(directive.substr(0, directive.find('=')));
    if (iequals(name, "private") || iequals(name, "no-store")) return;
    if (directive.empty() || iequals(name, "public")) continue;
    updated.append(", ").append(directive);
  }
  response.set(http::field::cache_control, updated);
}

// veil's own consent cookies hold the visitor's choice: whatever the rules say (a policy may not
// list them), they are never removed or expired.
bool is_own_consent_cookie(const Policy& policy, std::string_view name) {
  return name == policy.consent.cookie_name || name == policy.consent.preferences_set_cookie;
}

// What on_request learnt, for on_response_head.
struct CookieState {
  std::shared_ptr<const Policy> policy;
  std::shared_ptr<const void> counters;  // CookiePolicyFilter::CounterTable of this policy
  policies::ConsentState consent;
  std::string host;
  Mode mode = Mode::enforce;
  std::vector<std::pair<std::string, std::optional<CategoryId>>> withdrawn;  // to expire
};

}  // namespace

struct CookiePolicyFilter::Counters {
  std::array<Counter*, 2> seen{};                          // by Source
  std::array<Counter*, 2> removed{}, capped{}, expired{};  // by mode_index
};

struct CookiePolicyFilter::CounterTable {
  std::shared_ptr<const void> policy;  // held so that the address cannot be reused by another
  std::vector<Counters> by_category;
  Counters unclassified;
  const Counters& of(std::optional<CategoryId> category) const {
    return category ? by_category[*category] : unclassified;
  }
};

CookiePolicyFilter::CookiePolicyFilter(MetricsRegistry& metrics, const PublicSuffixList& suffixes,
                                       CookieAudit* audit)
    : suffixes_(suffixes),
      audit_(audit),
      seen_(metrics.counter_family("veil_cookies_seen_total",
                                   "Cookies observed, by policy category and where: set_cookie "
                                   "(response) or request (Cookie header).",
                                   {"category", "source"})),
      removed_(metrics.counter_family("veil_cookies_removed_total",
                                      "Set-Cookies removed (mode=report-only: would have been).",
                                      {"category", "mode"})),
      capped_(metrics.counter_family(
          "veil_cookies_capped_total",
          "Set-Cookies rewritten with a capped lifetime or added attributes (mode=report-only: "
          "would have been).",
          {"category", "mode"})),
      expired_(metrics.counter_family(
          "veil_cookies_expired_total",
          "Request cookies of categories not granted, expired in the browser and removed upstream "
          "(mode=report-only: would have been).",
          {"category", "mode"})),
      unparseable_(metrics.counter_family(
          "veil_set_cookie_unparseable_total",
          "Set-Cookie headers a browser would ignore (removed in enforce mode).", {"mode"})) {}

CookiePolicyFilter::~CookiePolicyFilter() = default;

std::shared_ptr<const CookiePolicyFilter::CounterTable> CookiePolicyFilter::counters_for(
    const std::shared_ptr<const void>& policy_snapshot) {
  std::lock_guard lock(counters_mutex_);
  if (counters_ && counters_->policy == policy_snapshot) return counters_;
  const auto& policy = *std::static_pointer_cast<const Policy>(policy_snapshot);
  const auto resolve = [&](std::string_view category) {
    Counters counters;
    counters.seen[kFromSetCookie] = &seen_.with({category, "set_cookie"});
    counters.seen[kFromRequest] = &seen_.with({category, "request"});
    for (Mode mode : {Mode::enforce, Mode::report_only}) {
      const std::string_view mode_name = policies::to_string(mode);
      counters.removed[mode_index(mode)] = &removed_.with({category, mode_name});
      counters.capped[mode_index(mode)] = &capped_.with({category, mode_name});
      counters.expired[mode_index(mode)] = &expired_.with({category, mode_name});
    }
    return counters;
  };
  auto table = std::make_shared<CounterTable>();
  table->policy = policy_snapshot;
  for (const auto& category : policy.consent.categories) {
    table->by_category.push_back(resolve(category.name));
  }
  table->unclassified = resolve(kUnclassified);
  counters_ = std::move(table);
  return counters_;
}

void CookiePolicyFilter::on_request(Exchange& exchange) {
  if (!exchange.policy) return;
  auto state = std::make_shared<CookieState>();
  state->policy = std::static_pointer_cast<const Policy>(exchange.policy);
  const Policy& policy = *state->policy;
  const auto counters = counters_for(exchange.policy);
  state->counters = counters;
  RequestHead& request = exchange.request;

  state->host = normalise_host(view(request[http::field::host]));
  state->mode = policy.mode_for_path(request_path(view(request.target())));
  const bool enforce = state->mode == Mode::enforce;

  std::vector<CookiePair> cookies;
  const auto [first_cookie, end_cookie] = request.equal_range(http::field::cookie);
  for (auto field = first_cookie; field != end_cookie; ++field) {
    policies::CookieHeaderReader reader(view(field->value()));
    for (CookiePair pair; reader.next(pair);) cookies.push_back(pair);
  }
  const bool sec_gpc = trim(view(request["Sec-GPC"])) == "1";
  state->consent = policies::read_consent_state(policy, cookies, sec_gpc);

  std::vector<CookiePair> forwarded;
  forwarded.reserve(cookies.size());
  const auto now = std::chrono::system_clock::now();
  for (const CookiePair& cookie : cookies) {
    const auto decision = policies::decide_request_cookie(policy, cookie.name, state->consent,
                                                          state->host, state->mode);
    counters->of(decision.category).seen[kFromRequest]->inc();
    if (audit_ != nullptr) {
      const std::string generalised =
          decision.rule ? std::string() : generalise_cookie_name(cookie.name);
      const std::string rule_where = decision.rule ? to_string(decision.rule->where) : "";
      CookieObservation observation;
      observation.name_pattern =
          decision.rule ? std::string_view(decision.rule->pattern) : std::string_view(generalised);
      observation.domain = state->host;
      observation.category =
          decision.category ? std::string_view(policy.category_name(*decision.category)) : "";
      observation.rule = rule_where;
      observation.expired = enforce && decision.action == RequestCookieAction::expire;
      observation.violations[static_cast<std::size_t>(CookieViolation::unclassified)] =
          decision.rule == nullptr;
      observation.violations[static_cast<std::size_t>(CookieViolation::set_before_consent)] =
          decision.rule != nullptr && !decision.granted;
      observation.when = now;
      audit_->record(observation);
    }
    if (decision.action != RequestCookieAction::expire ||
        is_own_consent_cookie(policy, cookie.name)) {
      forwarded.push_back(cookie);
      continue;
    }
    const bool listed = std::any_of(state->withdrawn.begin(), state->withdrawn.end(),
                                    [&](const auto& entry) { return entry.first == cookie.name; });
    if (!listed) state->withdrawn.emplace_back(std::string(cookie.name), decision.category);
    if (!enforce) forwarded.push_back(cookie);
  }
  if (forwarded.size() != cookies.size()) {
    std::string header = policies::serialize_cookie_header(forwarded);
    request.erase(http::field::cookie);
    if (!header.empty()) request.set(http::field::cookie, header);
  }
  exchange.state_for(*this) = std::move(state);
}

void CookiePolicyFilter::on_response_head(Exchange& exchange) {
  const auto state = std::static_pointer_cast<CookieState>(exchange.state_for(*this));
  if (!state) return;
  const Policy& policy = *state->policy;
  const auto counters = std::static_pointer_cast<const CounterTable>(state->counters);
  ResponseHead& response = exchange.response;
  const bool enforce = state->mode == Mode::enforce;
  const std::size_t mode = mode_index(state->mode);
  const auto now = std::chrono::system_clock::now();

  policies::ResponseContext context;
  context.request_host = state->host;
  context.response_date = policies::parse_http_date(view(response[http::field::date]))
                              .value_or(std::chrono::floor<std::chrono::seconds>(now));
  context.tls = exchange.tls;
  context.mode = state->mode;

  std::vector<std::string> set_cookies;  // as they will be sent
  std::vector<std::string> kept_names;
  bool changed = false;
  const auto [first_set_cookie, end_set_cookie] = response.equal_range(http::field::set_cookie);
  for (auto field = first_set_cookie; field != end_set_cookie; ++field) {
    const std::string_view header = view(field->value());
    auto parsed = policies::parse_set_cookie(header);
    if (!parsed.cookie) {
      unparseable_.with({policies::to_string(state->mode)}).inc();
      if (audit_ != nullptr) {
        CookieObservation observation;
        observation.name_pattern = kUnparseable;
        observation.domain = state->host;
        observation.from_set_cookie = true;
        observation.removed = enforce;
        observation.violations[static_cast<std::size_t>(CookieViolation::unparseable)] = true;
        observation.when = now;
        audit_->record(observation);
      }
      if (enforce) {
        changed = true;
      } else {
        set_cookies.emplace_back(header);
      }
      continue;
    }
    const policies::SetCookie& cookie = *parsed.cookie;
    auto decision = policies::decide_set_cookie(policy, cookie, state->consent, context);
    if (decision.action == CookieAction::remove && is_own_consent_cookie(policy, cookie.name())) {
      decision.action = CookieAction::keep;
    }
    const Counters& category_counters = counters->of(decision.category);
    category_counters.seen[kFromSetCookie]->inc();
    if (audit_ != nullptr && !decision.deletion) {
      const policies::CookieRule* rule = decision.rule;
      const std::string generalised = rule ? std::string() : generalise_cookie_name(cookie.name());
      const std::string rule_where = rule ? to_string(rule->where) : "";
      CookieObservation observation;
      observation.name_pattern =
          rule ? std::string_view(rule->pattern) : std::string_view(generalised);
      observation.domain = cookie.domain() ? std::string_view(*cookie.domain()) : state->host;
      observation.path = cookie.path() ? std::string_view(*cookie.path()) : "/";
      observation.category =
          decision.category ? std::string_view(policy.category_name(*decision.category)) : "";
      observation.rule = rule_where;
      observation.from_set_cookie = true;
      observation.requested_lifetime = decision.requested_lifetime;
      observation.enforced_lifetime = decision.enforced_lifetime;
      observation.secure = cookie.secure();
      observation.http_only = cookie.http_only();
      observation.same_site = policies::to_string(cookie.same_site());
      observation.removed = enforce && decision.action == CookieAction::remove;
      observation.rewritten = enforce && decision.action == CookieAction::rewrite;
      auto& violations = observation.violations;
      violations[static_cast<std::size_t>(CookieViolation::unclassified)] = rule == nullptr;
      if (rule != nullptr) {
        violations[static_cast<std::size_t>(CookieViolation::set_before_consent)] =
            !decision.granted;
        violations[static_cast<std::size_t>(CookieViolation::lifetime_over_policy)] =
            rule->max_age && decision.requested_lifetime &&
            *decision.requested_lifetime > rule->max_age->count();
        violations[static_cast<std::size_t>(CookieViolation::missing_secure)] =
            rule->required.secure && !cookie.secure();
        violations[static_cast<std::size_t>(CookieViolation::missing_http_only)] =
            rule->required.http_only && !cookie.http_only();
      }
      observation.when = now;
      audit_->record(observation);
    }
    switch (decision.action) {
      case CookieAction::keep:
        set_cookies.emplace_back(header);
        kept_names.push_back(cookie.name());
        break;
      case CookieAction::remove:
        category_counters.removed[mode]->inc();
        if (enforce) {
          changed = true;
        } else {
          set_cookies.emplace_back(header);
        }
        break;
      case CookieAction::rewrite:
        category_counters.capped[mode]->inc();
        kept_names.push_back(cookie.name());
        if (enforce) {
          set_cookies.push_back(decision.rewritten->serialize());
          changed = true;
        } else {
          set_cookies.emplace_back(header);
        }
        break;
    }
  }

  std::size_t expired = 0;
  for (const auto& [name, category] : state->withdrawn) {
    if (expired == kMaxExpiredPerResponse) break;
    // The origin has just set it again, and the policy let that through.
    if (std::find(kept_names.begin(), kept_names.end(), name) != kept_names.end()) continue;
    auto host_only = policies::build_deletion_set_cookie(name, {});
    if (!host_only) continue;  // a name no Set-Cookie can carry
    ++expired;
    counters->of(category).expired[mode]->inc();
    if (!enforce) continue;
    set_cookies.push_back(std::move(*host_only));
    for (const std::string_view domain : suffixes_.cookie_domains(state->host)) {
      if (auto deletion = policies::build_deletion_set_cookie(name, domain)) {
        set_cookies.push_back(std::move(*deletion));
      }
    }
    changed = true;
  }

  if (!changed) return;
  response.erase(http::field::set_cookie);
  for (const auto& set_cookie : set_cookies) response.insert(http::field::set_cookie, set_cookie);
  mark_private(response);
}

}  // namespace veil::proxy
