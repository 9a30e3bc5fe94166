#include "veil/policies/decisions.hpp"

#include <algorithm>

namespace veil::policies {
namespace {

std::string category_reason(const Policy& policy, CategoryId category,
                            const SourceLocation& where) {
  std::string reason = "category " + policy.category_name(category);
  return reason + (policy.always_on(category) ? " (always on, " : " (") + to_string(where) + ")";
}

std::string refusal_reason(const ConsentState& consent) {
  if (consent.gpc) return "refused by Sec-GPC";
  if (consent.decided) return "consent refused (" + consent.source + ")";
  return "no consent";
}

std::string consent_reason(const ConsentState& consent) {
  return "consent given (" + consent.source + ")";
}

std::string unclassified_reason(const Policy& policy) {
  const auto& where = policy.cookies.unclassified_where;
  return std::string("unclassified: ") +
         (policy.cookies.unclassified == Unclassified::block ? "block" : "allow") +
         (where.line > 0 ? " (" + to_string(where) + ")" : " (default)");
}

// The cookie name → vendor-name view veil's own consent cookie needs when the policy renames it:
// the GOV.UK reader looks for GOV.UK's names.
std::optional<VendorCategories> read_own_cookie(const Policy& policy,
                                                std::span<const CookiePair> cookies) {
  const auto& own = policy.consent;
  if (own.cookie_name == kGovukPolicyCookie &&
      own.preferences_set_cookie == kGovukPreferencesSetCookie) {
    return read_consent(ConsentFormat::govuk, cookies);
  }
  std::vector<CookiePair> renamed;
  for (const auto& cookie : cookies) {
    if (cookie.name == own.cookie_name) renamed.push_back({kGovukPolicyCookie, cookie.value});
    if (cookie.name == own.preferences_set_cookie) {
      renamed.push_back({kGovukPreferencesSetCookie, cookie.value});
    }
  }
  return read_consent(ConsentFormat::govuk, renamed);
}

// Collects reasons only when asked: each reason is a callable, run only then.
class Explanation {
 public:
  Explanation(Reasons wanted, std::vector<std::string>& out)
      : out_(wanted == Reasons::explain ? &out : nullptr) {}
  template <class MakeReason>
  void add(MakeReason&& make) {
    if (out_ != nullptr) out_->push_back(make());
  }

 private:
  std::vector<std::string>* out_;
};

enum class Classification { unclassified, refused, granted };

// What both directions of a cookie decision share: the rule that classifies the cookie, its
// category and whether the visitor granted it, each with its reason.
template <class Decision>
Classification classify(const Policy& policy, std::string_view name, std::string_view domain,
                        std::string_view path, const ConsentState& consent, Decision& decision,
                        Explanation& why) {
  decision.rule = policy.classify_cookie(name, domain, path);
  if (decision.rule == nullptr) {
    why.add([] { return "no rule matches"; });
    why.add([&] { return unclassified_reason(policy); });
    return Classification::unclassified;
  }
  const CookieRule& rule = *decision.rule;
  decision.category = rule.category;
  why.add([&] { return category_reason(policy, rule.category, rule.where); });
  decision.granted = consent.granted.contains(rule.category);
  if (!decision.granted) {
    why.add([&] { return refusal_reason(consent); });
    return Classification::refused;
  }
  if (!policy.always_on(rule.category)) why.add([&] { return consent_reason(consent); });
  return Classification::granted;
}

}  // namespace

std::string_view to_string(CookieAction action) {
  switch (action) {
    case CookieAction::keep:
      return "kept";
    case CookieAction::rewrite:
      return "rewritten";
    case CookieAction::remove:
      return "removed";
  }
  return "?";
}

std::string_view to_string(RequestCookieAction action) {
  return action == RequestCookieAction::forward ? "forwarded" : "expired";
}

ConsentState read_consent_state(const Policy& policy, std::span<const CookiePair> cookies,
                                bool sec_gpc) {
  ConsentState state;
  state.granted = policy.always_on_categories();
  if (auto own = read_own_cookie(policy, cookies)) {
    state.decided = true;
    state.source = policy.consent.cookie_name;
    for (const auto& name : *own) {
      if (auto id = policy.category_id(name)) state.granted.insert(*id);
    }
    return state;
  }
  for (const auto& honoured : policy.consent.honour) {
    auto vendor = read_consent(honoured.format, cookies);
    if (!vendor) continue;
    state.decided = true;
    state.source = std::string(to_string(honoured.format));
    for (const auto& name : *vendor) {
      if (auto id = honoured.map_category(name)) state.granted.insert(*id);
    }
    return state;
  }
  if (sec_gpc && policy.consent.honour_gpc) {
    state.decided = true;
    state.gpc = true;
    state.source = "Sec-GPC";
  }
  return state;
}

ConsentState consent_for(const Policy& policy, std::span<const std::string> granted) {
  ConsentState state;
  state.granted = policy.always_on_categories();
  state.decided = true;
  state.source = "given";
  for (const auto& name : granted) {
    if (auto id = policy.category_id(name)) state.granted.insert(*id);
  }
  return state;
}

SetCookieDecision decide_set_cookie(const Policy& policy, const SetCookie& cookie,
                                    const ConsentState& consent, const ResponseContext& context,
                                    Reasons reasons) {
  SetCookieDecision decision;
  Explanation why(reasons, decision.reasons);
  decision.enforced = context.mode == Mode::enforce;
  decision.requested_lifetime = cookie.lifetime(context.response_date);
  decision.enforced_lifetime = decision.requested_lifetime;
  if (cookie.is_deletion(context.response_date)) {
    decision.deletion = true;
    why.add([] { return "deletes the cookie: always passes"; });
    return decision;
  }
  const std::string_view domain =
      cookie.domain() ? std::string_view(*cookie.domain()) : context.request_host;
  const std::string_view path = cookie.path() ? std::string_view(*cookie.path()) : "/";
  switch (classify(policy, cookie.name(), domain, path, consent, decision, why)) {
    case Classification::unclassified:
      if (policy.cookies.unclassified == Unclassified::block)
        decision.action = CookieAction::remove;
      return decision;
    case Classification::refused:
      decision.action = CookieAction::remove;
      return decision;
    case Classification::granted:
      break;
  }
  const CookieRule& rule = *decision.rule;

  RequiredAttributes required = rule.required;
  required.secure = required.secure && context.tls;
  const bool over_lifetime =
      rule.max_age && exceeds_lifetime(cookie, *rule.max_age, context.response_date);
  if (rule.max_age && !over_lifetime && decision.requested_lifetime) {
    why.add([&] { return "within max_age " + format_duration(*rule.max_age); });
  }
  if (!over_lifetime && !lacks_attributes(cookie, required)) return decision;

  SetCookie& rewritten = decision.rewritten.emplace(cookie);
  decision.action = CookieAction::rewrite;
  if (over_lifetime) {
    cap_lifetime(rewritten, *rule.max_age, context.response_date);
    decision.enforced_lifetime = rewritten.lifetime(context.response_date);
    why.add([&] { return "lifetime capped to " + format_duration(*rule.max_age); });
  }
  require_attributes(rewritten, required);
  if (rewritten.secure() && !cookie.secure()) why.add([] { return "Secure added"; });
  if (rewritten.http_only() && !cookie.http_only()) why.add([] { return "HttpOnly added"; });
  if (rewritten.same_site() != cookie.same_site()) {
    why.add([&] { return "SameSite=" + std::string(to_string(rewritten.same_site())) + " set"; });
  }
  return decision;
}

RequestCookieDecision decide_request_cookie(const Policy& policy, std::string_view name,
                                            const ConsentState& consent,
                                            std::string_view request_host, Mode mode,
                                            Reasons reasons) {
  RequestCookieDecision decision;
  Explanation why(reasons, decision.reasons);
  decision.enforced = mode == Mode::enforce;
  const auto classification = classify(policy, name, request_host, "/", consent, decision, why);
  if (classification == Classification::refused ||
      (classification == Classification::unclassified &&
       policy.cookies.unclassified == Unclassified::block)) {
    decision.action = RequestCookieAction::expire;
  }
  return decision;
}

EmbedDecision decide_embed(const Policy& policy, std::string_view host, const ConsentState& consent,
                           Mode mode) {
  EmbedDecision decision;
  decision.enforced = mode == Mode::enforce;
  decision.rule = policy.embed_for_host(host);
  if (decision.rule == nullptr) {
    decision.reasons.push_back("no embed rule matches");
    return decision;
  }
  decision.reasons.push_back(
      decision.rule->provider + ", " +
      category_reason(policy, decision.rule->category, decision.rule->where));
  if (consent.granted.contains(decision.rule->category)) {
    if (!policy.always_on(decision.rule->category)) {
      decision.reasons.push_back(consent_reason(consent));
    }
  } else {
    decision.blocked = true;
    decision.reasons.push_back(refusal_reason(consent));
  }
  return decision;
}

}  // namespace veil::policies
