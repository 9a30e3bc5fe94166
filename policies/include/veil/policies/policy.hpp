// The policy: everything veil enforces, loaded from one YAML file (see load_policy in loader.hpp).
// A Policy is built once by the loader, compiled (cookie-name and host matchers) and then shared
// read-only as std::shared_ptr<const Policy>; an exchange keeps the snapshot it started with.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "veil/anonymiser/ip_address.hpp"
#include "veil/anonymiser/settings.hpp"
#include "veil/policies/consent_cookies.hpp"
#include "veil/policies/matchers.hpp"
#include "veil/policies/set_cookie.hpp"

namespace veil::policies {

// Where a rule was written, for `veil policy explain` and diagnostics.
struct SourceLocation {
  std::string file;
  int line = 0;  // 1-based
  int column = 0;
};
// "file:line".
std::string to_string(const SourceLocation& location);

using Duration = std::chrono::seconds;

enum class Mode : std::uint8_t { enforce, report_only };
enum class ForwardClientIp : std::uint8_t { real, anonymised, none };
enum class AccessLogFormat : std::uint8_t { combined, json };
enum class Unclassified : std::uint8_t { block, allow };

std::string_view to_string(Mode mode);
std::string_view to_string(ForwardClientIp forward);
std::string_view to_string(AccessLogFormat format);

// "30m", "2d", "13mo": the shortest exact spelling of a duration (units s m h d w mo y; mo = 30
// days, y = 365 days).
std::string format_duration(Duration duration);

// An address and port to listen on; `host` is an IP literal (IPv6 without brackets).
struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
};
std::string to_string(const Endpoint& endpoint);  // "127.0.0.1:9901", "[::1]:8443"

// A network in CIDR notation.
struct Cidr {
  anonymiser::IpAddress network;  // host bits cleared
  int prefix_length = 0;          // of the family's own width (0-32 or 0-128)
  std::string text;               // as written
  SourceLocation where;
  // An IPv4-mapped IPv6 address (a dual-stack socket's view of an IPv4 peer) counts as IPv4.
  bool contains(const anonymiser::IpAddress& address) const;
};

struct TlsSettings {
  std::string certificate_file;  // PEM chain
  std::string key_file;          // PEM private key, not world-readable
};

struct Upstream {
  std::string name;
  std::string url;     // as written
  std::string scheme;  // "http" or "https"
  std::string host;    // as in the URL (IPv6 without brackets)
  std::uint16_t port = 0;
  std::vector<std::string>
      hosts;  // Host names routed here ("*.example.gov.uk" allowed); empty = default
  SourceLocation where;
};

struct AdminSettings {
  Endpoint listen{"127.0.0.1", 9901};
};

// Defaults follow nginx where nginx has one.
struct Limits {
  std::size_t header_line_bytes = 8 * 1024;    // request line and each header line
  std::size_t header_total_bytes = 32 * 1024;  // the whole header block
  std::size_t header_fields = 100;
  std::size_t body_bytes = 1024 * 1024;
  Duration header_timeout{10};
  Duration idle_timeout{75};  // keep-alive
  Duration upstream_connect_timeout{60};
  Duration upstream_read_timeout{60};
  Duration drain_timeout{30};  // SIGTERM: time in-flight exchanges get to finish
  std::size_t max_connections = 10000;
};

struct AccessLogSettings {
  std::string path = "-";  // "-" = standard output
  AccessLogFormat format = AccessLogFormat::combined;
};

struct AuditSettings {
  std::string path;  // empty = no audit file
  Duration flush_interval{60};
};

// Index into ConsentSettings::categories.
using CategoryId = std::uint8_t;
inline constexpr std::size_t kMaxCategories = 64;

// A set of categories, one bit each.
class CategorySet {
 public:
  constexpr CategorySet() = default;
  void insert(CategoryId id) { bits_ |= std::uint64_t{1} << id; }
  void erase(CategoryId id) { bits_ &= ~(std::uint64_t{1} << id); }
  bool contains(CategoryId id) const { return (bits_ >> id) & 1U; }
  bool empty() const { return bits_ == 0; }
  CategorySet& operator|=(CategorySet other) {
    bits_ |= other.bits_;
    return *this;
  }
  friend bool operator==(CategorySet, CategorySet) = default;

 private:
  std::uint64_t bits_ = 0;
};

struct Category {
  std::string name;
  std::string description;
  bool always_on = false;  // essential: granted without asking, never removed
  SourceLocation where;
};

// An existing consent-management cookie veil honours, and how its categories map to the policy's.
struct HonouredConsent {
  ConsentFormat format;  // read by read_consent() (consent_cookies.hpp)
  // vendor category (or service) name → policy category
  std::vector<std::pair<std::string, CategoryId>> map;
  SourceLocation where;
  // The policy category a vendor category maps to, if any.
  std::optional<CategoryId> map_category(std::string_view vendor_category) const;
};

struct BannerTexts {
  std::string service_name = "this website";
  std::string heading = "Cookies on {service}";
  std::string body =
      "We use some essential cookies to make this website work. We'd like to set additional "
      "cookies to understand how you use the website, remember your settings and improve our "
      "services.";
  std::string accept = "Accept additional cookies";
  std::string reject = "Reject additional cookies";
  std::string view_cookies = "View cookies";
  std::string accepted =
      "You've accepted additional cookies. You can change your cookie settings at any time.";
  std::string rejected =
      "You've rejected additional cookies. You can change your cookie settings at any time.";
  std::string hide = "Hide cookie message";
  std::string gpc_notice =
      "Your browser sent a Global Privacy Control signal, so we have not set any additional "
      "cookies.";
  // Click-to-load placeholder for a blocked embed; {provider} and {category} are replaced.
  std::string placeholder =
      "This content is provided by {provider}. Loading it may set {category} cookies and send "
      "{provider} information about your visit.";
  std::string placeholder_button = "Accept {category} cookies and load {provider} content";
  std::string placeholder_link = "View this content on {provider}'s website";
};

struct ConsentSettings {
  std::vector<Category> categories;                                // essential first
  std::string cookie_name = "cookies_policy";                      // veil's own: GOV.UK JSON
  std::string preferences_set_cookie = "cookies_preferences_set";  // "true" once decided
  Duration cookie_max_age{365 * 24 * 3600};
  std::vector<HonouredConsent> honour;  // in order of precedence, after veil's own cookie
  bool honour_gpc = true;
  std::string endpoint_prefix = "/_veil/";
  BannerTexts banner;
};

struct CookieRule {
  CookiePatternKind kind = CookiePatternKind::exact;
  std::string pattern;  // the name, glob or RE2 pattern
  std::string domain;   // optional: matches this domain and its subdomains
  std::string path;     // optional: matches this path and below
  CategoryId category = 0;
  std::optional<Duration> max_age;  // cap on Max-Age/Expires
  RequiredAttributes required;      // Secure, HttpOnly, SameSite added when missing
  std::string description;
  std::string provider;
  SourceLocation where;
};

struct CookieSettings {
  std::vector<CookieRule> rules;  // first match in this order wins
  Unclassified unclassified = Unclassified::block;
  SourceLocation unclassified_where;
};

struct EmbedRule {
  std::vector<std::string> hosts;  // "www.youtube.com" or "*.youtube.com" (subdomains only)
  CategoryId category = 0;
  std::string provider;
  SourceLocation where;
};

struct RouteMode {
  std::string path_prefix;
  Mode mode = Mode::enforce;
  SourceLocation where;
};

struct Policy {
  std::string source;  // the file it was loaded from
  int version = 1;
  Endpoint listen{"0.0.0.0", 8080};
  std::optional<TlsSettings> tls;
  std::vector<Upstream> upstreams;
  std::vector<Cidr> trusted_proxies;
  ForwardClientIp forward_client_ip = ForwardClientIp::anonymised;
  AdminSettings admin;
  Limits limits;
  AccessLogSettings access_log;
  anonymiser::AnonymiseSettings anonymise;
  AuditSettings audit;
  ConsentSettings consent;
  CookieSettings cookies;
  std::vector<EmbedRule> embeds;
  Mode mode = Mode::enforce;
  std::vector<RouteMode> routes;  // longest matching prefix wins

  // Compiled lookups (built by compile(); the loader calls it).
  CookieMatcher cookie_matcher;
  HostMatcher embed_matcher;  // pattern i → embed_host_rules[i]
  std::vector<std::size_t> embed_host_rules;
  HostMatcher upstream_matcher;  // pattern i → upstream_host_upstreams[i]
  std::vector<std::size_t> upstream_host_upstreams;

  // Builds the matchers from the rules above. Throws std::invalid_argument for a pattern RE2
  // rejects (the loader has checked them already).
  void compile();

  // The first cookie rule (file order) matching the name and, where the rule says, the cookie's
  // domain (its Domain attribute, or the request host for a host-only cookie) and path.
  const CookieRule* classify_cookie(std::string_view name, std::string_view domain = {},
                                    std::string_view path = "/") const;
  // The embed rule for a third-party host (exact name first, then the longest `*.` suffix).
  const EmbedRule* embed_for_host(std::string_view host) const;
  // The upstream for a request's Host (port ignored): one naming it, else the default one.
  const Upstream* upstream_for_host(std::string_view host) const;
  // Whether X-Forwarded-For / Forwarded from this peer is believed.
  bool is_trusted_proxy(const anonymiser::IpAddress& peer) const;
  Mode mode_for_path(std::string_view path) const;

  std::optional<CategoryId> category_id(std::string_view name) const;
  const std::string& category_name(CategoryId id) const { return consent.categories[id].name; }
  bool always_on(CategoryId id) const { return consent.categories[id].always_on; }
  CategorySet always_on_categories() const;
};

}  // namespace veil::policies
