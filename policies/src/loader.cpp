// The policy loader: walks the YAML tree section by section, collecting every problem with its
// position instead of stopping at the first, then compiles the matchers.
#include "veil/policies/loader.hpp"

#include "yaml_reader.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <re2/re2.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <functional>

namespace veil::policies {
namespace {

constexpr auto kBrowserCookieCap = Duration{400 * 86400};  // RFC 6265bis: Max-Age is capped here

bool is_host_name(std::string_view host) {
  if (host.empty() || host.size() > 253 || host.front() == '.' || host.back() == '.') return false;
  return std::all_of(host.begin(), host.end(),
                     [](char c) {
                       return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                              (c >= '0' && c <= '9') || c == '-' || c == '.';
                     }) &&
         host.find("..") == std::string_view::npos;
}

// "www.example.com" or "*.example.com".
bool is_host_pattern(std::string_view pattern) {
  if (pattern.starts_with("*.")) pattern.remove_prefix(2);
  return is_host_name(pattern);
}

class Loader : public YamlReader {
 public:
  Loader(std::string file, std::string base_directory)
      : YamlReader(std::move(file)), base_directory_(std::move(base_directory)) {
    policy_.source = file_;
  }

  LoadResult load(std::string_view text);

  std::string resolve(const std::string& path) const {
    if (path.empty() || path == "-" || path.front() == '/' || base_directory_.empty()) return path;
    return base_directory_ + "/" + path;
  }

 private:
  void read_top_level(const YAML::Node& root);
  void read_tls(const YAML::Node& node);
  void read_upstreams(const YAML::Node& node);
  void read_trusted_proxies(const YAML::Node& node);
  void read_admin(const YAML::Node& node);
  void read_limits(const YAML::Node& node);
  void read_access_log(const YAML::Node& node);
  void read_anonymise(const YAML::Node& node);
  void read_audit(const YAML::Node& node);
  void read_consent(const YAML::Node& node);
  void read_categories(const YAML::Node& node);
  void read_honour(const YAML::Node& node);
  void read_banner(const YAML::Node& node);
  void read_cookies(const YAML::Node& node);
  void read_cookie_rule(const YAML::Node& node, const std::string& what);
  void read_embeds(const YAML::Node& node);
  void read_routes(const YAML::Node& node);
  void check_shadowed_cookie_rules();
  void check_key_file(const YAML::Node& node, const std::string& path, const std::string& what);
  void check_tls_files(const YAML::Node& node);
  void add_risk_warnings(const YAML::Node& root);

  std::optional<CategoryId> category(const YAML::Node& node, const std::string& what);
  // Where each host pattern (normalised) was first listed: upstream hosts and embed hosts must
  // each be listed once.
  using ListedHosts = std::vector<std::pair<std::string, SourceLocation>>;
  // The valid, not yet listed entries of `entry.hosts` (host names or *.domain), as written; the
  // others are reported, a repeated one with "<earlier> <where it was listed first>".
  std::vector<std::string> unique_host_patterns(const Section& entry, ListedHosts& listed,
                                                std::string_view earlier);
  std::optional<Endpoint> endpoint(const YAML::Node& node, const std::string& what);

  std::string base_directory_;
  Policy policy_;
  // Category references are resolved after consent.categories is read, wherever it appears.
  std::vector<std::function<void()>> after_categories_;
  std::vector<YAML::Node> cookie_rule_nodes_;
  YAML::Node forward_node_, unclassified_node_, admin_listen_node_;
};

LoadResult Loader::load(std::string_view text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::ParserException& problem) {
    report(Diagnostic::Severity::error, {file_, problem.mark.line + 1, problem.mark.column + 1},
           "YAML syntax: " + problem.msg);
    return {nullptr, std::move(diagnostics_)};
  }
  if (root.IsNull() || !root.IsDefined()) {
    report(Diagnostic::Severity::error, {file_, 1, 1},
           "the policy is empty: it needs at least 'version: 1'");
    return {nullptr, std::move(diagnostics_)};
  }
  read_top_level(root);
  for (auto& resolve_reference : after_categories_) resolve_reference();
  check_shadowed_cookie_rules();
  add_risk_warnings(root);

  sort_diagnostics();
  if (has_errors()) return {nullptr, std::move(diagnostics_)};
  try {
    policy_.compile();
  } catch (const std::exception& problem) {
    report(Diagnostic::Severity::error, {file_, 0, 0}, problem.what());
    return {nullptr, std::move(diagnostics_)};
  }
  return {std::make_shared<const Policy>(std::move(policy_)), std::move(diagnostics_)};
}

void Loader::read_top_level(const YAML::Node& root) {
  Section top(*this, root, "",
              {"version", "listen", "tls", "upstreams", "trusted_proxies", "forward_client_ip",
               "admin", "limits", "access_log", "anonymise", "audit", "consent", "cookies",
               "embeds", "mode", "routes"});
  if (!top.valid()) return;

  if (!top.has("version")) {
    report(Diagnostic::Severity::error, at(root), "missing 'version: 1' at the top of the policy");
  } else if (auto version = string(top["version"], "version"); version && *version != "1") {
    error(top["version"],
          "unsupported policy version '" + *version + "': this veil reads version 1");
  }
  if (top.has("listen")) {
    if (auto listen = endpoint(top["listen"], "listen")) policy_.listen = *listen;
  }
  if (top.has("tls")) read_tls(top["tls"]);
  if (top.has("upstreams")) read_upstreams(top["upstreams"]);
  if (top.has("trusted_proxies")) read_trusted_proxies(top["trusted_proxies"]);
  if (top.has("forward_client_ip")) {
    forward_node_ = top["forward_client_ip"];
    constexpr std::array<std::pair<std::string_view, ForwardClientIp>, 3> kForward{{
        {"real", ForwardClientIp::real},
        {"anonymised", ForwardClientIp::anonymised},
        {"none", ForwardClientIp::none},
    }};
    if (auto value = choice(forward_node_, "forward_client_ip", kForward)) {
      policy_.forward_client_ip = *value;
    }
  }
  if (top.has("admin")) read_admin(top["admin"]);
  if (top.has("limits")) read_limits(top["limits"]);
  if (top.has("access_log")) read_access_log(top["access_log"]);
  if (top.has("anonymise")) read_anonymise(top["anonymise"]);
  if (top.has("audit")) read_audit(top["audit"]);
  read_consent(top.has("consent") ? top["consent"] : YAML::Node(YAML::NodeType::Map));
  if (top.has("cookies")) read_cookies(top["cookies"]);
  if (top.has("embeds")) read_embeds(top["embeds"]);
  if (top.has("mode")) {
    constexpr std::array<std::pair<std::string_view, Mode>, 2> kModes{{
        {"enforce", Mode::enforce},
        {"report-only", Mode::report_only},
    }};
    if (auto mode = choice(top["mode"], "mode", kModes)) policy_.mode = *mode;
  }
  if (top.has("routes")) read_routes(top["routes"]);
}

std::optional<Endpoint> Loader::endpoint(const YAML::Node& node, const std::string& what) {
  auto text = string(node, what);
  if (!text) return std::nullopt;
  auto value = parse_endpoint(*text);
  if (!value) {
    error(node, "invalid address '" + *text + "' for '" + what +
                    "': expected IP:PORT, e.g. 0.0.0.0:8080 or [::]:8443");
  }
  return value;
}

void Loader::read_tls(const YAML::Node& node) {
  Section tls(*this, node, "tls", {"certificate", "key"});
  if (!tls.valid()) return;
  TlsSettings settings;
  for (auto [key, target] : {std::pair{"certificate", &settings.certificate_file},
                             std::pair{"key", &settings.key_file}}) {
    if (!tls.has(key)) {
      error(node, "'tls' needs '" + std::string(key) + "'");
    } else if (auto file = string(tls[key], tls.path(key))) {
      *target = resolve(*file);
    }
  }
  if (settings.certificate_file.empty() || settings.key_file.empty()) return;
  policy_.tls = settings;
  check_key_file(tls["key"], settings.key_file, "tls.key");
  check_tls_files(node);
}

void Loader::check_key_file(const YAML::Node& node, const std::string& path,
                            const std::string& what) {
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0) {
    error(node, "key file '" + path + "' for '" + what + "' does not exist or cannot be read");
    return;
  }
  if (status.st_mode & S_IROTH) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(status.st_mode & 07777));
    error(node, "key file '" + path + "' for '" + what + "' is readable by every user (mode " +
                    mode + "); run chmod 600 on it");
  }
}

void Loader::check_tls_files(const YAML::Node& node) {
  const auto& tls = *policy_.tls;
  struct stat status {};
  if (::stat(tls.certificate_file.c_str(), &status) != 0) {
    error(node["certificate"],
          "TLS certificate '" + tls.certificate_file + "' does not exist or cannot be read");
    return;
  }
  if (::stat(tls.key_file.c_str(), &status) != 0) return;  // reported by check_key_file
  // The first error OpenSSL queued says what went wrong (e.g. "no start line" for a non-PEM file).
  auto openssl_reason = [] {
    unsigned long code = ERR_get_error();
    const char* reason = code ? ERR_reason_error_string(code) : nullptr;
    ERR_clear_error();
    return std::string(reason ? reason : "unknown OpenSSL error");
  };
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> context(SSL_CTX_new(TLS_server_method()),
                                                            &SSL_CTX_free);
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(context.get(), tls.certificate_file.c_str()) != 1) {
    error(node["certificate"],
          "cannot load TLS certificate '" + tls.certificate_file + "': " + openssl_reason());
    return;
  }
  if (SSL_CTX_use_PrivateKey_file(context.get(), tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    error(node["key"], "cannot load TLS key '" + tls.key_file + "': " + openssl_reason());
    return;
  }
  if (SSL_CTX_check_private_key(context.get()) != 1) {
    ERR_clear_error();
    error(node["key"], "TLS key '" + tls.key_file + "' does not match certificate '" +
                           tls.certificate_file + "'");
  }
}

void Loader::read_upstreams(const YAML::Node& node) {
  if (!node.IsSequence()) {
    error(node, "expected a list for 'upstreams', got " + std::string(kind_of(node)));
    return;
  }
  ListedHosts claimed_hosts;
  std::optional<SourceLocation> fallback;  // the upstream without 'hosts'
  for (std::size_t i = 0; i < node.size(); ++i) {
    const std::string what = "upstreams[" + std::to_string(i) + "]";
    Section entry(*this, node[i], what, {"name", "url", "hosts"});
    if (!entry.valid()) continue;
    Upstream upstream;
    upstream.where = at(node[i]);
    if (!entry.has("name") || !entry.has("url")) {
      error(node[i], "'" + what + "' needs 'name' and 'url'");
      continue;
    }
    upstream.name = string(entry["name"], entry.path("name")).value_or("");
    for (const auto& other : policy_.upstreams) {
      if (other.name == upstream.name) {
        error(entry["name"],
              "upstream name '" + upstream.name + "' is already used at " + to_string(other.where));
      }
    }
    if (auto url = string(entry["url"], entry.path("url"))) {
      upstream.url = *url;
      std::string_view rest = *url;
      auto scheme_end = rest.find("://");
      upstream.scheme =
          scheme_end == std::string_view::npos ? "" : std::string(rest.substr(0, scheme_end));
      if (upstream.scheme != "http" && upstream.scheme != "https") {
        error(entry["url"], "invalid URL '" + *url + "' for '" + entry.path("url") +
                                "': the scheme must be http or https");
        continue;
      }
      rest.remove_prefix(scheme_end + 3);
      if (rest.ends_with('/')) rest.remove_suffix(1);
      std::string_view port_text;
      if (rest.starts_with('[')) {
        auto close = rest.find(']');
        upstream.host =
            std::string(rest.substr(1, close == std::string_view::npos ? 0 : close - 1));
        rest.remove_prefix(close == std::string_view::npos ? rest.size() : close + 1);
        if (rest.starts_with(':'))
          port_text = rest.substr(1);
        else if (!rest.empty())
          port_text = "x";
      } else {
        auto colon = rest.find(':');
        upstream.host = std::string(rest.substr(0, colon));
        if (colon != std::string_view::npos) port_text = rest.substr(colon + 1);
      }
      bool host_ok = !upstream.host.empty() &&
                     (is_host_name(upstream.host) || parse_cidr(upstream.host).has_value());
      auto port = port_text.empty()
                      ? std::optional<long long>(upstream.scheme == "https" ? 443 : 80)
                      : std::optional<long long>();
      if (!port_text.empty() && std::all_of(port_text.begin(), port_text.end(), ::isdigit) &&
          port_text.size() <= 5) {
        port = std::stoll(std::string(port_text));
      }
      if (!host_ok || !port || *port < 1 || *port > 65535) {
        error(entry["url"], "invalid URL '" + *url + "' for '" + entry.path("url") +
                                "': expected " + upstream.scheme + "://HOST[:PORT] with no path");
        continue;
      }
      upstream.port = static_cast<std::uint16_t>(*port);
    }
    if (entry.has("hosts")) {
      upstream.hosts =
          unique_host_patterns(entry, claimed_hosts, "is already routed by the upstream at");
    }
    if (upstream.hosts.empty()) {
      if (fallback) {
        error(node[i], "only one upstream may omit 'hosts' (the default); another is at " +
                           to_string(*fallback));
        continue;
      }
      fallback = upstream.where;
    }
    policy_.upstreams.push_back(std::move(upstream));
  }
}

void Loader::read_trusted_proxies(const YAML::Node& node) {
  auto items = string_list(node, "trusted_proxies");
  if (!items) return;
  for (std::size_t i = 0; i < items->size(); ++i) {
    const auto& [item, text] = (*items)[i];
    auto cidr = parse_cidr(text);
    if (!cidr) {
      error(item, "invalid CIDR '" + text +
                      "' in 'trusted_proxies': expected a network such as "
                      "10.0.0.0/8 or 2001:db8::/32");
      continue;
    }
    auto address_only = parse_cidr(std::string_view(text).substr(0, text.find('/')));
    if (address_only && !(address_only->network == cidr->network)) {
      warning(item, "CIDR '" + text + "' has host bits set; it means " + cidr->network.to_string() +
                        "/" + std::to_string(cidr->prefix_length));
    }
    cidr->where = at(item);
    policy_.trusted_proxies.push_back(std::move(*cidr));
  }
}

void Loader::read_admin(const YAML::Node& node) {
  Section admin(*this, node, "admin", {"listen"});
  if (!admin.valid() || !admin.has("listen")) return;
  if (auto listen = endpoint(admin["listen"], "admin.listen")) {
    policy_.admin.listen = *listen;
    admin_listen_node_ = admin["listen"];
  }
}

void Loader::read_limits(const YAML::Node& node) {
  Section limits(
      *this, node, "limits",
      {"header_line", "header_total", "header_fields", "body", "header_timeout", "idle_timeout",
       "upstream_connect_timeout", "upstream_read_timeout", "drain_timeout", "max_connections"});
  if (!limits.valid()) return;
  auto& out = policy_.limits;
  for (auto [key, target] :
       {std::pair{"header_line", &out.header_line_bytes},
        std::pair{"header_total", &out.header_total_bytes}, std::pair{"body", &out.body_bytes}}) {
    if (limits.has(key)) {
      if (auto value = size(limits[key], limits.path(key))) *target = *value;
    }
  }
  for (auto [key, target] : {std::pair{"header_timeout", &out.header_timeout},
                             std::pair{"idle_timeout", &out.idle_timeout},
                             std::pair{"upstream_connect_timeout", &out.upstream_connect_timeout},
                             std::pair{"upstream_read_timeout", &out.upstream_read_timeout},
                             std::pair{"drain_timeout", &out.drain_timeout}}) {
    if (limits.has(key)) {
      if (auto value = duration(limits[key], limits.path(key))) *target = *value;
    }
  }
  for (auto [key, target] : {std::pair{"header_fields", &out.header_fields},
                             std::pair{"max_connections", &out.max_connections}}) {
    if (limits.has(key)) {
      if (auto value = integer(limits[key], limits.path(key), 1, 1'000'000)) {
        *target = static_cast<std::size_t>(*value);
      }
    }
  }
  if (out.header_line_bytes > out.header_total_bytes) {
    error(node, "'limits.header_line' (" + std::to_string(out.header_line_bytes) +
                    " bytes) is larger than 'limits.header_total' (" +
                    std::to_string(out.header_total_bytes) + " bytes)");
  }
}

void Loader::read_access_log(const YAML::Node& node) {
  Section log(*this, node, "access_log", {"path", "format"});
  if (!log.valid()) return;
  if (log.has("path")) {
    if (auto path = string(log["path"], "access_log.path"))
      policy_.access_log.path = resolve(*path);
  }
  if (log.has("format")) {
    constexpr std::array<std::pair<std::string_view, AccessLogFormat>, 2> kFormats{{
        {"combined", AccessLogFormat::combined},
        {"json", AccessLogFormat::json},
    }};
    if (auto format = choice(log["format"], "access_log.format", kFormats)) {
      policy_.access_log.format = *format;
    }
  }
}

void Loader::read_anonymise(const YAML::Node& node) {
  using namespace veil::anonymiser;
  Section section(*this, node, "anonymise",
                  {"method", "ipv4_prefix", "ipv6_prefix", "key_file", "rotation", "format",
                   "pii_rules", "scrub", "json_fields", "threads"});
  if (!section.valid()) return;
  auto& out = policy_.anonymise;
  auto from_parser = [&](const Section& section, const char* key, auto parse,
                         std::vector<std::string_view> names, auto& target) {
    if (!section.has(key)) return;
    auto text = string(section[key], section.path(key));
    if (!text) return;
    if (auto value = parse(*text)) {
      target = *value;
    } else {
      error(section[key], "invalid value '" + *text + "' for '" + section.path(key) +
                              "': expected " + quoted_list(names, " or ") +
                              suggestion(*text, names));
    }
  };
  from_parser(section, "method", parse_method,
              {"truncate", "hash", "cryptopan", "ipcrypt", "ipcrypt-pfx"}, out.method);
  from_parser(section, "rotation", parse_rotation, {"never", "daily"}, out.rotation);
  from_parser(section, "format", parse_log_format,
              {"auto", "combined", "common", "w3c", "json", "plain"}, out.format);
  if (section.has("ipv4_prefix")) {
    if (auto value = integer(section["ipv4_prefix"], section.path("ipv4_prefix"), 0, 32)) {
      out.ipv4_prefix = static_cast<int>(*value);
    }
  }
  if (section.has("ipv6_prefix")) {
    if (auto value = integer(section["ipv6_prefix"], section.path("ipv6_prefix"), 0, 128)) {
      out.ipv6_prefix = static_cast<int>(*value);
    }
  }
  if (section.has("threads")) {
    if (auto value = integer(section["threads"], section.path("threads"), 0, 1024)) {
      out.threads = static_cast<unsigned>(*value);
    }
  }
  if (section.has("key_file")) {
    if (auto file = string(section["key_file"], section.path("key_file"))) {
      out.key_file = resolve(*file);
      check_key_file(section["key_file"], out.key_file, "anonymise.key_file");
    }
  } else if (out.method != Method::truncate) {
    error(node, "'anonymise.key_file' is required for method '" +
                    std::string(to_string(out.method)) + "'");
  }
  if (out.method == Method::truncate && (out.ipv4_prefix > 24 || out.ipv6_prefix > 48)) {
    warning(node, "truncating to /" + std::to_string(out.ipv4_prefix) + " (IPv4) and /" +
                      std::to_string(out.ipv6_prefix) +
                      " (IPv6) keeps more than /24 and /48: addresses may stay identifying");
  }
  if (section.has("pii_rules")) {
    const auto& rules = section["pii_rules"];
    if (!rules.IsSequence()) {
      error(rules, "expected a list for 'anonymise.pii_rules', got " + std::string(kind_of(rules)));
    } else {
      for (std::size_t i = 0; i < rules.size(); ++i) {
        const std::string what = "anonymise.pii_rules[" + std::to_string(i) + "]";
        Section rule(*this, rules[i], what, {"name", "pattern", "marker", "check"});
        if (!rule.valid()) continue;
        if (!rule.has("name") || !rule.has("pattern")) {
          error(rules[i], "'" + what + "' needs 'name' and 'pattern'");
          continue;
        }
        PiiRule pii;
        pii.name = string(rule["name"], rule.path("name")).value_or("");
        pii.pattern = string(rule["pattern"], rule.path("pattern")).value_or("");
        pii.marker = "[" + pii.name + "]";
        if (rule.has("marker"))
          pii.marker = string(rule["marker"], rule.path("marker")).value_or(pii.marker);
        from_parser(rule, "check", parse_pii_check, {"none", "nhs-mod11", "not-file-extension"},
                    pii.check);
        RE2::Options options;
        options.set_log_errors(false);
        RE2 compiled(pii.pattern, options);
        if (!compiled.ok()) {
          error(rule["pattern"], "invalid regex '" + pii.pattern + "' for '" +
                                     rule.path("pattern") + "': " + compiled.error());
          continue;
        }
        // A rule named like a built-in one replaces it; others extend the catalogue.
        auto existing = std::find_if(out.pii_rules.begin(), out.pii_rules.end(),
                                     [&](const PiiRule& known) { return known.name == pii.name; });
        if (existing != out.pii_rules.end()) {
          *existing = std::move(pii);
        } else {
          out.pii_rules.push_back(std::move(pii));
        }
      }
    }
  }
  if (section.has("scrub")) {
    const auto& scrub = section["scrub"];
    std::vector<std::string_view> names;
    for (const auto& rule : out.pii_rules) names.push_back(rule.name);
    if (scrub.IsScalar() && (scrub.Scalar() == "all" || scrub.Scalar() == "none")) {
      out.scrub = scrub.Scalar() == "all" ? std::nullopt
                                          : std::optional<std::vector<std::string>>(std::in_place);
    } else if (auto items = string_list(scrub, "anonymise.scrub")) {
      out.scrub.emplace();
      for (const auto& [item, name] : *items) {
        if (std::find(names.begin(), names.end(), name) == names.end()) {
          error(item, "unknown PII rule '" + name + "' in 'anonymise.scrub': expected " +
                          quoted_list(names, " or ") + suggestion(name, names));
        } else {
          out.scrub->push_back(name);
        }
      }
    }
  }
  if (section.has("json_fields")) {
    if (auto items = string_list(section["json_fields"], "anonymise.json_fields")) {
      for (auto& [item, field] : *items) out.json_fields.push_back(field);
    }
  }
}

void Loader::read_audit(const YAML::Node& node) {
  Section audit(*this, node, "audit", {"path", "flush_interval"});
  if (!audit.valid()) return;
  if (audit.has("path")) {
    if (auto path = string(audit["path"], "audit.path")) policy_.audit.path = resolve(*path);
  }
  if (audit.has("flush_interval")) {
    if (auto interval = duration(audit["flush_interval"], "audit.flush_interval")) {
      if (interval->count() == 0) {
        error(audit["flush_interval"], "'audit.flush_interval' must be longer than 0s");
      } else {
        policy_.audit.flush_interval = *interval;
      }
    }
  }
}

void Loader::read_consent(const YAML::Node& node) {
  Section consent(*this, node, "consent",
                  {"categories", "cookie", "honour", "honour_gpc", "endpoint_prefix", "banner"});
  if (!consent.valid()) return;
  read_categories(consent.has("categories") ? consent["categories"] : YAML::Node());
  auto& out = policy_.consent;
  if (consent.has("cookie")) {
    Section cookie(*this, consent["cookie"], "consent.cookie",
                   {"name", "preferences_set_name", "max_age"});
    if (cookie.valid()) {
      if (cookie.has("name"))
        out.cookie_name = string(cookie["name"], "consent.cookie.name").value_or(out.cookie_name);
      if (cookie.has("preferences_set_name")) {
        out.preferences_set_cookie =
            string(cookie["preferences_set_name"], "consent.cookie.preferences_set_name")
                .value_or(out.preferences_set_cookie);
      }
      if (cookie.has("max_age")) {
        if (auto max_age = duration(cookie["max_age"], "consent.cookie.max_age"))
          out.cookie_max_age = *max_age;
      }
    }
  }
  read_honour(consent.has("honour") ? consent["honour"] : YAML::Node());
  if (consent.has("honour_gpc")) {
    if (auto value = boolean(consent["honour_gpc"], "consent.honour_gpc")) out.honour_gpc = *value;
  }
  if (consent.has("endpoint_prefix")) {
    if (auto prefix = string(consent["endpoint_prefix"], "consent.endpoint_prefix")) {
      if (!prefix->starts_with('/') || !prefix->ends_with('/') || prefix->size() < 3) {
        error(
            consent["endpoint_prefix"],
            "'consent.endpoint_prefix' must be a path that starts and ends with '/', e.g. /_veil/");
      } else {
        out.endpoint_prefix = *prefix;
      }
    }
  }
  if (consent.has("banner")) read_banner(consent["banner"]);
}

void Loader::read_categories(const YAML::Node& node) {
  auto& categories = policy_.consent.categories;
  if (!node.IsDefined() || node.IsNull()) {
    // GOV.UK's four categories.
    categories = {
        {"essential",
         "Essential cookies keep the website working and secure; they are always on.",
         true,
         {}},
        {"settings", "Cookies that remember your settings, such as your preferences.", false, {}},
        {"usage", "Cookies that measure how you use the website, so we can improve it.", false, {}},
        {"campaigns", "Cookies that help with our communications and marketing.", false, {}},
    };
    return;
  }
  if (!node.IsMap()) {
    error(node, "expected a mapping for 'consent.categories', got " + std::string(kind_of(node)));
    return;
  }
  for (const auto& pair : node) {
    const YAML::Node key = pair.first;
    Category category;
    category.name = key.Scalar();
    category.where = at(key);
    category.always_on = category.name == "essential";
    const std::string what = "consent.categories." + category.name;
    if (std::any_of(categories.begin(), categories.end(),
                    [&](const Category& known) { return known.name == category.name; })) {
      error(key, "duplicate category '" + category.name + "'");
      continue;
    }
    Section entry(*this, pair.second, what, {"description", "always_on"});
    if (!entry.valid()) continue;
    if (entry.has("description"))
      category.description = string(entry["description"], entry.path("description")).value_or("");
    if (entry.has("always_on"))
      category.always_on =
          boolean(entry["always_on"], entry.path("always_on")).value_or(category.always_on);
    categories.push_back(std::move(category));
  }
  if (categories.size() > kMaxCategories) {
    error(node, "at most " + std::to_string(kMaxCategories) + " consent categories are supported");
    categories.resize(kMaxCategories);
  }
  if (std::none_of(categories.begin(), categories.end(),
                   [](const Category& c) { return c.always_on; })) {
    error(node,
          "'consent.categories' needs an always-on category for essential cookies (e.g. "
          "'essential')");
  }
}

void Loader::read_honour(const YAML::Node& node) {
  auto& honour = policy_.consent.honour;
  if (!node.IsDefined() || node.IsNull()) {
    // The usual mappings of the common tools onto GOV.UK's categories, where those exist.
    const std::vector<std::pair<ConsentFormat, std::vector<std::pair<std::string, std::string>>>>
        defaults{
            {ConsentFormat::civic,
             {{"analytics", "usage"}, {"preferences", "settings"}, {"marketing", "campaigns"}}},
            {ConsentFormat::orestbida,
             {{"necessary", "essential"},
              {"functionality", "settings"},
              {"analytics", "usage"},
              {"marketing", "campaigns"}}},
            {ConsentFormat::cookiebot,
             {{"necessary", "essential"},
              {"preferences", "settings"},
              {"statistics", "usage"},
              {"marketing", "campaigns"}}},
            {ConsentFormat::onetrust,
             {{"C0001", "essential"},
              {"C0002", "usage"},
              {"C0003", "settings"},
              {"C0004", "campaigns"},
              {"C0005", "campaigns"}}},
            {ConsentFormat::complianz,
             {{"functional", "essential"},
              {"preferences", "settings"},
              {"statistics", "usage"},
              {"marketing", "campaigns"}}},
        };
    for (const auto& [format, pairs] : defaults) {
      HonouredConsent entry{format, {}, {}};
      for (const auto& [vendor, ours] : pairs) {
        if (auto id = policy_.category_id(ours)) entry.map.emplace_back(vendor, *id);
      }
      honour.push_back(std::move(entry));
    }
    return;
  }
  if (!node.IsSequence()) {
    error(node, "expected a list for 'consent.honour', got " + std::string(kind_of(node)));
    return;
  }
  std::vector<std::string_view> format_names;
  for (auto format :
       {ConsentFormat::govuk, ConsentFormat::civic, ConsentFormat::orestbida, ConsentFormat::klaro,
        ConsentFormat::cookiebot, ConsentFormat::onetrust, ConsentFormat::complianz}) {
    format_names.push_back(to_string(format));
  }
  for (std::size_t i = 0; i < node.size(); ++i) {
    const std::string what = "consent.honour[" + std::to_string(i) + "]";
    Section entry(*this, node[i], what, {"format", "map"});
    if (!entry.valid()) continue;
    if (!entry.has("format") || !entry.has("map")) {
      error(node[i], "'" + what + "' needs 'format' and 'map'");
      continue;
    }
    auto format_text = string(entry["format"], entry.path("format"));
    if (!format_text) continue;
    auto format = parse_consent_format(*format_text);
    if (!format) {
      error(entry["format"], "unknown consent format '" + *format_text + "' for '" +
                                 entry.path("format") + "': expected " +
                                 quoted_list(format_names, " or ") +
                                 suggestion(*format_text, format_names));
      continue;
    }
    honour.push_back({*format, {}, at(node[i])});
    std::size_t index = honour.size() - 1;
    const auto& map = entry["map"];
    if (!map.IsMap()) {
      error(map,
            "expected a mapping for '" + entry.path("map") + "', got " + std::string(kind_of(map)));
      continue;
    }
    for (const auto& pair : map) {
      std::string vendor = pair.first.Scalar();
      YAML::Node target = pair.second;
      const std::string target_what = entry.path("map") + "." + vendor;
      after_categories_.push_back([this, index, vendor, target, target_what] {
        if (auto id = category(target, target_what))
          policy_.consent.honour[index].map.emplace_back(vendor, *id);
      });
    }
  }
}

void Loader::read_banner(const YAML::Node& node) {
  auto& texts = policy_.consent.banner;
  const std::vector<std::pair<std::string_view, std::string*>> fields{
      {"service_name", &texts.service_name},
      {"heading", &texts.heading},
      {"body", &texts.body},
      {"accept", &texts.accept},
      {"reject", &texts.reject},
      {"view_cookies", &texts.view_cookies},
      {"accepted", &texts.accepted},
      {"rejected", &texts.rejected},
      {"hide", &texts.hide},
      {"gpc_notice", &texts.gpc_notice},
      {"placeholder", &texts.placeholder},
      {"placeholder_button", &texts.placeholder_button},
      {"placeholder_link", &texts.placeholder_link},
  };
  std::vector<std::string_view> keys;
  for (const auto& field : fields) keys.push_back(field.first);
  Section banner(*this, node, "consent.banner", keys);
  if (!banner.valid()) return;
  for (const auto& [key, target] : fields) {
    if (banner.has(key)) *target = string(banner[key], banner.path(key)).value_or(*target);
  }
}

std::optional<CategoryId> Loader::category(const YAML::Node& node, const std::string& what) {
  auto name = string(node, what);
  if (!name) return std::nullopt;
  if (auto id = policy_.category_id(*name)) return id;
  std::vector<std::string_view> names;
  for (const auto& defined : policy_.consent.categories) names.push_back(defined.name);
  auto close = closest_match(*name, names);
  error(node, "category '" + *name + "' for '" + what + "' is not defined in consent.categories" +
                  (close ? "; did you mean '" + *close + "'?"
                         : " (defined: " + quoted_list(names, ", ") + ")"));
  return std::nullopt;
}

void Loader::read_cookies(const YAML::Node& node) {
  Section cookies(*this, node, "cookies", {"unclassified", "rules"});
  if (!cookies.valid()) return;
  if (cookies.has("unclassified")) {
    unclassified_node_ = cookies["unclassified"];
    constexpr std::array<std::pair<std::string_view, Unclassified>, 2> kUnclassified{{
        {"block", Unclassified::block},
        {"allow", Unclassified::allow},
    }};
    if (auto value = choice(unclassified_node_, "cookies.unclassified", kUnclassified)) {
      policy_.cookies.unclassified = *value;
    }
    policy_.cookies.unclassified_where = at(unclassified_node_);
  }
  if (!cookies.has("rules")) return;
  const auto& rules = cookies["rules"];
  if (!rules.IsSequence()) {
    error(rules, "expected a list for 'cookies.rules', got " + std::string(kind_of(rules)));
    return;
  }
  for (std::size_t i = 0; i < rules.size(); ++i) {
    read_cookie_rule(rules[i], "cookies.rules[" + std::to_string(i) + "]");
  }
}

void Loader::read_cookie_rule(const YAML::Node& node, const std::string& what) {
  Section entry(*this, node, what,
                {"name", "glob", "regex", "domain", "path", "category", "max_age", "secure",
                 "http_only", "same_site", "description", "provider"});
  if (!entry.valid()) return;
  CookieRule rule;
  rule.where = at(node);
  int selectors = 0;
  YAML::Node pattern_node;
  for (auto [key, kind] :
       {std::pair{"name", CookiePatternKind::exact}, std::pair{"glob", CookiePatternKind::glob},
        std::pair{"regex", CookiePatternKind::regex}}) {
    if (!entry.has(key)) continue;
    ++selectors;
    pattern_node = entry[key];
    rule.kind = kind;
    rule.pattern = string(pattern_node, entry.path(key)).value_or("");
  }
  if (selectors != 1) {
    error(node, "'" + what + "' needs exactly one of 'name', 'glob' or 'regex'");
    return;
  }
  bool valid = !rule.pattern.empty();
  if (rule.kind == CookiePatternKind::regex && valid) {
    RE2::Options options;
    options.set_log_errors(false);
    RE2 compiled(rule.pattern, options);
    if (!compiled.ok()) {
      error(pattern_node, "invalid regex '" + rule.pattern + "' for '" + entry.path("regex") +
                              "': " + compiled.error());
      valid = false;
    }
  }
  if (entry.has("domain")) {
    rule.domain = string(entry["domain"], entry.path("domain")).value_or("");
    std::string_view domain = rule.domain;
    if (domain.starts_with('.')) domain.remove_prefix(1);
    if (!is_host_name(domain)) {
      error(entry["domain"],
            "invalid domain '" + rule.domain + "' for '" + entry.path("domain") + "'");
      valid = false;
    }
  }
  if (entry.has("path")) {
    rule.path = string(entry["path"], entry.path("path")).value_or("/");
    if (!rule.path.starts_with('/')) {
      error(entry["path"], "'" + entry.path("path") + "' must start with '/'");
      valid = false;
    }
  }
  if (entry.has("max_age")) {
    rule.max_age = duration(entry["max_age"], entry.path("max_age"));
    if (!rule.max_age) valid = false;
  }
  for (auto [key, target] : {std::pair{"secure", &rule.required.secure},
                             std::pair{"http_only", &rule.required.http_only}}) {
    if (entry.has(key)) *target = boolean(entry[key], entry.path(key)).value_or(false);
  }
  if (entry.has("same_site")) {
    constexpr std::array<std::pair<std::string_view, SameSite>, 3> kSameSite{{
        {"lax", SameSite::lax},
        {"strict", SameSite::strict},
        {"none", SameSite::none},
    }};
    rule.required.same_site = choice(entry["same_site"], entry.path("same_site"), kSameSite);
    if (rule.required.same_site == SameSite::none && !rule.required.secure) {
      error(
          entry["same_site"],
          "'" + entry.path("same_site") +
              "' none needs 'secure: true': browsers reject SameSite=None cookies without Secure");
    }
  }
  if (entry.has("description"))
    rule.description = string(entry["description"], entry.path("description")).value_or("");
  if (entry.has("provider"))
    rule.provider = string(entry["provider"], entry.path("provider")).value_or("");
  if (!entry.has("category")) {
    error(node, "'" + what + "' needs a 'category'");
    return;
  }
  if (!valid) return;
  std::size_t index = policy_.cookies.rules.size();
  policy_.cookies.rules.push_back(std::move(rule));
  cookie_rule_nodes_.push_back(node);
  YAML::Node category_node = entry["category"];
  YAML::Node max_age_node = entry.has("max_age") ? entry["max_age"] : node;
  after_categories_.push_back([this, index, category_node, max_age_node, what] {
    auto& rule = policy_.cookies.rules[index];
    auto id = category(category_node, what + ".category");
    if (!id) return;
    rule.category = *id;
    if (rule.max_age && *rule.max_age > kBrowserCookieCap) {
      warning(max_age_node, "max_age " + format_duration(*rule.max_age) + " of '" + rule.pattern +
                                "' is over the 400 days browsers allow; they will cap it");
    }
    if (!policy_.always_on(*id) && !rule.max_age) {
      warning(max_age_node, "cookie rule '" + rule.pattern + "' (category " +
                                policy_.category_name(*id) +
                                ") has no max_age: its lifetime is not capped");
    }
  });
}

std::vector<std::string> Loader::unique_host_patterns(const Section& entry, ListedHosts& listed,
                                                      std::string_view earlier) {
  std::vector<std::string> accepted;
  auto hosts = string_list(entry["hosts"], entry.path("hosts"));
  if (!hosts) return accepted;
  for (const auto& [host_node, host] : *hosts) {
    if (!is_host_pattern(host)) {
      error(host_node, "invalid host '" + host + "' in '" + entry.path("hosts") +
                           "': expected a host name or *.domain");
      continue;
    }
    auto normalised = normalise_host(host);
    auto first = std::find_if(listed.begin(), listed.end(),
                              [&](const auto& seen) { return seen.first == normalised; });
    if (first != listed.end()) {
      error(host_node,
            "host '" + host + "' " + std::string(earlier) + " " + to_string(first->second));
      continue;
    }
    listed.emplace_back(std::move(normalised), at(host_node));
    accepted.push_back(host);
  }
  return accepted;
}

void Loader::read_embeds(const YAML::Node& node) {
  if (!node.IsSequence()) {
    error(node, "expected a list for 'embeds', got " + std::string(kind_of(node)));
    return;
  }
  ListedHosts listed;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const std::string what = "embeds[" + std::to_string(i) + "]";
    Section entry(*this, node[i], what, {"hosts", "category", "provider"});
    if (!entry.valid()) continue;
    if (!entry.has("hosts") || !entry.has("category") || !entry.has("provider")) {
      error(node[i], "'" + what + "' needs 'hosts', 'category' and 'provider'");
      continue;
    }
    EmbedRule rule;
    rule.where = at(node[i]);
    rule.provider = string(entry["provider"], entry.path("provider")).value_or("");
    for (const auto& host : unique_host_patterns(entry, listed, "is already listed at")) {
      rule.hosts.push_back(normalise_host(host));
    }
    std::size_t index = policy_.embeds.size();
    policy_.embeds.push_back(std::move(rule));
    YAML::Node category_node = entry["category"];
    after_categories_.push_back([this, index, category_node, what] {
      if (auto id = category(category_node, what + ".category"))
        policy_.embeds[index].category = *id;
    });
  }
}

void Loader::read_routes(const YAML::Node& node) {
  if (!node.IsSequence()) {
    error(node, "expected a list for 'routes', got " + std::string(kind_of(node)));
    return;
  }
  for (std::size_t i = 0; i < node.size(); ++i) {
    const std::string what = "routes[" + std::to_string(i) + "]";
    Section entry(*this, node[i], what, {"path", "mode"});
    if (!entry.valid()) continue;
    if (!entry.has("path") || !entry.has("mode")) {
      error(node[i], "'" + what + "' needs 'path' and 'mode'");
      continue;
    }
    RouteMode route;
    route.where = at(node[i]);
    route.path_prefix = string(entry["path"], entry.path("path")).value_or("");
    if (!route.path_prefix.starts_with('/')) {
      error(entry["path"], "'" + entry.path("path") + "' must start with '/'");
      continue;
    }
    for (const auto& other : policy_.routes) {
      if (other.path_prefix == route.path_prefix) {
        error(entry["path"],
              "route '" + route.path_prefix + "' is already defined at " + to_string(other.where));
      }
    }
    constexpr std::array<std::pair<std::string_view, Mode>, 2> kModes{{
        {"enforce", Mode::enforce},
        {"report-only", Mode::report_only},
    }};
    if (auto mode = choice(entry["mode"], entry.path("mode"), kModes)) {
      route.mode = *mode;
      policy_.routes.push_back(std::move(route));
    }
  }
}

void Loader::check_shadowed_cookie_rules() {
  const auto& rules = policy_.cookies.rules;
  for (std::size_t later = 1; later < rules.size(); ++later) {
    CookiePattern narrower{rules[later].kind, rules[later].pattern, rules[later].domain,
                           rules[later].path};
    for (std::size_t earlier = 0; earlier < later; ++earlier) {
      CookiePattern wider{rules[earlier].kind, rules[earlier].pattern, rules[earlier].domain,
                          rules[earlier].path};
      if (pattern_covers(wider, narrower)) {
        error(cookie_rule_nodes_[later], "cookie rule '" + rules[later].pattern +
                                             "' never applies: rule '" + rules[earlier].pattern +
                                             "' at " + to_string(rules[earlier].where) +
                                             " comes first and matches every cookie it matches");
        break;
      }
    }
  }
}

void Loader::add_risk_warnings(const YAML::Node& root) {
  if (policy_.forward_client_ip == ForwardClientIp::real && policy_.trusted_proxies.empty()) {
    warning(forward_node_,
            "'forward_client_ip: real' sends every visitor's raw address to the origin, and "
            "no 'trusted_proxies' are set");
  }
  if (policy_.cookies.unclassified == Unclassified::allow && policy_.mode == Mode::enforce) {
    warning(unclassified_node_,
            "'cookies.unclassified: allow' in enforce mode lets cookies no rule knows "
            "through without consent");
  }
  const auto& admin_host = policy_.admin.listen.host;
  if (admin_host != "127.0.0.1" && admin_host != "::1" && !admin_host.starts_with("127.")) {
    warning(admin_listen_node_.IsDefined() ? admin_listen_node_ : root,
            "the admin endpoints listen on " + to_string(policy_.admin.listen) +
                ", which is not a loopback address: /metrics becomes reachable from the network");
  }
}

}  // namespace

std::string to_string(const Diagnostic& diagnostic) {
  std::string out = diagnostic.file;
  if (diagnostic.line > 0) {
    out += ":" + std::to_string(diagnostic.line) + ":" + std::to_string(diagnostic.column);
  }
  out += diagnostic.severity == Diagnostic::Severity::error ? ": error: " : ": warning: ";
  return out + diagnostic.message;
}

LoadResult load_policy_from_string(std::string_view text, const std::string& name,
                                   const std::string& base_directory) {
  return Loader(name, base_directory).load(text);
}

LoadResult load_policy(const std::string& path) {
  auto file = read_yaml_file(path);
  if (!file) {
    return {nullptr, {{Diagnostic::Severity::error, path, 0, 0, "cannot read the policy file"}}};
  }
  return load_policy_from_string(file->text, path, file->directory);
}

}  // namespace veil::policies
