#include "veil/proxy/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <charconv>
#include <stdexcept>
#include <thread>

#include "server_core.hpp"

namespace veil::proxy {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// "127.0.0.1:8080", "[::1]:8080", ":8080" (every address, IPv6 and IPv4).
tcp::endpoint parse_listen_address(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) {
    throw std::invalid_argument("listen address '" + text + "': expected HOST:PORT");
  }
  std::string host = text.substr(0, colon);
  const std::string port_text = text.substr(colon + 1);
  unsigned port = 0;
  const auto [end, error] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    throw std::invalid_argument("listen address '" + text + "': bad port");
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "::";
  boost::system::error_code parse_error;
  const auto address = net::ip::make_address(host, parse_error);
  if (parse_error) {
    throw std::invalid_argument("listen address '" + text + "': not an IP address");
  }
  return {address, static_cast<unsigned short>(port)};
}

std::vector<tcp::endpoint> resolve(const Upstream& upstream) {
  net::io_context context;
  tcp::resolver resolver(context);
  boost::system::error_code error;
  const auto results = resolver.resolve(upstream.host, std::to_string(upstream.port), error);
  if (error || results.empty()) {
    throw std::invalid_argument("upstream '" + upstream.name + "': cannot resolve '" +
                                upstream.host + "': " + error.message());
  }
  std::vector<tcp::endpoint> endpoints;
  for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  return endpoints;
}

}  // namespace

struct Server::Impl {
  ServerCore core;  // outlives the io_contexts, whose destruction ends the sessions using them
  // One io_context per I/O thread (a worker), as nginx has one event loop per worker process: a
  // session and its upstream connections stay on one thread, so they need no strand and pooled
  // connections are reused without re-registering them with another reactor.
  std::vector<std::unique_ptr<net::io_context>> workers;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<std::uint16_t> ports;
  std::vector<std::thread> threads;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> work;
  std::size_t next_worker = 0;  // accepts go round the workers

  explicit Impl(unsigned thread_count) {
    for (unsigned i = 0; i < thread_count; ++i)
      workers.push_back(std::make_unique<net::io_context>(1));
  }

  // Waits for one connection, then takes up to kAcceptBatch more that are already queued (nginx's
  // multi_accept). One accept per turn of the event loop would leave a burst of new connections
  // queued behind every busy one, their first requests waiting seconds (measured with 1,000 wrk
  // connections).
  static constexpr std::size_t kAcceptBatch = 256;

  net::awaitable<void> accept_loop(tcp::acceptor& acceptor) {
    net::steady_timer backoff(acceptor.get_executor());
    for (;;) {
      auto [error, socket] =
          co_await acceptor.async_accept(*workers[next_worker], net::as_tuple(net::use_awaitable));
      if (!acceptor.is_open() || error == net::error::operation_aborted) co_return;
      if (error) {  // e.g. out of descriptors: let some connections finish
        backoff.expires_after(std::chrono::milliseconds(50));
        co_await backoff.async_wait(net::as_tuple(net::use_awaitable));
        continue;
      }
      admit(std::move(socket));
      for (std::size_t more = 0; more < kAcceptBatch; ++more) {
        tcp::socket queued(*workers[next_worker]);
        acceptor.accept(queued, error);  // the acceptor is non-blocking: would_block when none
        if (error) break;
        admit(std::move(queued));
      }
    }
  }

  // Starts a session on the next worker, unless the connection limit is reached or the server is
  // draining (then the connection is closed at once).
  void admit(tcp::socket socket) {
    if (core.connections.load() >= core.settings.limits.max_connections || core.draining) {
      boost::system::error_code ignored;
      socket.close(ignored);
      return;
    }
    const std::size_t worker = next_worker;
    next_worker = (worker + 1) % workers.size();
    start_session(core, std::move(socket), worker);
  }
};

Server::Server(ServerSettings settings, std::vector<std::shared_ptr<Filter>> filters) {
  unsigned threads = settings.threads;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  impl_ = std::make_unique<Impl>(threads);
  ServerCore& core = impl_->core;
  core.settings = std::move(settings);
  core.settings.threads = threads;
  core.client_address =
      std::make_shared<ClientAddressFilter>(TrustedProxies(core.settings.trusted_proxies));
  core.filters.push_back(core.client_address);
  for (auto& filter : filters) core.filters.push_back(std::move(filter));
  for (const auto& upstream : core.settings.upstreams) {
    core.pools.push_back(std::make_unique<UpstreamPool>(
        upstream, resolve(upstream), core.settings.limits.upstream_idle_connections,
        core.settings.timeouts.upstream_idle, threads));
  }
  const bool has_certificate = !core.settings.tls_certificate_file.empty();
  const bool has_key = !core.settings.tls_private_key_file.empty();
  if (has_certificate != has_key) {
    throw std::invalid_argument("TLS needs both a certificate file and a private key file");
  }
  if (has_certificate) {
    auto& tls = core.tls.emplace(net::ssl::context::tls_server);
    tls.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                    net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                    net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use);
    boost::system::error_code error;
    tls.use_certificate_chain_file(core.settings.tls_certificate_file, error);
    if (error) {
      throw std::invalid_argument("TLS certificate '" + core.settings.tls_certificate_file +
                                  "': " + error.message());
    }
    tls.use_private_key_file(core.settings.tls_private_key_file, net::ssl::context::pem, error);
    if (error) {
      throw std::invalid_argument("TLS private key '" + core.settings.tls_private_key_file +
                                  "': " + error.message());
    }
  }
  for (const auto& text : core.settings.listen) parse_listen_address(text);  // fail early
}

Server::~Server() {
  stop();
}

void Server::start() {
  Impl& impl = *impl_;
  for (const auto& text : impl.core.settings.listen) {
    const tcp::endpoint endpoint = parse_listen_address(text);
    auto acceptor = std::make_unique<tcp::acceptor>(*impl.workers.front());
    boost::system::error_code error;
    acceptor->open(endpoint.protocol(), error);
    if (!error) acceptor->set_option(net::socket_base::reuse_address(true), error);
    if (!error && endpoint.address().is_v6()) {
      // "[::]" means every address, IPv4 included.
      acceptor->set_option(net::ip::v6_only(!endpoint.address().is_unspecified()), error);
    }
    if (!error) acceptor->bind(endpoint, error);
    if (!error) acceptor->listen(net::socket_base::max_listen_connections, error);
    if (!error) acceptor->non_blocking(true, error);
    if (error) throw std::runtime_error("cannot listen on " + text + ": " + error.message());
    impl.ports.push_back(acceptor->local_endpoint().port());
    impl.acceptors.push_back(std::move(acceptor));
  }
  for (auto& acceptor : impl.acceptors) {
    net::co_spawn(acceptor->get_executor(), impl.accept_loop(*acceptor), net::detached);
  }
  for (auto& worker : impl.workers) {
    impl.work.push_back(net::make_work_guard(*worker));
    impl.threads.emplace_back([&context = *worker] { context.run(); });
  }
}

std::vector<std::uint16_t> Server::listening_ports() const {
  return impl_->ports;
}

std::size_t Server::active_connections() const {
  return impl_->core.connections.load();
}

bool Server::drain(std::chrono::milliseconds deadline) {
  Impl& impl = *impl_;
  const auto until = std::chrono::steady_clock::now() + deadline;
  impl.core.draining = true;
  for (auto& acceptor : impl.acceptors) {
    net::post(acceptor->get_executor(), [&acceptor = *acceptor] {
      boost::system::error_code ignored;
      acceptor.close(ignored);
    });
  }
  while (impl.core.connections.load() > 0 && std::chrono::steady_clock::now() < until) {
    {
      std::lock_guard lock(impl.core.sessions_mutex);
      for (auto& [session, weak] : impl.core.sessions) {
        if (auto strong = weak.lock()) strong->close_if_idle();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return impl.core.connections.load() == 0;
}

void Server::stop() {
  if (!impl_) return;
  Impl& impl = *impl_;
  impl.work.clear();
  for (auto& worker : impl.workers) worker->stop();
  for (auto& thread : impl.threads) thread.join();
  impl.threads.clear();
  for (auto& pool : impl.core.pools) pool->close_idle();
}

}  // namespace veil::proxy
