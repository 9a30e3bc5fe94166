#include "veil/proxy/consent_pages.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

#include "veil/anonymiser/hex.hpp"
#include "veil/policies/consent_cookies.hpp"
#include "veil/policies/cookie_header.hpp"
#include "veil/policies/set_cookie.hpp"
#include "veil/proxy/html_rewriter.hpp"

namespace veil::proxy {
namespace {

using anonymiser::hex_value;

using policies::CategoryId;
using policies::CategorySet;
using policies::ConsentState;
using policies::Policy;

constexpr std::size_t kMaxReturnPath = 2048;

// Shared by the banner, the settings page and the placeholders: no external assets, not sticky
// (WCAG 2.2 SC 2.4.11), visible focus, and scoped under .veil- classes so the page's own styles are
// left alone.
constexpr std::string_view kBannerStyle =
    "<style>.veil-cookie-banner{box-sizing:border-box;margin:0;padding:20px 16px;"
    "background:#f3f2f1;border-bottom:10px solid #1d70b8;color:#0b0c0c;"
    "font:19px/1.3 Arial,sans-serif}.veil-cookie-banner h2{font-size:24px;margin:0 0 15px}"
    ".veil-cookie-banner p{margin:0 0 15px}.veil-cookie-banner form{margin:0}"
    ".veil-cookie-banner button{font:inherit;margin:0 15px 10px 0;padding:8px 10px;border:0;"
    "background:#00703c;color:#fff;cursor:pointer;box-shadow:0 2px 0 #002d18}"
    ".veil-cookie-banner a{color:#1d70b8}.veil-cookie-banner button:focus,"
    ".veil-cookie-banner a:focus{outline:3px solid #fd0;background:#fd0;color:#0b0c0c}</style>";

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::optional<std::string_view> header(const LocalRequest& request, std::string_view name) {
  for (const auto& [field, value] : request.headers) {
    if (iequals(field, name)) return std::string_view(value);
  }
  return std::nullopt;
}

// application/x-www-form-urlencoded: '+' is a space, %XX a byte; a malformed escape stays as is.
std::string form_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
               hex_value(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> parse_form(std::string_view body) {
  std::vector<std::pair<std::string, std::string>> fields;
  while (!body.empty()) {
    const auto amp = body.find('&');
    const auto pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    fields.emplace_back(form_decode(pair.substr(0, eq)), eq == std::string_view::npos
                                                             ? std::string()
                                                             : form_decode(pair.substr(eq + 1)));
  }
  return fields;
}

const std::string* field(const std::vector<std::pair<std::string, std::string>>& fields,
                         std::string_view name) {
  for (const auto& [key, value] : fields) {
    if (key == name) return &value;
  }
  return nullptr;
}

// Percent-encodes everything but unreserved characters and '/', for a query parameter value.
void append_query_encoded(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    }
  }
}

// "{service}", "{provider}", "{category}" replaced; the result is escaped by the caller.
std::string fill(std::string_view text,
                 std::initializer_list<std::pair<std::string_view, std::string_view>> values) {
  std::string out;
  while (!text.empty()) {
    const auto open = text.find('{');
    out += text.substr(0, open);
    if (open == std::string_view::npos) break;
    text.remove_prefix(open);
    bool replaced = false;
    for (const auto& [name, value] : values) {
      if (text.size() > name.size() + 1 && text.substr(1, name.size()) == name &&
          text[name.size() + 1] == '}') {
        out += value;
        text.remove_prefix(name.size() + 2);
        replaced = true;
        break;
      }
    }
    if (!replaced) {
      out += '{';
      text.remove_prefix(1);
    }
  }
  return out;
}

void append_text(std::string& out, std::string_view text,
                 std::initializer_list<std::pair<std::string_view, std::string_view>> values = {}) {
  append_html_escaped(out, fill(text, values));
}

std::string display_name(std::string_view category) {
  std::string name(category);
  if (!name.empty()) name[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(name[0])));
  return name;
}

std::string heading(const Policy& policy) {
  return fill(policy.consent.banner.heading, {{"service", policy.consent.banner.service_name}});
}

void append_hidden(std::string& out, std::string_view name, std::string_view value) {
  out += "<input type=\"hidden\" name=\"";
  append_html_escaped(out, name);
  out += "\" value=\"";
  append_html_escaped(out, value);
  out += "\">";
}

void append_form_start(std::string& out, const Policy& policy, std::string_view return_path) {
  out += "<form method=\"post\" action=\"";
  append_html_escaped(out, consent_endpoint(policy));
  out += "\">";
  append_hidden(out, "return", return_path);
}

void append_button(std::string& out, std::string_view action, std::string_view label) {
  out += "<button type=\"submit\" name=\"action\" value=\"";
  append_html_escaped(out, action);
  out += "\">";
  append_html_escaped(out, label);
  out += "</button>";
}

bool only_always_on(const Policy& policy, CategorySet granted) {
  for (std::size_t id = 0; id < policy.consent.categories.size(); ++id) {
    const auto category = static_cast<CategoryId>(id);
    if (!policy.always_on(category) && granted.contains(category)) return false;
  }
  return true;
}

CategorySet all_categories(const Policy& policy) {
  CategorySet all;
  for (std::size_t id = 0; id < policy.consent.categories.size(); ++id) {
    all.insert(static_cast<CategoryId>(id));
  }
  return all;
}

LocalResponse handle_consent_post(const Policy& policy, const LocalRequest& request,
                                  const ConsentRequestContext& context) {
  if (!is_same_origin_post(request, context.host)) {
    return plain_text_response(403, "Consent can only be changed from this website's own pages.\n");
  }
  std::string error;
  auto choice = parse_consent_form(policy, request.body, context.consent, error);
  if (!choice) return plain_text_response(400, "Unreadable consent form: " + error + "\n");

  const auto fields = parse_form(request.body);
  std::string_view return_path = "/";
  if (const auto* value = field(fields, "return")) {
    return_path = safe_return_path(*value);
  } else if (auto referer = header(request, "Referer")) {
    if (auto path = same_origin_path(*referer, context.host)) return_path = safe_return_path(*path);
  }

  LocalResponse response;
  response.status = 303;
  response.headers = {{"Location", std::string(return_path)},
                      {"Cache-Control", "no-store"},
                      {"Content-Type", "text/plain; charset=utf-8"}};
  if (choice->saved != ConsentSaved::none) {
    for (auto& cookie :
         consent_set_cookies(policy, choice->granted, choice->saved, context.tls, context.now)) {
      response.headers.emplace_back("Set-Cookie", std::move(cookie));
    }
  }
  response.body = "See " + std::string(return_path) + "\n";
  return response;
}

}  // namespace

std::string_view to_string(ConsentSaved saved) {
  switch (saved) {
    case ConsentSaved::accepted:
      return "accepted";
    case ConsentSaved::rejected:
      return "rejected";
    case ConsentSaved::saved:
      return "saved";
    case ConsentSaved::none:
      break;
  }
  return "";
}

ConsentSaved parse_consent_saved(std::string_view value) {
  for (auto saved : {ConsentSaved::accepted, ConsentSaved::rejected, ConsentSaved::saved}) {
    if (value == to_string(saved)) return saved;
  }
  return ConsentSaved::none;
}

std::string_view safe_return_path(std::string_view target) {
  constexpr std::string_view kHome = "/";
  if (target.size() > kMaxReturnPath || target.size() < 1 || target[0] != '/') return kHome;
  if (target.size() > 1 && (target[1] == '/' || target[1] == '\\')) return kHome;
  for (char c : target) {
    const auto byte = static_cast<unsigned char>(c);
    // Browsers strip tab and newline from URLs ("/\t/evil" is "//evil") and read '\' as '/'.
    if (byte <= 0x20 || byte >= 0x7f || c == '\\') return kHome;
  }
  return target;
}

std::optional<std::string_view> same_origin_path(std::string_view url, std::string_view host) {
  if (url.starts_with('/')) return url;
  for (std::string_view scheme : {"https://", "http://"}) {
    if (url.size() < scheme.size() || !iequals(url.substr(0, scheme.size()), scheme)) continue;
    auto rest = url.substr(scheme.size());
    const auto end = rest.find_first_of("/?#");
    const auto authority = rest.substr(0, end);
    if (!iequals(authority, host)) return std::nullopt;
    if (end == std::string_view::npos) return std::string_view("/");
    auto path = rest.substr(end);
    if (path.starts_with('?')) return std::nullopt;  // "/?x" would need building; use "/"
    path = path.substr(0, path.find('#'));
    return path;
  }
  return std::nullopt;
}

bool is_same_origin_post(const LocalRequest& request, std::string_view host) {
  if (auto site = header(request, "Sec-Fetch-Site")) {
    if (!iequals(*site, "same-origin") && !iequals(*site, "none")) return false;
  }
  if (auto origin = header(request, "Origin")) {
    auto path = same_origin_path(*origin, host);
    if (!path || origin->starts_with('/')) return false;  // "null" and paths are not our origin
  }
  return true;
}

std::string consent_endpoint(const Policy& policy) {
  std::string endpoint = policy.consent.endpoint_prefix;
  if (!endpoint.ends_with('/')) endpoint += '/';
  endpoint += "consent";
  return endpoint;
}

std::optional<ConsentChoice> parse_consent_form(const Policy& policy, std::string_view form_body,
                                                const ConsentState& current, std::string& error) {
  const auto fields = parse_form(form_body);
  const auto* action = field(fields, "action");
  if (action == nullptr) {
    error = "no action field";
    return std::nullopt;
  }
  ConsentChoice choice;
  const CategorySet always_on = policy.always_on_categories();
  if (*action == "accept") {
    choice.granted = all_categories(policy);
    choice.saved = ConsentSaved::accepted;
  } else if (*action == "reject") {
    choice.granted = always_on;
    choice.saved = ConsentSaved::rejected;
  } else if (*action == "grant") {
    const auto* name = field(fields, "category");
    const auto id = name ? policy.category_id(*name) : std::nullopt;
    if (!id) {
      error = "action=grant needs a category the policy defines";
      return std::nullopt;
    }
    choice.granted = current.granted;
    choice.granted |= always_on;
    choice.granted.insert(*id);
    choice.saved = ConsentSaved::saved;
  } else if (*action == "save") {
    choice.granted = current.granted;
    choice.granted |= always_on;
    for (std::size_t index = 0; index < policy.consent.categories.size(); ++index) {
      const auto id = static_cast<CategoryId>(index);
      if (policy.always_on(id)) continue;
      const auto* value = field(fields, "cookies[" + policy.category_name(id) + "]");
      if (value == nullptr) continue;
      if (*value == "yes") {
        choice.granted.insert(id);
      } else if (*value == "no") {
        choice.granted.erase(id);
      } else {
        error = "cookies[" + policy.category_name(id) + "] must be yes or no";
        return std::nullopt;
      }
    }
    choice.saved = ConsentSaved::saved;
  } else if (*action == "hide") {
    choice.granted = current.granted;
  } else {
    error = "unknown action '" + *action + "'";
    return std::nullopt;
  }
  if (choice.saved == ConsentSaved::saved) {
    if (choice.granted == all_categories(policy)) choice.saved = ConsentSaved::accepted;
    if (only_always_on(policy, choice.granted)) choice.saved = ConsentSaved::rejected;
  }
  return choice;
}

std::vector<std::string> consent_set_cookies(const Policy& policy, CategorySet granted,
                                             ConsentSaved saved, bool tls,
                                             policies::sys_seconds now) {
  std::vector<std::pair<std::string, bool>> choices;
  for (std::size_t id = 0; id < policy.consent.categories.size(); ++id) {
    choices.emplace_back(policy.consent.categories[id].name,
                         granted.contains(static_cast<CategoryId>(id)));
  }
  const std::string value = policies::govuk_cookies_policy_value(choices);
  policies::NewCookie cookie;
  cookie.max_age = policy.consent.cookie_max_age;
  cookie.now = now;
  cookie.path = "/";
  cookie.secure = tls;
  cookie.same_site = policies::SameSite::lax;

  std::vector<std::string> set_cookies;
  auto add = [&](std::string_view name, std::string_view cookie_value) {
    cookie.name = name;
    cookie.value = cookie_value;
    if (auto built = policies::build_set_cookie(cookie)) set_cookies.push_back(std::move(*built));
  };
  add(policy.consent.cookie_name, value);
  add(policy.consent.preferences_set_cookie, policies::kGovukPreferencesSetValue);
  if (saved != ConsentSaved::none) {
    cookie.max_age = kConsentSavedLifetime;
    add(kConsentSavedCookie, to_string(saved));
  }
  return set_cookies;
}

std::optional<ConsentState> consent_set_by_response(
    const Policy& policy, std::span<const std::string_view> set_cookie_values) {
  for (auto value : set_cookie_values) {
    auto parsed = policies::parse_set_cookie(value);
    if (!parsed.cookie || parsed.cookie->name() != policy.consent.cookie_name) continue;
    const std::vector<policies::CookiePair> pairs = {
        {policy.consent.cookie_name, parsed.cookie->value()},
        {policy.consent.preferences_set_cookie, policies::kGovukPreferencesSetValue}};
    auto state = policies::read_consent_state(policy, pairs, false);
    if (state.decided) return state;
  }
  return std::nullopt;
}

LocalResponse handle_consent_request(const Policy& policy, const LocalRequest& request,
                                     const ConsentRequestContext& context) {
  if (request.method == "POST") return handle_consent_post(policy, request, context);
  if (request.method != "GET" && request.method != "HEAD") {
    auto response = plain_text_response(405, "Use GET or POST.\n");
    response.headers.emplace_back("Allow", "GET, HEAD, POST");
    return response;
  }
  std::string return_path = "/";
  if (const auto query = request.target.find('?'); query != std::string::npos) {
    for (const auto& [name, value] :
         parse_form(std::string_view(request.target).substr(query + 1))) {
      if (name == "return") return_path = safe_return_path(value);
    }
  }
  LocalResponse response;
  response.headers = {{"Content-Type", "text/html; charset=utf-8"}, {"Cache-Control", "no-store"}};
  response.body = consent_settings_page(policy, context.consent, return_path);
  return response;
}

std::string consent_settings_page(const Policy& policy, const ConsentState& consent,
                                  std::string_view return_path) {
  const auto& texts = policy.consent.banner;
  std::string page =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>";
  append_text(page, "Cookie settings - {service}", {{"service", texts.service_name}});
  page += "</title>";
  page += kBannerStyle;
  page +=
      "<style>body{margin:0}.veil-settings{max-width:960px;margin:0 auto;padding:20px 16px;"
      "font:19px/1.3 Arial,sans-serif;color:#0b0c0c}.veil-settings fieldset{border:0;padding:0;"
      "margin:0 0 30px}.veil-settings legend{font-weight:bold;font-size:24px;margin-bottom:10px}"
      ".veil-settings label{display:block;margin:8px 0}.veil-settings input[type=radio]{"
      "width:24px;height:24px;vertical-align:middle;margin-right:10px}"
      ".veil-settings button{font:inherit;padding:8px 10px;border:0;background:#00703c;"
      "color:#fff;box-shadow:0 2px 0 #002d18}.veil-settings :focus{outline:3px solid #fd0}"
      "</style></head><body><main class=\"veil-settings\" id=\"main-content\"><h1>";
  append_text(page, "Cookie settings");
  page += "</h1><p>";
  append_text(page, texts.body);
  page += "</p>";
  if (consent.gpc) {
    page += "<p><strong>";
    append_text(page, texts.gpc_notice);
    page += "</strong></p>";
  }
  append_form_start(page, policy, return_path);
  append_hidden(page, "action", "save");
  for (std::size_t index = 0; index < policy.consent.categories.size(); ++index) {
    const auto id = static_cast<CategoryId>(index);
    const auto& category = policy.consent.categories[index];
    const std::string input = "cookies[" + category.name + "]";
    page += "<fieldset><legend>";
    append_text(page, display_name(category.name));
    page += "</legend><p>";
    append_text(page, category.description);
    page += "</p>";
    if (category.always_on) {
      page += "<p>";
      append_text(page, "Always on: the website does not work without them.");
      page += "</p></fieldset>";
      continue;
    }
    const bool granted = consent.granted.contains(id);
    for (const bool yes : {true, false}) {
      const std::string id_attr = "veil-" + category.name + (yes ? "-yes" : "-no");
      page += "<label for=\"";
      append_html_escaped(page, id_attr);
      page += "\"><input type=\"radio\" id=\"";
      append_html_escaped(page, id_attr);
      page += "\" name=\"";
      append_html_escaped(page, input);
      page += yes ? "\" value=\"yes\"" : "\" value=\"no\"";
      // Deny by default: "no" is checked until the visitor has said yes.
      if (granted == yes) page += " checked";
      page += '>';
      append_text(page, yes ? "Use {category} cookies" : "Do not use {category} cookies",
                  {{"category", category.name}});
      page += "</label>";
    }
    page += "</fieldset>";
  }
  page += "<button type=\"submit\">";
  append_text(page, "Save cookie settings");
  page += "</button></form><p><a href=\"";
  append_html_escaped(page, return_path);
  page += "\">";
  append_text(page, "Go back to the page you were looking at");
  page += "</a></p></main></body></html>\n";
  return page;
}

LocalResponse gpc_json_response(std::string_view last_update) {
  LocalResponse response;
  response.headers = {{"Content-Type", "application/json"},
                      {"Cache-Control", "public, max-age=86400"}};
  response.body = "{\"gpc\": true, \"version\": 1, \"lastUpdate\": \"";
  for (char c : last_update) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-') response.body += c;
  }
  response.body += "\"}\n";
  return response;
}

ConsentBannerTemplate::ConsentBannerTemplate(const Policy& policy, const ConsentState& consent,
                                             ConsentSaved saved) {
  const auto& texts = policy.consent.banner;
  const bool ask = !consent.decided || (consent.gpc && saved == ConsentSaved::none);
  if (!ask && saved == ConsentSaved::none) return;

  std::string html =
      "<div class=\"veil-cookie-banner\" data-nosnippet role=\"region\" aria-label=\"";
  append_html_escaped(html, heading(policy));
  html += "\">";
  html += kBannerStyle;
  html += "<form method=\"post\" action=\"";
  append_html_escaped(html, consent_endpoint(policy));
  html += "\"><input type=\"hidden\" name=\"return\" value=\"";
  before_return_ = std::move(html);
  html = "\">";
  const auto settings_link_start = [&] {
    html += "<a href=\"";
    append_html_escaped(html, consent_endpoint(policy));
    html += "?return=";
    before_link_return_ = std::move(html);
    html = "\">";
  };
  if (saved != ConsentSaved::none) {
    html += "<p role=\"status\">";
    if (saved == ConsentSaved::accepted) {
      append_text(html, texts.accepted);
    } else if (saved == ConsentSaved::rejected) {
      append_text(html, texts.rejected);
    } else {
      append_text(html, "You've saved your cookie settings. You can change them at any time.");
    }
    html += " ";
    settings_link_start();
    append_text(html, "Change your cookie settings");
    html += "</a></p>";
    append_button(html, "hide", texts.hide);
  } else {
    html += "<h2>";
    append_html_escaped(html, heading(policy));
    html += "</h2>";
    if (consent.gpc) {
      html += "<p>";
      append_text(html, texts.gpc_notice);
      html += "</p>";
    }
    html += "<p>";
    append_text(html, texts.body);
    html += "</p>";
    append_button(html, "accept", texts.accept);
    append_button(html, "reject", texts.reject);
    settings_link_start();
    append_text(html, texts.view_cookies);
    html += "</a>";
  }
  html += "</form></div>";
  after_link_return_ = std::move(html);
}

void ConsentBannerTemplate::render(std::string_view return_path, std::string& out) const {
  if (empty()) return;
  return_path = safe_return_path(return_path);
  out += before_return_;
  append_html_escaped(out, return_path);
  out += before_link_return_;
  append_query_encoded(out, return_path);  // only characters that need no HTML escaping
  out += after_link_return_;
}

std::string consent_banner_html(const Policy& policy, const ConsentState& consent,
                                ConsentSaved saved, std::string_view return_path) {
  std::string html;
  ConsentBannerTemplate(policy, consent, saved).render(return_path, html);
  return html;
}

std::string embed_placeholder_html(const Policy& policy, const EmbedPlaceholder& placeholder) {
  const auto& texts = policy.consent.banner;
  const std::string& category = policy.category_name(placeholder.category);
  const std::initializer_list<std::pair<std::string_view, std::string_view>> values = {
      {"provider", placeholder.provider}, {"category", category}};
  // Width and height as the iframe had them, when they are plain lengths (digits, optional %).
  auto length = [](std::string_view value) -> std::string {
    if (value.empty() || value.size() > 8) return {};
    const bool percent = value.ends_with('%');
    const auto digits = percent ? value.substr(0, value.size() - 1) : value;
    if (digits.empty() ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return {};
    }
    return std::string(digits) + (percent ? "%" : "px");
  };
  std::string style =
      "box-sizing:border-box;max-width:100%;padding:15px;background:#f3f2f1;"
      "border:2px solid #b1b4b6;color:#0b0c0c;font:19px/1.3 Arial,sans-serif;overflow:auto";
  if (auto width = length(placeholder.width); !width.empty()) style += ";width:" + width;
  if (auto height = length(placeholder.height); !height.empty()) style += ";min-height:" + height;

  std::string html = "<div class=\"veil-embed-placeholder\" role=\"region\" aria-label=\"";
  append_text(html, "{provider} content", values);
  html += "\" data-veil-category=\"";
  append_html_escaped(html, category);
  html += "\" style=\"";
  append_html_escaped(html, style);
  html += "\"><p style=\"margin:0 0 15px\">";
  append_text(html, texts.placeholder, values);
  html += "</p>";
  append_form_start(html, policy, safe_return_path(placeholder.return_path));
  append_hidden(html, "category", category);
  html +=
      "<button type=\"submit\" name=\"action\" value=\"grant\" style=\"font:inherit;"
      "padding:8px 10px;border:0;background:#00703c;color:#fff\">";
  append_text(html, texts.placeholder_button, values);
  html += "</button></form>";
  auto url = placeholder.content_url;
  const bool protocol_relative = url.starts_with("//");
  if (protocol_relative || iequals(url.substr(0, 8), "https://") ||
      iequals(url.substr(0, 7), "http://")) {
    html += "<p style=\"margin:15px 0 0\"><a rel=\"noopener noreferrer\" href=\"";
    if (protocol_relative) html += "https:";
    append_html_escaped(html, url);
    html += "\">";
    append_text(html, texts.placeholder_link, values);
    html += "</a></p>";
  }
  html += "</div>";
  return html;
}

}  // namespace veil::proxy
