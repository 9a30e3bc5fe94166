// `veil proxy`: runs the edge proxy in front of one or more origins until SIGTERM/SIGINT, then
// drains.
#include <signal.h>

#include <boost/program_options.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "command.hpp"
#include "veil/proxy/admin.hpp"
#include "veil/proxy/filter.hpp"
#include "veil/proxy/metrics.hpp"
#include "veil/proxy/server.hpp"

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

// Counts every exchange of the public server into the admin listener's metrics.
class MetricsFilter final : public proxy::Filter {
 public:
  MetricsFilter(proxy::ProxyMetrics& metrics, const std::vector<proxy::Upstream>& upstreams)
      : metrics_(metrics), local_(metrics.upstream(proxy::ProxyMetrics::kNoUpstream)) {
    for (const auto& upstream : upstreams)
      by_upstream_.emplace_back(upstream.name, &metrics.upstream(upstream.name));
  }

  void on_complete(proxy::Exchange& exchange) override {
    const auto* counted = &local_;
    for (const auto& [name, metrics] : by_upstream_) {
      if (name == exchange.upstream_name) counted = metrics;
    }
    const double seconds =
        std::chrono::duration<double>(exchange.completed - exchange.started).count();
    counted->count_response(exchange.response.result_int(), seconds);
    using Error = proxy::ProxyMetrics::UpstreamError;
    if (exchange.error == "upstream_connect") counted->count_error(Error::connect);
    if (exchange.error == "upstream_timeout") counted->count_error(Error::timeout);
    if (exchange.error == "upstream_reset") counted->count_error(Error::reset);
    if (exchange.error == "upstream_bad_response") counted->count_error(Error::protocol);
    metrics_.received_bytes.inc(exchange.request_body_bytes);
    metrics_.sent_bytes.inc(exchange.response_body_bytes);
  }

 private:
  proxy::ProxyMetrics& metrics_;
  const proxy::ProxyMetrics::UpstreamMetrics& local_;
  std::vector<std::pair<std::string, const proxy::ProxyMetrics::UpstreamMetrics*>> by_upstream_;
};

int run_proxy(int argc, char** argv) {
  po::options_description options("veil proxy: the privacy edge reverse proxy\n\nOptions");
  std::vector<std::string> listen;
  std::string admin = "127.0.0.1:9901";
  std::vector<std::string> upstreams;
  std::vector<std::string> trusted;
  std::string forward_mode = "real";
  std::string certificate;
  std::string key;
  unsigned threads = 0;
  double header_timeout = 10;
  double upstream_timeout = 60;
  double drain_timeout = 30;
  std::uint64_t max_body_bytes = proxy::Limits{}.request_body_bytes;
  options.add_options()("help,h", "show this help")(
      "listen", po::value(&listen)->composing(),
      "address to listen on, e.g. 127.0.0.1:8080 or [::]:443 (repeatable; default 127.0.0.1:8080)")(
      "upstream", po::value(&upstreams)->composing(),
      "origin http://host[:port], or HOST[,HOST...]=URL to route those Host values (repeatable)")(
      "threads", po::value(&threads), "I/O threads (default: one per core)")(
      "admin", po::value(&admin),
      "admin listener for /healthz, /readyz, /metrics (default 127.0.0.1:9901; 'off' for none)")(
      "trusted-proxy", po::value(&trusted)->composing(),
      "CIDR of a proxy in front of veil whose X-Forwarded-For is believed (repeatable)")(
      "forward-client-ip", po::value(&forward_mode),
      "what the origin is told of the client address: real (default), anonymised, none")(
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
  try {
    po::store(po::command_line_parser(argc, argv).options(options).run(), values);
    po::notify(values);
  } catch (const po::error& error) {
    std::fprintf(stderr, "veil proxy: %s\n", error.what());
    return 2;
  }
  if (values.count("help")) {
    std::cout << options << "\n";
    return 0;
  }

  proxy::ServerSettings settings;
  try {
    if (upstreams.empty()) throw std::invalid_argument("--upstream is required");
    for (const auto& text : upstreams) settings.upstreams.push_back(parse_upstream_flag(text));
    settings.listen = listen.empty() ? std::vector<std::string>{"127.0.0.1:8080"} : listen;
    settings.trusted_proxies = trusted;
    settings.forward_client_ip = parse_forward_mode(forward_mode);
    settings.tls_certificate_file = certificate;
    settings.tls_private_key_file = key;
    settings.threads = threads;
    settings.limits.request_body_bytes = max_body_bytes;
    auto milliseconds = [](double seconds, const char* flag) {
      if (!(seconds > 0)) throw std::invalid_argument(std::string(flag) + " must be positive");
      return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
    };
    settings.timeouts.header = milliseconds(header_timeout, "--header-timeout");
    settings.timeouts.upstream_read = milliseconds(upstream_timeout, "--upstream-timeout");
    milliseconds(drain_timeout, "--drain-timeout");
  } catch (const std::invalid_argument& error) {
    std::fprintf(stderr, "veil proxy: %s\n", error.what());
    return 2;
  }

  // Signals are taken synchronously by this thread; the I/O threads inherit the blocked mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  try {
    proxy::MetricsRegistry registry;
    proxy::ProxyMetrics metrics(registry);
    proxy::AdminState admin_state;
    admin_state.policy_loaded = true;        // the settings came from the flags
    const proxy::Server* serving = nullptr;  // set before the admin server starts
    std::unique_ptr<proxy::Server> admin_server;
    if (admin != "off") {
      proxy::ServerSettings admin_settings;
      admin_settings.listen = {admin};
      admin_settings.threads = 1;
      admin_settings.limits.max_connections = 64;
      admin_server = std::make_unique<proxy::Server>(
          admin_settings,
          std::vector<std::shared_ptr<proxy::Filter>>{std::make_shared<proxy::LocalHandlerFilter>(
              "", [&](const proxy::LocalRequest& request) {
                metrics.active_connections.set(
                    static_cast<std::int64_t>(serving->active_connections()));
                return proxy::answer_admin_request(request, admin_state, registry);
              })});
    }
    proxy::Server server(settings, {std::make_shared<MetricsFilter>(metrics, settings.upstreams)});
    serving = &server;
    server.start();
    if (admin_server) {
      // Traffic matters more than its instrumentation: a busy admin port is reported, not fatal.
      try {
        admin_server->start();
        std::fprintf(stderr, "veil proxy: admin on %s\n", admin.c_str());
      } catch (const std::runtime_error& error) {
        std::fprintf(stderr, "veil proxy: admin listener disabled: %s\n", error.what());
        admin_server.reset();
      }
    }
    admin_state.listening = true;
    const auto ports = server.listening_ports();
    for (std::size_t i = 0; i < ports.size(); ++i) {
      std::fprintf(stderr, "veil proxy: listening on %s (port %u)\n", settings.listen[i].c_str(),
                   static_cast<unsigned>(ports[i]));
    }
    int received = 0;
    sigwait(&stop_signals, &received);
    std::fprintf(stderr, "veil proxy: %s, draining\n", received == SIGTERM ? "SIGTERM" : "SIGINT");
    admin_state.draining = true;
    const bool drained =
        server.drain(std::chrono::milliseconds(static_cast<long long>(drain_timeout * 1000)));
    if (!drained) {
      std::fprintf(stderr, "veil proxy: drain deadline passed with %zu connections open\n",
                   server.active_connections());
    }
    server.stop();
    if (admin_server) admin_server->stop();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "veil proxy: %s\n", error.what());
    return 1;
  }
  return 0;
}

const CommandRegistration registration("proxy", "run the privacy edge reverse proxy", run_proxy);

}  // namespace
}  // namespace veil::app
