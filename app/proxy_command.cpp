// `veil proxy`: runs the edge proxy in front of one or more origins until SIGTERM/SIGINT, then
// drains.
#include <boost/program_options.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "command.hpp"
#include "options.hpp"
#include "serve.hpp"
#include "veil/proxy/edge.hpp"
#include "veil/proxy/server_settings.hpp"

namespace veil::app {
namespace {

namespace po = boost::program_options;

// "URL" or "HOST[,HOST...]=URL": the upstream for those Host values (the first bare URL is the
// default).
proxy::Upstream parse_upstream_flag(const std::string& text) {
  const auto equals = text.find('=');
  if (equals == std::string::npos) return proxy::parse_upstream_url(text);
  proxy::Upstream upstream = proxy::parse_upstream_url(text.substr(equals + 1));
  std::string names = text.substr(0, equals);
  std::size_t start = 0;
  while (start <= names.size()) {
    const auto comma = std::min(names.find(',', start), names.size());
    std::string name = names.substr(start, comma - start);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name.empty()) throw std::invalid_argument("--upstream '" + text + "': empty host name");
    upstream.server_names.push_back(name);
    start = comma + 1;
  }
  return upstream;
}

proxy::ForwardClientIp parse_forward_mode(const std::string& text) {
  if (text == "real") return proxy::ForwardClientIp::real;
  if (text == "anonymised") return proxy::ForwardClientIp::anonymised;
  if (text == "none") return proxy::ForwardClientIp::none;
  throw std::invalid_argument("--forward-client-ip: expected real, anonymised or none, got '" +
                              text + "'");
}

int run_proxy(int argc, char** argv) {
  po::options_description options(
      "veil proxy: the privacy edge reverse proxy. Settings come from --policy (without one, a "
      "built-in report-only policy); the flags below override it.\n\nOptions");
  std::string policy;
  std::vector<std::string> listen;
  std::string admin;
  std::string access_log;
  std::vector<std::string> upstreams;
  std::vector<std::string> trusted;
  std::string forward_mode;
  std::string certificate;
  std::string key;
  unsigned threads = 0;
  double header_timeout = 0;
  double upstream_timeout = 0;
  double drain_timeout = 0;
  std::uint64_t max_body_bytes = 0;
  options.add_options()("help,h", "show this help")(
      "policy", po::value(&policy), "the policy file (see the README's policy reference)")(
      "listen", po::value(&listen)->composing(),
      "address to listen on, e.g. 127.0.0.1:8080 or [::]:443 (repeatable)")(
      "upstream", po::value(&upstreams)->composing(),
      "origin http://host[:port], or HOST[,HOST...]=URL to route those Host values (repeatable)")(
      "threads", po::value(&threads), "I/O threads (default: one per core)")(
      "admin", po::value(&admin),
      "admin listener for /healthz, /readyz, /metrics (default 127.0.0.1:9901; 'off' for none)")(
      "access-log", po::value(&access_log), "anonymised access log file, or '-' for stdout")(
      "trusted-proxy", po::value(&trusted)->composing(),
      "CIDR of a proxy in front of veil whose X-Forwarded-For is believed (repeatable)")(
      "forward-client-ip", po::value(&forward_mode),
      "what the origin is told of the client address: real, anonymised, none")(
      "tls-cert", po::value(&certificate), "PEM certificate chain: serve HTTPS")(
      "tls-key", po::value(&key), "PEM private key for --tls-cert")(
      "max-body-bytes", po::value(&max_body_bytes),
      "largest request body accepted, in bytes (default 1048576; larger gets 413)")(
      "header-timeout", po::value(&header_timeout),
      "seconds to receive a request head (default 10)")(
      "upstream-timeout", po::value(&upstream_timeout),
      "seconds to wait for the origin's response or its next body bytes (default 60)")(
      "drain-timeout", po::value(&drain_timeout),
      "seconds in-flight requests get to finish on SIGTERM/SIGINT (default 30)");
  po::variables_map values;
  if (const auto stop = parse_options("veil proxy", argc, argv, options, values)) return *stop;

  proxy::EdgeOverrides overrides;
  try {
    if (policy.empty() && upstreams.empty()) {
      throw std::invalid_argument("--upstream is required without --policy");
    }
    for (const auto& text : upstreams) overrides.upstreams.push_back(parse_upstream_flag(text));
    overrides.listen = listen;
    if (!admin.empty()) overrides.admin = admin;
    if (!access_log.empty()) overrides.access_log = access_log;
    overrides.threads = threads;
    auto milliseconds = [](double seconds, const char* flag) {
      if (!(seconds > 0)) throw std::invalid_argument(std::string(flag) + " must be positive");
      return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
    };
    if (values.count("drain-timeout")) {
      overrides.drain_timeout = milliseconds(drain_timeout, "--drain-timeout");
    }
    std::optional<proxy::ForwardClientIp> forward;
    if (values.count("forward-client-ip")) forward = parse_forward_mode(forward_mode);
    std::optional<std::chrono::milliseconds> header, upstream_read;
    if (values.count("header-timeout")) header = milliseconds(header_timeout, "--header-timeout");
    if (values.count("upstream-timeout")) {
      upstream_read = milliseconds(upstream_timeout, "--upstream-timeout");
    }
    if (values.count("tls-cert") != values.count("tls-key")) {
      throw std::invalid_argument("--tls-cert and --tls-key go together");
    }
    const bool body_limit = values.count("max-body-bytes") != 0;
    overrides.adjust_server = [=](proxy::ServerSettings& settings) {
      if (!trusted.empty()) settings.trusted_proxies = trusted;
      if (forward) settings.forward_client_ip = *forward;
      if (!certificate.empty()) {
        settings.tls_certificate_file = certificate;
        settings.tls_private_key_file = key;
      }
      if (body_limit) settings.limits.request_body_bytes = max_body_bytes;
      if (header) settings.timeouts.header = *header;
      if (upstream_read) settings.timeouts.upstream_read = *upstream_read;
    };
  } catch (const std::invalid_argument& error) {
    std::fprintf(stderr, "veil proxy: %s\n", error.what());
    return 2;
  }

  block_serving_signals();
  try {
    proxy::Edge edge(policy.empty() ? std::nullopt : std::optional<std::string>(policy),
                     std::move(overrides));
    for (const auto& warning : edge.start())
      std::fprintf(stderr, "veil proxy: %s\n", warning.c_str());
    for (const auto port : edge.listening_ports()) {
      std::fprintf(stderr, "veil proxy: listening on port %u\n", static_cast<unsigned>(port));
    }
    if (const auto admin_port = edge.admin_port()) {
      std::fprintf(stderr, "veil proxy: admin on port %u\n", static_cast<unsigned>(*admin_port));
    }
    return serve_until_stopped(edge, "veil proxy");
  } catch (const std::exception& error) {
    std::fprintf(stderr, "veil proxy: %s\n", error.what());
    return 1;
  }
}

const CommandRegistration registration("proxy", "run the privacy edge reverse proxy", run_proxy);

}  // namespace
}  // namespace veil::app
