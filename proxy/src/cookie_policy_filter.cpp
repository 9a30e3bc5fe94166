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
#include "veil/proxy/consent_filter.hpp"
#include "veil/proxy/consent_pages.hpp"

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

// veil's own cookies hold the visitor's choice (and the one-off confirmation of it): whatever the
// rules say (a policy may not list them), they are never removed or expired.
bool is_own_cookie(const Policy& policy, std::string_view name) {
  return name == policy.consent.cookie_name || name == policy.consent.preferences_set_cookie ||
         name == kConsentSavedCookie;
}

// The name a Set-Cookie value sets, as parse_set_cookie reads it, without parsing the rest.
std::string_view set_cookie_name(std::string_view set_cookie) {
  const std::string_view pair = set_cookie.substr(0, set_cookie.find(';'));
  const std::size_t equals = pair.find('=');
  return equals == std::string_view::npos ? std::string_view() : trim(pair.substr(0, equals));
}

}  // namespace

// What on_request learnt, for on_response_head.
struct CookiePolicyFilter::ExchangeState {
  std::shared_ptr<const Policy> policy;
  std::shared_ptr<const PolicyTables> tables;
  policies::ConsentState consent;
  std::string host;
  Mode mode = Mode::enforce;
  std::vector<std::pair<std::string, std::optional<CategoryId>>> withdrawn;  // to expire

  // Adds a request cookie to `withdrawn` unless it is listed already.
  void withdraw(std::string_view name, std::optional<CategoryId> category) {
    const bool listed = std::any_of(withdrawn.begin(), withdrawn.end(),
                                    [&](const auto& entry) { return entry.first == name; });
    if (!listed) withdrawn.emplace_back(std::string(name), category);
  }
};

struct CookiePolicyFilter::Counters {
  std::array<Counter*, 2> seen{};                          // by Source
  std::array<Counter*, 2> removed{}, capped{}, expired{};  // by mode_index
};

// What is resolved once per policy snapshot rather than per cookie.
struct CookiePolicyFilter::PolicyTables {
  std::shared_ptr<const void> policy;  // held so that the address cannot be reused by another
  std::vector<Counters> by_category;
  Counters unclassified;
  std::array<Counter*, 2> unparseable{};  // by mode_index
  std::vector<std::string> rule_where;    // "file:line" of each cookie rule, for the audit
  const Counters& of(std::optional<CategoryId> category) const {
    return category ? by_category[*category] : unclassified;
  }
  const std::string& where(const Policy& policy, const policies::CookieRule& rule) const {
    return rule_where[static_cast<std::size_t>(&rule - policy.cookies.rules.data())];
  }
};

CookiePolicyFilter::CookiePolicyFilter(const ConsentFilter& consent, MetricsRegistry& metrics,
                                       const PublicSuffixList& suffixes, CookieAudit* audit)
    : consent_(consent),
      suffixes_(suffixes),
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

std::shared_ptr<const CookiePolicyFilter::PolicyTables> CookiePolicyFilter::tables_for(
    const std::shared_ptr<const void>& policy_snapshot) {
  std::lock_guard lock(tables_mutex_);
  if (tables_ && tables_->policy == policy_snapshot) return tables_;
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
  auto tables = std::make_shared<PolicyTables>();
  tables->policy = policy_snapshot;
  for (const auto& category : policy.consent.categories) {
    tables->by_category.push_back(resolve(category.name));
  }
  tables->unclassified = resolve(kUnclassified);
  for (Mode mode : {Mode::enforce, Mode::report_only}) {
    tables->unparseable[mode_index(mode)] = &unparseable_.with({policies::to_string(mode)});
  }
  for (const auto& rule : policy.cookies.rules) tables->rule_where.push_back(to_string(rule.where));
  tables_ = std::move(tables);
  return tables_;
}

std::shared_ptr<CookiePolicyFilter::ExchangeState> CookiePolicyFilter::read_request(
    Exchange& exchange, bool forwarding) {
  auto state = std::make_shared<ExchangeState>();
  state->policy = std::static_pointer_cast<const Policy>(exchange.policy);
  const Policy& policy = *state->policy;
  const auto tables = tables_for(exchange.policy);
  state->tables = tables;
  RequestHead& request = exchange.request;

  state->host = normalise_host(view(request[http::field::host]));
  state->mode = policy.mode_for_path(request_path(view(request.target())));
  const bool enforce = state->mode == Mode::enforce;

  // Without the Consent filter's reading (it did not run), no consent is assumed.
  const policies::ConsentState* consent = consent_.request_consent_of(exchange);
  state->consent = consent ? *consent : policies::read_consent_state(policy, {}, false);
  const std::vector<CookiePair> cookies = request_cookies(request);
  if (cookies.empty()) return state;

  thread_local std::vector<CookiePair> forwarded;  // scratch, as in on_response_head
  forwarded.clear();
  state->withdrawn.reserve(cookies.size());
  const auto now = std::chrono::system_clock::now();
  for (const CookiePair& cookie : cookies) {
    const auto decision = policies::decide_request_cookie(
        policy, cookie.name, state->consent, state->host, state->mode, policies::Reasons::omit);
    tables->of(decision.category).seen[kFromRequest]->inc();
    const bool expire =
        decision.action == RequestCookieAction::expire && !is_own_cookie(policy, cookie.name);
    if (audit_ != nullptr) {
      const std::string generalised =
          decision.rule ? std::string() : generalise_cookie_name(cookie.name);
      CookieObservation observation;
      observation.name_pattern =
          decision.rule ? std::string_view(decision.rule->pattern) : std::string_view(generalised);
      observation.domain = state->host;
      observation.category =
          decision.category ? std::string_view(policy.category_name(*decision.category)) : "";
      observation.rule = decision.rule ? std::string_view(tables->where(policy, *decision.rule))
                                       : std::string_view();
      observation.expired = enforce && expire;
      observation.violations[static_cast<std::size_t>(CookieViolation::unclassified)] =
          decision.rule == nullptr;
      observation.violations[static_cast<std::size_t>(CookieViolation::set_before_consent)] =
          decision.rule != nullptr && !decision.granted;
      observation.when = now;
      audit_->record(observation);
    }
    if (expire) state->withdraw(cookie.name, decision.category);
    if (!expire || !enforce) forwarded.push_back(cookie);
  }
  if (forwarding && forwarded.size() != cookies.size()) {
    if (forwarded.empty()) {
      request.erase(http::field::cookie);
    } else {
      request.set(http::field::cookie, policies::serialize_cookie_header(forwarded));
    }
  }
  return state;
}

void CookiePolicyFilter::on_request(Exchange& exchange) {
  if (!exchange.policy) return;
  exchange.state_for(*this) = read_request(exchange, true);
}

// The consent a response records (a consent POST's answer, or an origin setting veil's consent
// cookie) governs that very response: its Set-Cookies are decided under it, and the request's
// cookies it no longer grants are expired now rather than on the next page.
void CookiePolicyFilter::adopt_recorded_consent(Exchange& exchange, ExchangeState& state) {
  const Policy& policy = *state.policy;
  const auto [first, end] = exchange.response.equal_range(http::field::set_cookie);
  const bool sets_consent = std::any_of(first, end, [&](const auto& field) {
    return set_cookie_name(view(field.value())) == policy.consent.cookie_name;
  });
  if (!sets_consent) return;
  auto recorded = consent_set_by_response(policy, exchange.response);
  if (!recorded) return;
  state.consent = std::move(*recorded);
  // The request's cookies: those forwarded upstream are still in its Cookie header, those
  // stripped are in `withdrawn`.
  auto previously_withdrawn = std::move(state.withdrawn);
  state.withdrawn.clear();
  const auto reconsider = [&](std::string_view name) {
    if (is_own_cookie(policy, name)) return;
    const auto decision = policies::decide_request_cookie(policy, name, state.consent, state.host,
                                                          state.mode, policies::Reasons::omit);
    if (decision.action == RequestCookieAction::expire) state.withdraw(name, decision.category);
  };
  for (const auto& entry : previously_withdrawn) reconsider(entry.first);
  for (const CookiePair& cookie : request_cookies(exchange.request)) reconsider(cookie.name);
}

void CookiePolicyFilter::on_response_head(Exchange& exchange) {
  auto state_pointer = std::static_pointer_cast<ExchangeState>(exchange.state_for(*this));
  // A response answered inside the proxy (the consent endpoints) skipped on_request.
  if (!state_pointer && exchange.policy && exchange.local_handler) {
    state_pointer = read_request(exchange, false);
  }
  if (!state_pointer) return;
  ExchangeState& state = *state_pointer;
  adopt_recorded_consent(exchange, state);
  const Policy& policy = *state.policy;
  const PolicyTables* tables = state.tables.get();
  ResponseHead& response = exchange.response;
  const auto [first_set_cookie, end_set_cookie] = response.equal_range(http::field::set_cookie);
  if (first_set_cookie == end_set_cookie && state.withdrawn.empty()) return;

  const bool enforce = state.mode == Mode::enforce;
  const std::size_t mode = mode_index(state.mode);
  const auto now = std::chrono::system_clock::now();

  policies::ResponseContext context;
  context.request_host = state.host;
  context.response_date = policies::parse_http_date(view(response[http::field::date]))
                              .value_or(std::chrono::floor<std::chrono::seconds>(now));
  context.tls = exchange.tls;
  context.mode = state.mode;

  // The Set-Cookies as they will be sent: an original field as it is, or a new text.
  struct Outgoing {
    std::string_view original;
    std::string replacement;
  };
  struct Original {
    ResponseHead::const_iterator field;
    std::string_view name;
    bool sent_as_is = false;
    bool passes = false;  // kept or rewritten: the origin sets this cookie and the policy agrees
  };
  // Scratch reused by every exchange of this thread (the filter never re-enters), so that a
  // response allocates only the texts it adds.
  thread_local std::vector<Outgoing> outgoing;
  thread_local std::vector<Original> originals;
  outgoing.clear();
  originals.clear();
  bool changed = false;
  const auto send_as_is = [&](std::string_view header) {
    outgoing.push_back({header, {}});
    originals.back().sent_as_is = true;
  };
  for (auto field = first_set_cookie; field != end_set_cookie; ++field) {
    const std::string_view header = view(field->value());
    originals.push_back({field, set_cookie_name(header)});
    auto parsed = policies::parse_set_cookie(header);
    if (!parsed.cookie) {
      tables->unparseable[mode]->inc();
      if (audit_ != nullptr) {
        CookieObservation observation;
        observation.name_pattern = kUnparseable;
        observation.domain = state.host;
        observation.from_set_cookie = true;
        observation.removed = enforce;
        observation.violations[static_cast<std::size_t>(CookieViolation::unparseable)] = true;
        observation.when = now;
        audit_->record(observation);
      }
      if (enforce) {
        changed = true;
      } else {
        send_as_is(header);
      }
      continue;
    }
    const policies::SetCookie& cookie = *parsed.cookie;
    auto decision = policies::decide_set_cookie(policy, cookie, state.consent, context,
                                                policies::Reasons::omit);
    if (decision.action == CookieAction::remove && is_own_cookie(policy, cookie.name())) {
      decision.action = CookieAction::keep;
    }
    const Counters& category_counters = tables->of(decision.category);
    category_counters.seen[kFromSetCookie]->inc();
    if (audit_ != nullptr && !decision.deletion) {
      const policies::CookieRule* rule = decision.rule;
      const std::string generalised = rule ? std::string() : generalise_cookie_name(cookie.name());
      CookieObservation observation;
      observation.name_pattern =
          rule ? std::string_view(rule->pattern) : std::string_view(generalised);
      observation.domain = cookie.domain() ? std::string_view(*cookie.domain()) : state.host;
      observation.path = cookie.path() ? std::string_view(*cookie.path()) : "/";
      observation.category =
          decision.category ? std::string_view(policy.category_name(*decision.category)) : "";
      observation.rule = rule ? std::string_view(tables->where(policy, *rule)) : "";
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
        send_as_is(header);
        originals.back().passes = true;
        break;
      case CookieAction::remove:
        category_counters.removed[mode]->inc();
        if (enforce) {
          changed = true;
        } else {
          send_as_is(header);
        }
        break;
      case CookieAction::rewrite:
        category_counters.capped[mode]->inc();
        originals.back().passes = true;
        if (enforce) {
          outgoing.push_back({{}, decision.rewritten->serialize()});
          changed = true;
        } else {
          send_as_is(header);
        }
        break;
    }
  }

  std::size_t expired = 0;
  const std::vector<std::string_view> cookie_domains = enforce && !state.withdrawn.empty()
                                                           ? suffixes_.cookie_domains(state.host)
                                                           : std::vector<std::string_view>();
  for (const auto& withdrawn : state.withdrawn) {
    const auto& [name, category] = withdrawn;
    if (expired == kMaxExpiredPerResponse) break;
    // The origin has just set it again, and the policy let that through.
    if (std::any_of(originals.begin(), originals.end(), [&](const Original& set) {
          return set.passes && set.name == withdrawn.first;
        })) {
      continue;
    }
    auto host_only = policies::build_deletion_set_cookie(name, {});
    if (!host_only) continue;  // a name no Set-Cookie can carry
    ++expired;
    tables->of(category).expired[mode]->inc();
    if (!enforce) continue;
    outgoing.push_back({{}, std::move(*host_only)});
    for (const std::string_view domain : cookie_domains) {
      if (auto deletion = policies::build_deletion_set_cookie(name, domain)) {
        outgoing.push_back({{}, std::move(*deletion)});
      }
    }
    changed = true;
  }

  if (!changed) return;
  // Only Set-Cookies of the same name depend on their order (a later one replaces an earlier one
  // with the same domain and path). With every name distinct, the fields sent as they are stay
  // in place and the new texts follow; otherwise all are written again in order, the new fields
  // first (from the originals' still-valid text), then the originals go.
  const bool names_distinct = std::all_of(originals.begin(), originals.end(), [&](const auto& a) {
    return std::count_if(originals.begin(), originals.end(),
                         [&](const auto& b) { return b.name == a.name; }) == 1;
  });
  for (const auto& set_cookie : outgoing) {
    if (set_cookie.replacement.empty() && names_distinct) continue;
    response.insert(http::field::set_cookie,
                    set_cookie.replacement.empty() ? set_cookie.original : set_cookie.replacement);
  }
  for (const auto& original : originals) {
    if (!original.sent_as_is || !names_distinct) response.erase(original.field);
  }
  mark_private(response);
}

}  // namespace veil::proxy
