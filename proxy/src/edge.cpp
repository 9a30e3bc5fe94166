#include "veil/proxy/edge.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <utility>

#include "edge_filters.hpp"
#include "veil/anonymiser/address_anonymiser.hpp"
#include "veil/policies/loader.hpp"
#include "veil/proxy/access_log_writer.hpp"
#include "veil/proxy/admin.hpp"
#include "veil/proxy/consent_filter.hpp"
#include "veil/proxy/cookie_audit.hpp"
#include "veil/proxy/cookie_policy_filter.hpp"
#include "veil/proxy/embed_blocker.hpp"
#include "veil/proxy/metrics.hpp"
#include "veil/proxy/public_suffix.hpp"
#include "veil/proxy/security_headers.hpp"
#include "veil/proxy/server.hpp"

namespace veil::proxy {
namespace {

// What runs when no policy file is given: every default, changing nothing.
constexpr std::string_view kBuiltinPolicy =
    "version: 1\nmode: report-only\nlisten: 127.0.0.1:8080\nforward_client_ip: real\n";

// The loaded policy (the built-in one without a path), or every diagnostic in `messages`.
policies::LoadResult load_checked(const std::optional<std::string>& path,
                                  std::vector<std::string>& messages) {
  auto result = path ? policies::load_policy(*path)
                     : policies::load_policy_from_string(kBuiltinPolicy, "<built-in policy>");
  for (const auto& diagnostic : result.diagnostics) messages.push_back(to_string(diagnostic));
  if (result.ok()) {
    // The key is read per I/O thread later; a policy whose key cannot be read is refused now.
    const auto& settings = result.policy->anonymise;
    const auto bytes = anonymiser::key_bytes_for(settings.method);
    if (bytes != 0) {
      try {
        anonymiser::load_key_file(settings.key_file, bytes);
      } catch (const std::exception& error) {
        messages.push_back(result.policy->source + ": error: " + error.what());
        result.policy.reset();
      }
    }
  }
  return result;
}

// "YYYY-MM-DD" of today (UTC): when this policy took effect, for gpc.json's lastUpdate.
std::string today() {
  const auto days = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
  const std::chrono::year_month_day date{days};
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
  return text;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += (text.empty() ? "" : "\n") + line;
  return text;
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

policies::AuditSettings audit_settings_for(const policies::Policy& policy,
                                           const EdgeOverrides& overrides) {
  auto settings = policy.audit;
  if (overrides.audit_log) settings.path = *overrides.audit_log;
  return settings;
}

ServerSettings server_settings_for(const policies::Policy& policy, const EdgeOverrides& overrides) {
  ServerSettings settings;
  settings.listen = overrides.listen.empty()
                        ? std::vector<std::string>{policies::to_string(policy.listen)}
                        : overrides.listen;
  if (!overrides.upstreams.empty()) {
    settings.upstreams = overrides.upstreams;
  } else {
    for (const auto& upstream : policy.upstreams) {
      if (upstream.scheme != "http") {
        throw std::runtime_error(policy.source + ": upstream '" + upstream.name +
                                 "': only http:// origins are supported");
      }
      Upstream mapped{
          upstream.name, upstream.host, upstream.port != 0 ? upstream.port : std::uint16_t{80}, {}};
      for (const auto& host : upstream.hosts) mapped.server_names.push_back(lower(host));
      settings.upstreams.push_back(std::move(mapped));
    }
  }
  for (const auto& cidr : policy.trusted_proxies) settings.trusted_proxies.push_back(cidr.text);
  switch (policy.forward_client_ip) {
    case policies::ForwardClientIp::real:
      settings.forward_client_ip = ForwardClientIp::real;
      break;
    case policies::ForwardClientIp::anonymised:
      settings.forward_client_ip = ForwardClientIp::anonymised;
      break;
    case policies::ForwardClientIp::none:
      settings.forward_client_ip = ForwardClientIp::none;
      break;
  }
  if (policy.tls) {
    settings.tls_certificate_file = policy.tls->certificate_file;
    settings.tls_private_key_file = policy.tls->key_file;
  }
  const auto& limits = policy.limits;
  settings.limits.request_line_bytes = limits.header_line_bytes;
  settings.limits.header_line_bytes = limits.header_line_bytes;
  settings.limits.header_total_bytes = limits.header_total_bytes;
  settings.limits.header_fields = limits.header_fields;
  settings.limits.request_body_bytes = limits.body_bytes;
  settings.limits.max_connections = limits.max_connections;
  settings.timeouts.header = limits.header_timeout;
  settings.timeouts.keep_alive_idle = limits.idle_timeout;
  settings.timeouts.upstream_connect = limits.upstream_connect_timeout;
  settings.timeouts.upstream_read = limits.upstream_read_timeout;
  settings.threads = overrides.threads;
  if (overrides.adjust_server) overrides.adjust_server(settings);
  return settings;
}

// What a reload cannot change without a restart, described for the operator.
std::vector<std::string> restart_needed(const ServerSettings& running, const ServerSettings& wanted,
                                        const std::string& access_log_running,
                                        const std::string& access_log_wanted,
                                        const policies::AuditSettings& audit_running,
                                        const policies::AuditSettings& audit_wanted) {
  std::vector<std::string> changed;
  auto same_upstreams = [](const std::vector<Upstream>& a, const std::vector<Upstream>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
      return x.name == y.name && x.host == y.host && x.port == y.port &&
             x.server_names == y.server_names;
    });
  };
  if (running.listen != wanted.listen) changed.push_back("listen");
  if (!same_upstreams(running.upstreams, wanted.upstreams)) changed.push_back("upstreams");
  if (running.trusted_proxies != wanted.trusted_proxies) changed.push_back("trusted_proxies");
  if (running.forward_client_ip != wanted.forward_client_ip) changed.push_back("forward_client_ip");
  if (running.tls_certificate_file != wanted.tls_certificate_file ||
      running.tls_private_key_file != wanted.tls_private_key_file) {
    changed.push_back("tls");
  }
  const auto& a = running.limits;
  const auto& b = wanted.limits;
  if (a.header_line_bytes != b.header_line_bytes || a.header_total_bytes != b.header_total_bytes ||
      a.header_fields != b.header_fields || a.request_body_bytes != b.request_body_bytes ||
      a.max_connections != b.max_connections || running.timeouts.header != wanted.timeouts.header ||
      running.timeouts.keep_alive_idle != wanted.timeouts.keep_alive_idle ||
      running.timeouts.upstream_connect != wanted.timeouts.upstream_connect ||
      running.timeouts.upstream_read != wanted.timeouts.upstream_read) {
    changed.push_back("limits");
  }
  if (access_log_running != access_log_wanted) changed.push_back("access_log.path");
  if (audit_running.path != audit_wanted.path ||
      audit_running.flush_interval != audit_wanted.flush_interval) {
    changed.push_back("audit");
  }
  std::vector<std::string> messages;
  for (const auto& section : changed) {
    messages.push_back("note: '" + section + "' changed: it takes effect at the next restart");
  }
  return messages;
}

}  // namespace

struct Edge::Impl {
  std::optional<std::string> policy_path;
  EdgeOverrides overrides;
  PolicyStore store;
  ServerSettings settings;
  std::string access_log_path;
  policies::AuditSettings audit_settings;
  std::optional<std::string> admin_listen;

  MetricsRegistry registry;
  ProxyMetrics metrics{registry};
  Counter& unformattable_lines =
      registry.counter("veil_access_log_unformattable_lines_total",
                       "Access-log lines dropped because they could not be anonymised");
  AdminState admin_state;
  std::unique_ptr<AccessLogWriter> writer;
  PublicSuffixList suffixes = PublicSuffixList::load();
  CookieAudit audit;
  std::unique_ptr<CookieAuditFlusher> audit_flusher;
  std::unique_ptr<Server> server;
  std::unique_ptr<Server> admin;

  Impl(std::optional<std::string> path, EdgeOverrides flags,
       std::shared_ptr<const policies::Policy> policy)
      : policy_path(std::move(path)), overrides(std::move(flags)), store(policy) {
    settings = server_settings_for(*policy, overrides);
    access_log_path = overrides.access_log.value_or(policy->access_log.path);
    audit_settings = audit_settings_for(*policy, overrides);
    const std::string admin_flag =
        overrides.admin.value_or(policies::to_string(policy->admin.listen));
    if (admin_flag != "off") admin_listen = admin_flag;

    writer = std::make_unique<AccessLogWriter>(
        AccessLogWriterOptions{.path = access_log_path},
        AccessLogCounters{metrics.access_log_lines, metrics.access_log_dropped_lines,
                          metrics.access_log_write_errors});

    if (!audit_settings.path.empty()) {
      audit_flusher = std::make_unique<CookieAuditFlusher>(audit, audit_settings.path,
                                                           audit_settings.flush_interval);
    }

    // Consent is read once per exchange, before the filters that act on it.
    auto consent = std::make_shared<ConsentFilter>(today());
    std::vector<std::string> upstream_names;
    for (const auto& upstream : settings.upstreams) upstream_names.push_back(upstream.name);
    std::vector<std::shared_ptr<Filter>> filters{std::make_shared<PolicySnapshotFilter>(store)};
    if (settings.forward_client_ip == ForwardClientIp::anonymised) {
      filters.push_back(std::make_shared<AnonymisedAddressFilter>());
    }
    filters.insert(
        filters.end(),
        {
            consent,
            std::make_shared<CookiePolicyFilter>(*consent, registry, suffixes,
                                                 audit_settings.path.empty() ? nullptr : &audit),
            std::make_shared<EmbedBlocker>(*consent, registry),
            std::make_shared<SecurityHeaders>(*consent),
            std::make_shared<RequestMetricsFilter>(metrics, upstream_names),
            std::make_shared<AccessLogFilter>(store, *writer, unformattable_lines),
        });
    server = std::make_unique<Server>(settings, std::move(filters));

    if (admin_listen) {
      ServerSettings admin_settings;
      admin_settings.listen = {*admin_listen};
      admin_settings.threads = 1;
      auto handler = [this](const LocalRequest& request) {
        metrics.active_connections.set(static_cast<std::int64_t>(server->active_connections()));
        return answer_admin_request(request, admin_state, registry);
      };
      admin = std::make_unique<Server>(
          admin_settings,
          std::vector<std::shared_ptr<Filter>>{std::make_shared<LocalHandlerFilter>("/", handler)});
    }
    admin_state.policy_loaded = true;
  }
};

Edge::Edge(std::optional<std::string> policy_path, EdgeOverrides overrides) {
  std::vector<std::string> messages;
  auto loaded = load_checked(policy_path, messages);
  if (!loaded.ok()) throw std::runtime_error(joined(messages));
  impl_ = std::make_unique<Impl>(std::move(policy_path), std::move(overrides), loaded.policy);
}

Edge::~Edge() {
  if (impl_) stop();
}

std::vector<std::string> Edge::start() {
  std::vector<std::string> warnings;
  if (impl_->admin) {
    try {
      impl_->admin->start();
    } catch (const std::exception& error) {
      warnings.push_back(std::string("admin listener disabled: ") + error.what());
      impl_->admin.reset();
    }
  }
  impl_->server->start();
  impl_->admin_state.listening = true;
  return warnings;
}

std::vector<std::uint16_t> Edge::listening_ports() const {
  return impl_->server->listening_ports();
}

std::optional<std::uint16_t> Edge::admin_port() const {
  if (!impl_->admin) return std::nullopt;
  return impl_->admin->listening_ports().at(0);
}

std::string Edge::access_log_path() const {
  return impl_->access_log_path;
}

std::chrono::milliseconds Edge::drain_timeout() const {
  return impl_->overrides.drain_timeout.value_or(impl_->store.current()->limits.drain_timeout);
}

Edge::ReloadResult Edge::reload() {
  ReloadResult result;
  auto loaded = load_checked(impl_->policy_path, result.messages);
  if (loaded.ok()) {
    try {
      const auto wanted = server_settings_for(*loaded.policy, impl_->overrides);
      const auto log_path = impl_->overrides.access_log.value_or(loaded.policy->access_log.path);
      const auto audit = audit_settings_for(*loaded.policy, impl_->overrides);
      for (auto& note : restart_needed(impl_->settings, wanted, impl_->access_log_path, log_path,
                                       impl_->audit_settings, audit)) {
        result.messages.push_back(loaded.policy->source + ": " + note);
      }
      impl_->store.replace(loaded.policy);
      result.applied = true;
    } catch (const std::exception& error) {
      result.messages.push_back(error.what());
    }
  }
  (result.applied ? impl_->metrics.policy_reloads_ok : impl_->metrics.policy_reloads_failed).inc();
  return result;
}

void Edge::reopen_logs() {
  impl_->writer->reopen();
}

bool Edge::drain(std::chrono::milliseconds deadline) {
  impl_->admin_state.draining = true;
  const bool drained = impl_->server->drain(deadline);
  impl_->writer->flush();
  return drained;
}

void Edge::stop() {
  impl_->server->stop();
  if (impl_->admin) impl_->admin->stop();
  impl_->writer->flush_and_stop();
  if (impl_->audit_flusher) impl_->audit_flusher->flush();
}

}  // namespace veil::proxy
