#include "veil/proxy/embed_blocker_html.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "text.hpp"
#include "veil/anonymiser/hex.hpp"
#include "veil/proxy/consent_pages.hpp"

namespace veil::proxy {
namespace {

using anonymiser::hex_value;
using policies::EmbedRule;

bool is_ascii_whitespace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

// HTML's whitespace and NULs (URL attributes), not HTTP's optional whitespace as trim() in
// text.hpp.
std::string_view trim_html_space(std::string_view text) {
  while (!text.empty() && (is_ascii_whitespace(text.front()) || text.front() == '\0')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (is_ascii_whitespace(text.back()) || text.back() == '\0')) {
    text.remove_suffix(1);
  }
  return text;
}

bool is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-';
}

// Calls of well-known tags whose snippet names no host: looked up as the host their loader uses.
constexpr std::array<std::pair<std::string_view, std::string_view>, 2> kTagCalls = {{
    {"gtag(", "www.googletagmanager.com"},
    {"fbq(", "connect.facebook.net"},
}};

bool is_javascript_type(std::optional<std::string_view> type) {
  if (!type) return true;
  const auto value = trim_html_space(*type);
  if (value.empty()) return true;
  std::string lowered;
  for (char c : value) lowered += to_lower(c);
  return lowered == "module" || lowered.find("javascript") != std::string::npos ||
         lowered.find("ecmascript") != std::string::npos || lowered == "text/jscript";
}

bool has_link_fetch_rel(std::string_view rel) {
  while (!rel.empty()) {
    while (!rel.empty() && is_ascii_whitespace(rel.front())) rel.remove_prefix(1);
    std::size_t end = 0;
    while (end < rel.size() && !is_ascii_whitespace(rel[end])) ++end;
    std::string token;
    for (char c : rel.substr(0, end)) token += to_lower(c);
    rel.remove_prefix(end);
    for (std::string_view fetching : {"preconnect", "dns-prefetch", "stylesheet", "preload",
                                      "prefetch", "modulepreload", "icon"}) {
      if (token == fetching) return true;
    }
  }
  return false;
}

}  // namespace

std::optional<std::string> url_host(std::string_view url) {
  // The URL parser drops leading/trailing C0 controls and spaces, and tabs/newlines anywhere.
  url = trim_html_space(url);
  std::string cleaned;
  if (std::any_of(url.begin(), url.end(),
                  [](char c) { return c == '\t' || c == '\n' || c == '\r'; })) {
    for (char c : url) {
      if (c != '\t' && c != '\n' && c != '\r') cleaned += c;
    }
    url = cleaned;
  }
  auto is_slash = [](char c) { return c == '/' || c == '\\'; };
  std::string_view rest = url;
  if (rest.size() >= 2 && is_slash(rest[0]) && is_slash(rest[1])) {
    rest.remove_prefix(2);
  } else {
    const auto colon = rest.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    if (!iequals(rest.substr(0, colon), "http") && !iequals(rest.substr(0, colon), "https")) {
      return std::nullopt;
    }
    rest.remove_prefix(colon + 1);
    // "https:/host", "https:\\host" and "https:host" all reach `host` from another origin.
    while (!rest.empty() && is_slash(rest.front())) rest.remove_prefix(1);
  }
  std::size_t authority_end = 0;
  while (authority_end < rest.size() && !is_slash(rest[authority_end]) &&
         rest[authority_end] != '?' && rest[authority_end] != '#') {
    ++authority_end;
  }
  auto authority = rest.substr(0, authority_end);
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  std::string host;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    host = std::string(
        authority.substr(0, close == std::string_view::npos ? authority.size() : close + 1));
  } else {
    authority = authority.substr(0, authority.find(':'));
    host.reserve(authority.size());
    for (std::size_t i = 0; i < authority.size(); ++i) {
      if (authority[i] == '%' && i + 2 < authority.size() && hex_value(authority[i + 1]) >= 0 &&
          hex_value(authority[i + 2]) >= 0) {
        host += to_lower(
            static_cast<char>(hex_value(authority[i + 1]) * 16 + hex_value(authority[i + 2])));
        i += 2;
      } else {
        host += to_lower(authority[i]);
      }
    }
    while (host.ends_with('.')) host.pop_back();
  }
  if (host.empty()) return std::nullopt;
  return host;
}

const EmbedRule* inline_script_rule(const policies::Policy& policy, std::string_view content,
                                    policies::CategorySet granted) {
  auto blocked = [&](std::string_view host) -> const EmbedRule* {
    const auto* rule = policy.embed_for_host(host);
    return rule != nullptr && !granted.contains(rule->category) ? rule : nullptr;
  };
  std::string token;
  for (std::size_t i = 0; i < content.size();) {
    if (!is_host_char(content[i])) {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < content.size() && is_host_char(content[end])) ++end;
    auto word = content.substr(i, end - i);
    i = end;
    if (word.find('.') == std::string_view::npos || word.size() > 253) continue;
    // ".google-analytics.com" (a host glued to a variable prefix) stands for some subdomain.
    token.clear();
    if (word.starts_with('.')) token += 'x';
    for (char c : word) token += to_lower(c);
    while (token.ends_with('.')) token.pop_back();
    if (const auto* rule = blocked(token)) return rule;
  }
  for (const auto& [call, host] : kTagCalls) {
    for (auto at = content.find(call); at != std::string_view::npos;
         at = content.find(call, at + 1)) {
      // A whole identifier: not "myfbq(".
      if (at > 0 &&
          (is_host_char(content[at - 1]) || content[at - 1] == '_' || content[at - 1] == '$')) {
        continue;
      }
      if (const auto* rule = blocked(host)) return rule;
      break;
    }
  }
  return nullptr;
}

EmbedHtmlRewrite::EmbedHtmlRewrite(Settings settings, OnBlocked on_blocked)
    : settings_(std::move(settings)), on_blocked_(std::move(on_blocked)) {
  rewriter_.on_element({HtmlTag::iframe, HtmlTag::script, HtmlTag::img, HtmlTag::embed,
                        HtmlTag::object, HtmlTag::link, HtmlTag::source},
                       [this](HtmlElement& element) { handle(element); });
  if (settings_.enforce && !settings_.banner_html.empty()) {
    rewriter_.insert_after_body_start(settings_.banner_html);
  }
}

const EmbedRule* EmbedHtmlRewrite::blocked_rule(std::optional<std::string_view> url) const {
  if (!url) return nullptr;
  const auto host = url_host(*url);
  if (!host) return nullptr;
  // decide_embed's rule, without its explanations (this runs for every URL on the page).
  const auto* rule = settings_.policy->embed_for_host(*host);
  return rule != nullptr && !settings_.granted.contains(rule->category) ? rule : nullptr;
}

const EmbedRule* EmbedHtmlRewrite::blocked_srcset_rule(
    std::optional<std::string_view> srcset) const {
  if (!srcset) return nullptr;
  std::string_view rest = *srcset;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    auto candidate = trim_html_space(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    std::size_t end = 0;
    while (end < candidate.size() && !is_ascii_whitespace(candidate[end])) ++end;
    if (const auto* rule = blocked_rule(candidate.substr(0, end))) return rule;
  }
  return nullptr;
}

void EmbedHtmlRewrite::handle(HtmlElement& element) {
  if (element.foreign()) return;  // an SVG <script> or <image> is not what the policy lists
  const EmbedRule* rule = nullptr;
  switch (element.tag()) {
    case HtmlTag::iframe:
      rule = blocked_rule(element.attribute("src"));
      break;
    case HtmlTag::script:
      if (auto src = element.attribute("src")) {
        rule = blocked_rule(src);
      } else if (element.has_content() && is_javascript_type(element.attribute("type"))) {
        rule = inline_script_rule(*settings_.policy, element.content(), settings_.granted);
      }
      break;
    case HtmlTag::img:
    case HtmlTag::source:
      rule = blocked_rule(element.attribute("src"));
      if (rule == nullptr) rule = blocked_srcset_rule(element.attribute("srcset"));
      break;
    case HtmlTag::embed:
      rule = blocked_rule(element.attribute("src"));
      break;
    case HtmlTag::object:
      rule = blocked_rule(element.attribute("data"));
      break;
    case HtmlTag::link:
      if (has_link_fetch_rel(element.attribute("rel").value_or(""))) {
        rule = blocked_rule(element.attribute("href"));
        if (rule == nullptr) rule = blocked_srcset_rule(element.attribute("imagesrcset"));
      }
      break;
    default:
      break;
  }
  if (rule == nullptr) return;
  on_blocked_(*rule, element.tag());
  if (!settings_.enforce) return;
  const auto& policy = *settings_.policy;
  switch (element.tag()) {
    case HtmlTag::iframe: {
      EmbedPlaceholder placeholder;
      placeholder.provider = rule->provider;
      placeholder.category = rule->category;
      placeholder.content_url = trim_html_space(element.attribute("src").value_or(""));
      placeholder.width = element.attribute("width").value_or("");
      placeholder.height = element.attribute("height").value_or("");
      placeholder.return_path = settings_.return_path;
      element.replace(embed_placeholder_html(policy, placeholder));
      break;
    }
    case HtmlTag::script:
      element.set_attribute("type", "text/plain");
      element.set_attribute("data-veil-category", policy.category_name(rule->category));
      element.set_attribute("data-veil-provider", rule->provider);
      break;
    default:
      element.remove();
      break;
  }
}

}  // namespace veil::proxy
