// One client connection: reads requests (limits and checks before anything reaches the origin),
// runs the filter chain, answers locally or relays to the upstream pool, streaming bodies both ways
// through one bounded buffer, and tunnels Upgrade connections. One coroutine per connection, on the
// connection's worker (one I/O thread with its own io_context).
#if defined(__GNUC__) && !defined(__clang__)
// Asio allocates coroutine frames with aligned_alloc from its own operator new and frees them with
// free; once GCC inlines both ends it reports them as a mismatched pair (a false positive).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <array>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <sys/socket.h>
#include <sys/uio.h>

#include "address_text.hpp"
#include "forwarding.hpp"
#include "head_scanner.hpp"
#include "request_checks.hpp"
#include "server_core.hpp"
#include "text.hpp"

namespace veil::proxy {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using beast::error_code;

constexpr auto nothrow = net::as_tuple(net::use_awaitable);
// Larger pieces mean fewer reads, writes and timer re-arms per byte (each is a system call). Only
// an exchange that is moving a body holds a relay buffer; a connection waiting for its origin or
// for its next request holds at most kHeadReadBytes per direction, so 1,000 keep-alive connections
// cost little memory.
constexpr std::size_t kRelayBufferBytes = 32 * 1024;
constexpr std::size_t kHeadReadBytes = 4 * 1024;
constexpr std::size_t kUpstreamHeaderBytes = 64 * 1024;
constexpr std::size_t kMaxInformationalResponses = 8;
constexpr std::size_t kLingerBytes = 1024 * 1024;
constexpr auto kLingerTime = std::chrono::seconds(2);
// Half a megabyte in relay buffers: long enough to make trips through the event loop rare, short
// enough that other connections on the thread do not wait long.
constexpr unsigned kWritesAtOnceInARow = 16;

// How a body is delimited on the wire.
enum class Framing { none, content_length, chunked, until_close };

// What serve_one() tells the connection loop.
enum class Next { keep_alive, close, abort };

// Writes as much of `pieces` as a plain TCP socket takes without waiting, with one sendmsg, and
// drops it from their front; true when nothing is left. An asynchronous write costs an operation
// and a round trip through the event loop even when the socket could take the data at once, which
// it mostly can. A failure leaves the data for the asynchronous write, which reports it. A TLS
// stream encrypts through its engine, so it always takes the asynchronous path. After
// kWritesAtOnceInARow such writes on a thread one goes through the event loop regardless, so that
// connections whose both sides are always ready let the others on their thread run.
template <class Stream, std::size_t N>
bool write_at_once(Stream& stream, std::array<net::const_buffer, N>& pieces) {
  if constexpr (!std::is_same_v<Stream, tcp::socket>) {
    return false;
  } else {
    thread_local unsigned writes_in_a_row = 0;
    if (++writes_in_a_row == kWritesAtOnceInARow) {
      writes_in_a_row = 0;
      return false;
    }
    std::array<iovec, N> vectors;
    std::size_t count = 0;
    for (const auto& piece : pieces) {
      if (piece.size() > 0) vectors[count++] = {const_cast<void*>(piece.data()), piece.size()};
    }
    msghdr message{};
    message.msg_iov = vectors.data();
    message.msg_iovlen = count;
    const ssize_t sent = ::sendmsg(stream.native_handle(), &message, MSG_DONTWAIT | MSG_NOSIGNAL);
    std::size_t left = sent > 0 ? static_cast<std::size_t>(sent) : 0;
    for (auto& piece : pieces) {
      const std::size_t taken = std::min(left, piece.size());
      piece += taken;
      left -= taken;
    }
    if (net::buffer_size(pieces) == 0) return true;
    writes_in_a_row = 0;
    return false;
  }
}

template <class Stream>
net::awaitable<error_code> write_all(Stream& stream, std::string_view data) {
  std::array<net::const_buffer, 1> pieces{net::buffer(data)};
  if (write_at_once(stream, pieces)) co_return error_code{};
  auto [error, written] = co_await net::async_write(stream, pieces, nothrow);
  co_return error;
}

// One gather write (one system call when the socket takes it all): `head` if it has not been
// sent yet, then `data` as a piece of a body with `framing` (a chunk when chunked), then, when
// `last`, the end of a chunked body (the last chunk, `trailers` as serialised field lines, CRLF).
template <class Stream>
net::awaitable<error_code> write_body(Stream& stream, Framing framing, std::string_view head,
                                      std::string_view data, bool last, std::string_view trailers) {
  const bool chunked = framing == Framing::chunked;
  char size_line[24];
  std::size_t size_line_length = 0;
  if (chunked && !data.empty()) {
    size_line_length = static_cast<std::size_t>(
        std::snprintf(size_line, sizeof size_line, "%zx\r\n", data.size()));
  }
  const bool data_chunk = size_line_length > 0;
  const bool body_end = chunked && last;
  std::array<net::const_buffer, 7> pieces = {
      net::buffer(head),
      net::buffer(size_line, size_line_length),
      net::buffer(data),
      net::buffer("\r\n", data_chunk ? 2 : 0),
      net::buffer("0\r\n", body_end ? 3 : 0),
      net::buffer(trailers.data(), body_end ? trailers.size() : 0),
      net::buffer("\r\n", body_end ? 2 : 0)};
  error_code error;
  if (net::buffer_size(pieces) > 0 && !write_at_once(stream, pieces)) {
    auto [write_error, written] = co_await net::async_write(stream, pieces, nothrow);
    error = write_error;
  }
  co_return error;
}

// The trailer fields a parser holds, minus those not allowed there. The head's fields were moved
// out of the parser into the exchange, so whatever fields it holds now came after the body.
template <class Fields>
std::string serialise_trailers(const Fields& fields) {
  std::string out;
  for (const auto& field : fields) {
    if (!allowed_in_trailer(field.name_string())) continue;
    out += field.name_string();
    out += ": ";
    out += field.value();
    out += "\r\n";
  }
  return out;
}

bool idempotent(http::verb method) {
  switch (method) {
    case http::verb::get:
    case http::verb::head:
    case http::verb::options:
    case http::verb::trace:
    case http::verb::put:
    case http::verb::delete_:
      return true;
    default:
      return false;
  }
}

bool has_no_body(unsigned status) {
  return status / 100 == 1 || status == 204 || status == 304;
}

// Runs the body transforms of all filters in order over each piece of a response body.
class TransformChain {
 public:
  void add(std::unique_ptr<BodyTransform> transform) {
    if (!transform) return;
    changes_body_ = changes_body_ || !transform->reads_only();
    transforms_.push_back(std::move(transform));
  }
  bool empty() const { return transforms_.empty(); }
  // False when every transform only reads: the body passes as it came.
  bool changes_body() const { return changes_body_; }

  // The output for the next `piece` of the body; when `last`, the transforms finish too.
  std::string_view transform(std::string_view piece, bool last) { return run(0, piece, last); }

 private:
  // Transform `first` onwards; at the end of the body each transform's held-back output passes
  // through the ones after it before they finish themselves.
  std::string_view run(std::size_t first, std::string_view piece, bool finishing) {
    if (outputs_.size() < transforms_.size() + 1) outputs_.resize(transforms_.size() + 1);
    std::string_view current = piece;
    for (std::size_t i = first; i < transforms_.size(); ++i) {
      std::string& out = outputs_[i];
      out.clear();
      if (!current.empty()) transforms_[i]->transform(current, out);
      if (finishing) transforms_[i]->finish(out);
      if (!transforms_[i]->reads_only()) current = out;
    }
    return current;
  }

  std::vector<std::unique_ptr<BodyTransform>> transforms_;
  bool changes_body_ = false;
  std::vector<std::string> outputs_;
};

// A relay buffer, taken when an exchange first moves body bytes and given back when it ends. Spare
// buffers wait on a small per-thread stack, so taking one costs neither an allocation nor zeroing
// 32 KiB, and memory follows the number of bodies in flight rather than of connections.
class RelayBuffer {
 public:
  RelayBuffer() = default;
  RelayBuffer(const RelayBuffer&) = delete;
  RelayBuffer& operator=(const RelayBuffer&) = delete;
  ~RelayBuffer() { release(); }

  static constexpr std::size_t size() { return kRelayBufferBytes; }

  char* data() {
    if (!block_) {
      auto& spare = spares();
      if (spare.empty()) {
        block_ = std::make_unique_for_overwrite<char[]>(kRelayBufferBytes);
      } else {
        block_ = std::move(spare.back());
        spare.pop_back();
      }
    }
    return block_.get();
  }

  void release() {
    if (!block_) return;
    auto& spare = spares();
    if (spare.size() < kMaxSpares) spare.push_back(std::move(block_));
    block_.reset();
  }

 private:
  static constexpr std::size_t kMaxSpares = 16;
  static std::vector<std::unique_ptr<char[]>>& spares() {
    thread_local std::vector<std::unique_ptr<char[]>> blocks;
    return blocks;
  }

  std::unique_ptr<char[]> block_;
};

template <class Stream>
class ClientSession final : public SessionControl,
                            public std::enable_shared_from_this<ClientSession<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, tcp::socket>;
  using Clock = std::chrono::steady_clock;
  enum Side : std::size_t { kClient, kUpstream };

  ClientSession(ServerCore& core, Stream stream, IpAddress peer, std::size_t worker)
      : core_(core),
        stream_(std::move(stream)),
        peer_(peer),
        worker_(worker),
        scanner_(core.settings.limits),
        watchdog_(stream_.get_executor(), Clock::time_point::max()) {
    // Body bytes pass through the relay buffer; what accumulates here is a head (bounded by the
    // scanner), or a chunk-size line or trailer, which Beast would otherwise buffer without limit.
    buffer_.max_size(limits().header_total_bytes + kRelayBufferBytes + kHeadReadBytes);
  }

  ~ClientSession() override { core_.connections.fetch_sub(1); }

  void close_if_idle() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      error_code ignored;
      if (self->idle_) self->lowest().cancel(ignored);
    });
  }

  net::awaitable<void> run() {
    {
      std::lock_guard lock(core_.sessions_mutex);
      core_.sessions.emplace(this, this->weak_from_this());
    }
    struct Unregister {
      ServerCore& core;
      SessionControl* session;
      ~Unregister() {
        std::lock_guard lock(core.sessions_mutex);
        core.sessions.erase(session);
      }
    } unregister{core_, this};
    struct StopWatching {
      ClientSession& session;
      ~StopWatching() {
        session.finished_ = true;
        session.watchdog_.cancel();
      }
    } stop_watching{*this};
    net::co_spawn(
        stream_.get_executor(),
        [self = this->shared_from_this()]() -> net::awaitable<void> { co_await self->watch(); },
        net::detached);

    if constexpr (kTls) {
      expire_after(kClient, timeouts().tls_handshake);
      auto [error] = co_await stream_.async_handshake(net::ssl::stream_base::server, nothrow);
      if (error) co_return;
    }
    Next next = Next::keep_alive;
    while (next == Next::keep_alive) next = co_await serve_one();
    if (next == Next::close) co_await close_gracefully();
    error_code ignored;
    lowest().close(ignored);
  }

 private:
  tcp::socket& lowest() { return beast::get_lowest_layer(stream_); }

  // ---- timeouts ----
  // Beast's stream timeouts arm a timer before every read and write and cancel it after: a handler
  // allocation, timer-queue work and a cancelled handler each time, 13% of all instructions with
  // 1,000 connections (callgrind). Here each side of the session has a deadline that I/O only
  // moves, and one timer per session (watch) wakes at the earliest deadline; a side whose deadline
  // has passed is closed, which fails its pending operations, and is marked as timed out. nginx
  // keeps its timers in the same lazy way.
  // Only the deadline of the side the session waits on counts (a client that has sent its request
  // is not timed out while the origin takes its time), as Beast's timeouts count only while an
  // operation is pending; a tunnel waits on both sides at once.
  void expire_after(Side side, Clock::duration timeout) {
    const Clock::time_point deadline = Clock::now() + timeout;
    deadlines_[side] = deadline;
    timed_out_[side] = false;
    waiting_on_ = side;
    if (deadline < watchdog_.expiry()) watchdog_.expires_at(deadline);  // watch() waits less
  }

  bool counts(Side side) const { return tunnel_ || side == waiting_on_; }

  bool timed_out(Side side) const { return timed_out_[side]; }

  net::awaitable<void> watch() {
    for (;;) {
      auto [error] = co_await watchdog_.async_wait(nothrow);
      if (finished_) co_return;
      if (error) continue;  // moved to an earlier deadline
      const Clock::time_point now = Clock::now();
      Clock::time_point next = Clock::time_point::max();
      for (const Side side : {kClient, kUpstream}) {
        if (!counts(side)) continue;
        if (deadlines_[side] > now) {
          next = std::min(next, deadlines_[side]);
          continue;
        }
        deadlines_[side] = Clock::time_point::max();
        timed_out_[side] = true;
        error_code ignored;
        if (side == kClient) lowest().close(ignored);
        if (side == kUpstream && upstream_) upstream_->close(ignored);
      }
      watchdog_.expires_at(next);
    }
  }
  const Timeouts& timeouts() const { return core_.settings.timeouts; }
  const Limits& limits() const { return core_.settings.limits; }

  std::string_view buffered() const {
    const auto data = buffer_.data();
    return {static_cast<const char*>(data.data()), data.size()};
  }

  net::awaitable<error_code> read_more() {
    // Heads are small: reading them in small steps keeps an idle connection's buffer small too.
    auto [error, read] = co_await stream_.async_read_some(buffer_.prepare(kHeadReadBytes), nothrow);
    buffer_.commit(read);
    co_return error;
  }

  void release_buffers() {
    if (buffer_.capacity() > kHeadReadBytes) buffer_.shrink_to_fit();
    if (upstream_buffer_.capacity() > kHeadReadBytes) upstream_buffer_.shrink_to_fit();
  }

  void skip_empty_lines() { buffer_.consume(leading_empty_lines(buffered())); }

  // Reads, checks and answers one request.
  net::awaitable<Next> serve_one() {
    // A new connection's first head, from the accept on, is under the header timeout: one that
    // sends nothing must not hold a connection slot for the keep-alive idle time (nginx's
    // client_header_timeout does the same).
    const bool first_request = std::exchange(first_request_, false);
    if (first_request) expire_after(kClient, timeouts().header);
    skip_empty_lines();
    while (buffer_.size() == 0) {
      if (core_.draining) co_return Next::close;
      release_buffers();
      idle_ = true;
      if (!first_request) expire_after(kClient, timeouts().keep_alive_idle);
      const error_code error = co_await read_more();
      idle_ = false;
      if (error) co_return Next::abort;
      skip_empty_lines();
    }

    // The exchange lives in the session rather than in this coroutine's frame: Asio recycles
    // frames of up to 1,020 bytes, and with it inside this frame is larger (a malloc and a free of
    // over 1 KiB per request, past glibc's per-thread cache). It ends with this call, as a local
    // would: its raw addresses are kept no longer than the exchange.
    Exchange& exchange = exchange_.emplace();
    struct EndExchange {
      std::optional<Exchange>& exchange;
      ~EndExchange() { exchange.reset(); }
    } end_exchange{exchange_};
    exchange.received_at = std::chrono::system_clock::now();
    exchange.started = std::chrono::steady_clock::now();
    exchange.peer_address = peer_;
    exchange.client_address = peer_;
    exchange.tls = kTls;
    close_after_ = false;
    upstream_.reset();
    parser_.reset();

    // The whole head under one deadline: a client trickling bytes cannot hold the connection.
    if (!first_request) expire_after(kClient, timeouts().header);
    scanner_.reset();
    for (;;) {
      const auto scanned = scanner_.scan(buffered());
      if (scanned == HeadScanner::Result::complete) break;
      if (scanned == HeadScanner::Result::rejected) {
        co_return co_await reject(exchange, {scanner_.status(), scanner_.reason()});
      }
      if (co_await read_more()) co_return Next::abort;  // timeout or gone: nginx closes silently
    }

    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(limits().header_total_bytes + 2));
    parser_->body_limit(limits().request_body_bytes);
    error_code parse_error;
    const std::size_t head_size = scanner_.head_size();
    const std::size_t consumed =
        parser_->put(net::buffer(buffer_.data().data(), head_size), parse_error);
    if (!parse_error && (consumed != head_size || !parser_->is_header_done())) {
      parse_error = http::error::bad_value;
    }
    if (parse_error) co_return co_await reject(exchange, rejection_for_parse_error(parse_error));
    buffer_.consume(head_size);

    exchange.request = std::move(parser_->get().base());
    if (auto rejection = check_request_head(exchange.request)) {
      co_return co_await reject(exchange, *rejection);
    }
    if (const auto expect = exchange.request.find(http::field::expect);
        expect != exchange.request.end() && !iequals(expect->value(), "100-continue")) {
      co_return co_await reject(exchange, {417, "unsupported expectation"});
    }

    for (const auto& filter : core_.filters) {
      if (!run_hook(exchange, [&] { filter->on_request(exchange); })) {
        co_return co_await fail(exchange, 500, "filter_error", "internal error");
      }
      if (exchange.local_handler) break;
    }
    if (exchange.local_handler) co_return co_await answer_locally(exchange);
    co_return co_await proxy(exchange);
  }

  // Runs a filter hook; false if it threw.
  template <class Hook>
  static bool run_hook(Exchange& exchange, Hook&& hook) {
    try {
      hook();
      return true;
    } catch (const std::exception&) {
      exchange.error = "filter_error";
      return false;
    }
  }

  void complete(Exchange& exchange) {
    relay_buffer_.release();
    exchange.completed = std::chrono::steady_clock::now();
    for (const auto& filter : core_.filters)
      run_hook(exchange, [&] { filter->on_complete(exchange); });
  }

  bool keep_alive() const {
    return parser_ && parser_->is_done() && parser_->keep_alive() && !close_after_ &&
           !core_.draining;
  }

  unsigned client_version() const { return parser_ ? parser_->get().version() : 11; }

  // Connection management fields of a response to the client; true if the connection stays open.
  bool set_connection_fields(ResponseHead& head) {
    const bool keep = keep_alive();
    head.erase(http::field::connection);
    if (!keep) {
      head.set(http::field::connection, "close");
    } else if (client_version() == 10) {
      head.set(http::field::connection, "keep-alive");
    }
    return keep;
  }

  // Sends a complete response with a Content-Length body (none for HEAD, 1xx, 204, 304).
  net::awaitable<Next> send_complete(Exchange& exchange, std::string_view body) {
    ResponseHead& head = exchange.response;
    const bool head_request = parser_ && exchange.request.method() == http::verb::head;
    if (!has_no_body(head.result_int()))
      head.set(http::field::content_length, std::to_string(body.size()));
    const bool keep = set_connection_fields(head);
    scratch_.clear();
    serialise_response_head(head, scratch_);
    if (!head_request && !has_no_body(head.result_int())) {
      scratch_ += body;
      exchange.response_body_bytes = body.size();
    }
    expire_after(kClient, timeouts().body_idle);
    const error_code error = co_await write_all(stream_, scratch_);
    exchange.aborted = static_cast<bool>(error);
    complete(exchange);
    if (error) co_return Next::abort;
    co_return keep ? Next::keep_alive : Next::close;
  }

  // A response made by the core itself (errors); the connection closes unless `may_keep_alive`.
  net::awaitable<Next> fail(Exchange& exchange, unsigned status, std::string_view error,
                            std::string_view message, bool may_keep_alive = false) {
    if (exchange.error.empty()) exchange.error = error;
    if (!may_keep_alive) close_after_ = true;
    exchange.response = ResponseHead{};
    exchange.response.result(status);
    exchange.response.set(http::field::content_type, "text/plain; charset=utf-8");
    exchange.response.set(http::field::cache_control, "no-store");
    std::string body(message);
    body += '\n';
    co_return co_await send_complete(exchange, body);
  }

  net::awaitable<Next> reject(Exchange& exchange, Rejection rejection) {
    co_return co_await fail(exchange, rejection.status, "bad_request", rejection.reason);
  }

  // Sends "100 Continue" if the client waits for it before sending the body.
  net::awaitable<error_code> continue_if_expected(const Exchange& exchange) {
    if (parser_->is_done() || client_version() != 11 ||
        exchange.request.find(http::field::expect) == exchange.request.end()) {
      co_return error_code{};
    }
    expire_after(kClient, timeouts().body_idle);
    co_return co_await write_all(stream_, std::string_view("HTTP/1.1 100 Continue\r\n\r\n"));
  }

  enum class BodyRead { data, done, too_large, malformed, failed };

  char* relay_buffer() { return relay_buffer_.data(); }

  // The next piece of the request body, in `piece`.
  net::awaitable<BodyRead> next_request_piece(Exchange& exchange, std::string_view& piece) {
    piece = {};
    buffer_.reserve(kRelayBufferBytes);  // as for upstream_buffer_: whole pieces per read
    while (!parser_->is_done()) {
      auto& body = parser_->get().body();
      body.data = relay_buffer();
      body.size = kRelayBufferBytes;
      expire_after(kClient, timeouts().body_idle);
      auto [error, read] = co_await http::async_read_some(stream_, buffer_, *parser_, nothrow);
      if (error == http::error::need_buffer) error = {};
      if (error == http::error::body_limit) co_return BodyRead::too_large;
      // Any other parse error (bad chunk line or trailer, chunk line overflowing the buffer) is
      // the client's fault and gets an answer; a transport error or EOF mid-body gets none.
      if (error && error != http::error::partial_message &&
          error.category() == make_error_code(http::error::bad_chunk).category()) {
        co_return BodyRead::malformed;
      }
      if (error) co_return BodyRead::failed;
      const std::size_t got = kRelayBufferBytes - body.size;
      if (got > 0) {
        piece = {relay_buffer(), got};
        exchange.request_body_bytes += got;
        co_return BodyRead::data;
      }
    }
    co_return BodyRead::done;
  }

  static Rejection body_rejection(BodyRead read) {
    return read == BodyRead::too_large ? Rejection{413, "request body too large"}
                                       : Rejection{400, "invalid chunked body"};
  }

  // Trailer fields the client sent after a chunked body.
  std::string request_trailers() const { return serialise_trailers(parser_->get()); }

  net::awaitable<Next> answer_locally(Exchange& exchange) {
    LocalRequest request;
    request.method = std::string(exchange.request.method_string());
    request.target = std::string(exchange.request.target());
    for (const auto& field : exchange.request) {
      request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    if (co_await continue_if_expected(exchange)) co_return Next::abort;
    for (;;) {
      std::string_view piece;
      const BodyRead read = co_await next_request_piece(exchange, piece);
      if (read == BodyRead::done) break;
      if (read == BodyRead::too_large || read == BodyRead::malformed)
        co_return co_await reject(exchange, body_rejection(read));
      if (read == BodyRead::failed) {
        exchange.aborted = true;
        complete(exchange);
        co_return Next::abort;
      }
      request.body += piece;
    }

    LocalResponse response;
    if (!run_hook(exchange, [&] { response = exchange.local_handler(request); })) {
      co_return co_await fail(exchange, 500, "handler_error", "internal error", true);
    }
    exchange.response = ResponseHead{};
    exchange.response.result(response.status);
    for (auto& [name, value] : response.headers) exchange.response.insert(name, value);
    remove_hop_by_hop(exchange.response, false);
    for (const auto& filter : core_.filters) {
      if (!run_hook(exchange, [&] { filter->on_response_head(exchange); })) {
        co_return co_await fail(exchange, 500, "filter_error", "internal error");
      }
    }
    co_return co_await send_complete(exchange, response.body);
  }

  // ---- upstream ----

  enum class UpstreamResult { ok, connect_failed, timeout, failed };

  // A connection to the upstream: a pooled one when available (`pooled` tells which).
  net::awaitable<UpstreamResult> connect_upstream(UpstreamPool& pool, bool& pooled) {
    upstream_buffer_.clear();
    // Room for a response head and the start of its body; a Content-Length body is then read
    // straight into the relay buffer (relay_response), so a connection waiting for its origin
    // holds no more than this.
    upstream_buffer_.reserve(kHeadReadBytes);
    if (auto idle = pool.take(worker_)) {
      upstream_.emplace(std::move(*idle));
      pooled = true;
      co_return UpstreamResult::ok;
    }
    pooled = false;
    // Each address in turn, each attempt under the connect timeout; a timeout ends the search.
    error_code error = net::error::host_not_found;
    for (const tcp::endpoint& endpoint : pool.endpoints()) {
      upstream_.emplace(stream_.get_executor());
      expire_after(kUpstream, timeouts().upstream_connect);
      std::tie(error) = co_await upstream_->async_connect(endpoint, nothrow);
      if (!error) break;
      if (timed_out(kUpstream)) co_return UpstreamResult::timeout;
    }
    if (error) co_return UpstreamResult::connect_failed;
    error_code ignored;
    upstream_->set_option(tcp::no_delay(true), ignored);
    co_return UpstreamResult::ok;
  }

  net::awaitable<Next> upstream_failed(Exchange& exchange, UpstreamResult result) {
    upstream_.reset();
    switch (result) {
      case UpstreamResult::timeout:
        co_return co_await fail(exchange, 504, "upstream_timeout",
                                "the site did not answer in time", parser_->is_done());
      case UpstreamResult::connect_failed:
        co_return co_await fail(exchange, 502, "upstream_connect", "the site could not be reached",
                                parser_->is_done());
      default:
        co_return co_await fail(exchange, 502, "upstream_bad_response",
                                "the site sent an invalid response", parser_->is_done());
    }
  }

  net::awaitable<error_code> read_response_head(http::verb method) {
    response_parser_.emplace();
    response_parser_->header_limit(kUpstreamHeaderBytes);
    response_parser_->body_limit(boost::none);
    if (method == http::verb::head) response_parser_->skip(true);
    expire_after(kUpstream, timeouts().upstream_read);
    auto [error, read] =
        co_await http::async_read_header(*upstream_, upstream_buffer_, *response_parser_, nothrow);
    co_return error;
  }

  // Why an upstream operation failed.
  UpstreamResult classify() const {
    return timed_out(kUpstream) ? UpstreamResult::timeout : UpstreamResult::failed;
  }

  net::awaitable<Next> proxy(Exchange& exchange) {
    UpstreamPool* pool = core_.route(exchange.request[http::field::host]);
    if (!pool) {
      co_return co_await fail(exchange, 404, "no_route", "no site is served for this host",
                              parser_->is_done());
    }
    exchange.upstream_name = pool->upstream().name;

    ForwardingContext forwarding;
    forwarding.mode = core_.settings.forward_client_ip;
    forwarding.peer_trusted = core_.client_address->trusted().contains(peer_);
    forwarding.tls = kTls;
    forwarding.peer_address = peer_;
    forwarding.client_address = exchange.client_address;
    forwarding.anonymised_client_address = exchange.anonymised_client_address;
    ForwardedShape shape;
    shape.upgrade = parser_->upgrade();
    Framing request_framing = Framing::none;
    if (!parser_->is_done()) {
      request_framing = parser_->chunked() ? Framing::chunked : Framing::content_length;
      if (request_framing == Framing::chunked) {
        shape.framing = BodyFraming::chunked;
      } else {
        shape.framing = BodyFraming::content_length;
        shape.content_length = *parser_->content_length();
      }
    }
    std::string request_head;
    serialise_forwarded_request(exchange.request, pool->upstream(), shape, forwarding,
                                request_head);
    const http::verb method = exchange.request.method();
    const bool retryable = idempotent(method) && request_framing == Framing::none;

    for (int attempt = 0;; ++attempt) {
      bool pooled = false;
      const UpstreamResult connected = co_await connect_upstream(*pool, pooled);
      if (connected != UpstreamResult::ok) co_return co_await upstream_failed(exchange, connected);
      const bool may_retry = pooled && retryable && attempt == 0;

      expire_after(kUpstream, timeouts().upstream_read);
      if (request_framing == Framing::none) {
        if (const error_code error = co_await write_all(*upstream_, request_head)) {
          if (may_retry) continue;
          co_return co_await upstream_failed(exchange, classify());
        }
      } else if (const auto ended =
                     co_await send_request_body(exchange, request_head, request_framing)) {
        co_return *ended;
      }

      error_code error = co_await read_response_head(method);
      // Informational responses: 100 is ours to send (Expect is answered here), others are relayed.
      for (std::size_t informational = 0;
           !error && response_parser_->get().result_int() / 100 == 1 &&
           response_parser_->get().result() != http::status::switching_protocols;
           ++informational) {
        if (informational == kMaxInformationalResponses) {
          error = http::error::bad_status;
          break;
        }
        if (response_parser_->get().result() != http::status::continue_) {
          ResponseHead interim = response_parser_->get().base();
          remove_hop_by_hop(interim, false);
          scratch_.clear();
          serialise_response_head(interim, scratch_);
          expire_after(kClient, timeouts().body_idle);
          if (co_await write_all(stream_, scratch_)) co_return abandon(exchange);
        }
        error = co_await read_response_head(method);
      }
      if (error) {
        const bool stale =
            error == http::error::end_of_stream || error == net::error::connection_reset;
        if (may_retry && stale) continue;
        co_return co_await upstream_failed(exchange, classify());
      }
      break;
    }

    if (response_parser_->get().result() == http::status::switching_protocols) {
      co_return co_await switch_protocols(exchange, shape.upgrade);
    }
    co_return co_await relay_response(exchange, *pool);
  }

  // Streams the request body to the upstream behind `head`, the head going out with the first
  // piece in one write. Nothing when all of it went; otherwise how the exchange ended.
  net::awaitable<std::optional<Next>> send_request_body(Exchange& exchange, std::string_view head,
                                                        Framing framing) {
    std::string_view unsent_head = head;
    if (co_await continue_if_expected(exchange)) co_return abandon(exchange);
    for (;;) {
      std::string_view piece;
      const BodyRead read = co_await next_request_piece(exchange, piece);
      if (read == BodyRead::done) break;
      if (read == BodyRead::too_large || read == BodyRead::malformed) {
        upstream_.reset();  // the origin never sees the end of this body
        co_return co_await reject(exchange, body_rejection(read));
      }
      if (read == BodyRead::failed) co_return abandon(exchange);
      expire_after(kUpstream, timeouts().upstream_read);
      if (const error_code error =
              co_await write_body(*upstream_, framing, unsent_head, piece, false, {})) {
        close_after_ = true;
        co_return co_await upstream_failed(exchange, classify());
      }
      unsent_head = {};
    }
    expire_after(kUpstream, timeouts().upstream_read);
    if (const error_code error =
            co_await write_body(*upstream_, framing, unsent_head, {}, true, request_trailers())) {
      co_return co_await upstream_failed(exchange, classify());
    }
    co_return std::nullopt;
  }

  // Gives up on an exchange whose client went away or whose response had already started: no
  // response can be sent any more; the connection is dropped.
  Next abandon(Exchange& exchange) {
    upstream_.reset();
    exchange.aborted = true;
    complete(exchange);
    return Next::abort;
  }

  net::awaitable<Next> relay_response(Exchange& exchange, UpstreamPool& pool) {
    auto& parser = *response_parser_;
    exchange.response = std::move(parser.get().base());
    remove_hop_by_hop(exchange.response, false);
    for (const auto& filter : core_.filters) {
      if (!run_hook(exchange, [&] { filter->on_response_head(exchange); })) {
        upstream_.reset();
        co_return co_await fail(exchange, 500, "filter_error", "internal error");
      }
    }

    const unsigned status = exchange.response.result_int();
    const bool bodiless = exchange.request.method() == http::verb::head || has_no_body(status);
    TransformChain transforms;
    if (!bodiless) {
      for (const auto& filter : core_.filters) {
        if (!run_hook(exchange,
                      [&] { transforms.add(filter->response_body_transform(exchange)); })) {
          upstream_.reset();
          co_return co_await fail(exchange, 500, "filter_error", "internal error");
        }
      }
    }

    Framing framing = Framing::none;
    if (bodiless) {
      if (const auto length = parser.content_length()) {
        exchange.response.set(http::field::content_length, std::to_string(*length));
      }
    } else if (!transforms.changes_body() && parser.content_length()) {
      framing = Framing::content_length;
      exchange.response.set(http::field::content_length, std::to_string(*parser.content_length()));
    } else if (client_version() == 11) {
      framing =
          Framing::chunked;  // re-frames close-delimited bodies so the client keeps its connection
      exchange.response.set(http::field::transfer_encoding, "chunked");
    } else {
      framing = Framing::until_close;
      close_after_ = true;
    }
    const bool keep = set_connection_fields(exchange.response);
    scratch_.clear();
    serialise_response_head(exchange.response, scratch_);
    // The head goes out with the first piece of the body (a whole small body: one write).
    writer_ = {&exchange, &transforms, framing, scratch_, false};

    if (!bodiless && !parser.chunked() && parser.content_length()) {
      if (!co_await relay_sized_body(*parser.content_length(), pool)) {
        co_return abandon(exchange);
      }
    } else if (!bodiless) {
      if (!parser.is_done()) upstream_buffer_.reserve(kRelayBufferBytes);  // Beast reads that much
      while (!parser.is_done()) {
        auto& body = parser.get().body();
        body.data = relay_buffer();
        body.size = kRelayBufferBytes;
        expire_after(kUpstream, timeouts().upstream_read);
        auto [error, read] =
            co_await http::async_read_some(*upstream_, upstream_buffer_, parser, nothrow);
        if (error == http::error::need_buffer) error = {};
        if (error == http::error::end_of_stream && parser.is_done()) error = {};
        if (error) {
          exchange.error = timed_out(kUpstream) ? "upstream_timeout" : "upstream_reset";
          co_return abandon(exchange);
        }
        const std::string_view piece(relay_buffer(), kRelayBufferBytes - body.size);
        const std::string trailers =
            parser.is_done() && parser.chunked() ? serialise_trailers(parser.get()) : std::string();
        if (parser.is_done()) release_upstream(pool);
        const bool sent = co_await send_body(piece, parser.is_done(), trailers);
        if (!sent) co_return abandon(exchange);
      }
    }
    release_upstream(pool);
    if (!writer_.ended) {
      const bool sent = co_await send_body({}, true, {});
      if (!sent) co_return abandon(exchange);
    }
    complete(exchange);
    co_return keep ? Next::keep_alive : Next::close;
  }

  // Once the origin's response has been read to its end, its connection goes back to the pool (if
  // it can be reused) without waiting for the client to take the last bytes: held longer, with
  // many slow clients, the pool runs dry and connections are opened and closed per request.
  void release_upstream(UpstreamPool& pool) {
    if (!upstream_) return;
    const auto& parser = *response_parser_;
    if (parser.keep_alive() && !parser.need_eof() && upstream_buffer_.size() == 0) {
      pool.give_back(worker_, std::move(*upstream_));
    }
    upstream_.reset();
  }

  // The client side of a relayed response: what is left to send and how.
  struct ResponseWriter {
    Exchange* exchange;
    TransformChain* transforms;
    Framing framing;
    std::string_view unsent_head;
    bool ended;
  };

  // Sends `piece` of the response body through the transforms, after the head if it is still
  // unsent; `last` ends the body (with `trailers`, serialised field lines, when chunked).
  net::awaitable<bool> send_body(std::string_view piece, bool last, std::string_view trailers) {
    if (!writer_.transforms->empty()) piece = writer_.transforms->transform(piece, last);
    expire_after(kClient, timeouts().body_idle);
    const error_code error =
        co_await write_body(stream_, writer_.framing, writer_.unsent_head, piece, last, trailers);
    if (error) co_return false;
    writer_.unsent_head = {};
    writer_.ended = last;
    writer_.exchange->response_body_bytes += piece.size();
    co_return true;
  }

  // Relays a body of `length` bytes through the relay buffer: what came with the head, topped up
  // with what the origin has already sent, goes out in one write; then a read and a write per
  // buffer-full. False if either side failed.
  net::awaitable<bool> relay_sized_body(std::uint64_t length, UpstreamPool& pool) {
    std::uint64_t remaining = length;
    char* const relay = relay_buffer();
    while (remaining > 0) {
      const auto wanted =
          static_cast<std::size_t>(std::min<std::uint64_t>(RelayBuffer::size(), remaining));
      std::size_t filled = 0;
      if (upstream_buffer_.size() > 0) {
        const auto data = upstream_buffer_.data();
        filled = std::min(data.size(), wanted);
        std::memcpy(relay, data.data(), filled);
        upstream_buffer_.consume(filled);
        // Top up without waiting: a slow origin's first bytes must not wait for its next ones.
        if (filled < wanted) filled += read_available(relay + filled, wanted - filled);
      } else {
        // Mostly the origin has sent the next bytes while the last ones went to the client: then
        // they are taken without a trip through the event loop.
        filled = read_available(relay, wanted);
      }
      if (filled == 0) {
        expire_after(kUpstream, timeouts().upstream_read);
        auto [error, read] =
            co_await upstream_->async_read_some(net::buffer(relay, wanted), nothrow);
        if (error) {
          writer_.exchange->error = timed_out(kUpstream) ? "upstream_timeout" : "upstream_reset";
          co_return false;
        }
        filled = read;
      }
      remaining -= filled;
      if (remaining == 0) release_upstream(pool);
      const bool sent = co_await send_body({relay, filled}, remaining == 0, {});
      if (!sent) co_return false;
    }
    co_return true;
  }

  // What the upstream socket holds right now, up to `size` bytes, without waiting; 0 if nothing
  // (or an error, which the next read reports).
  std::size_t read_available(char* data, std::size_t size) {
    const auto received = ::recv(upstream_->native_handle(), data, size, MSG_DONTWAIT);
    return received > 0 ? static_cast<std::size_t>(received) : 0;
  }

  // ---- Upgrade tunnel ----

  net::awaitable<Next> switch_protocols(Exchange& exchange, bool requested) {
    if (!requested) {
      co_return co_await upstream_failed(exchange, UpstreamResult::failed);
    }
    exchange.response = std::move(response_parser_->get().base());
    remove_hop_by_hop(exchange.response, true);
    exchange.response.set(http::field::connection, "upgrade");
    for (const auto& filter : core_.filters) {
      if (!run_hook(exchange, [&] { filter->on_response_head(exchange); }))
        co_return abandon(exchange);
    }
    scratch_.clear();
    serialise_response_head(exchange.response, scratch_);
    expire_after(kClient, timeouts().body_idle);
    if (co_await write_all(stream_, scratch_)) co_return abandon(exchange);

    // Bytes either side sent right after the heads were read along with them.
    if (buffer_.size() > 0) {
      expire_after(kUpstream, timeouts().tunnel_idle);
      if (co_await write_all(*upstream_, buffered())) co_return abandon(exchange);
      exchange.request_body_bytes += buffer_.size();
      buffer_.consume(buffer_.size());
    }
    if (upstream_buffer_.size() > 0) {
      const auto data = upstream_buffer_.data();
      expire_after(kClient, timeouts().tunnel_idle);
      if (co_await write_all(
              stream_, std::string_view(static_cast<const char*>(data.data()), data.size()))) {
        co_return abandon(exchange);
      }
      exchange.response_body_bytes += data.size();
      upstream_buffer_.consume(data.size());
    }
    using namespace net::experimental::awaitable_operators;
    tunnel_ = true;
    co_await (pump(stream_, kClient, *upstream_, kUpstream, exchange.request_body_bytes) &&
              pump(*upstream_, kUpstream, stream_, kClient, exchange.response_body_bytes));
    upstream_.reset();
    complete(exchange);
    co_return Next::abort;
  }

  // Copies `from` to `to` until `from` ends; then half-closes `to` (plain TCP) so the other side
  // sees the end too. An error on either side closes both.
  template <class From, class To>
  net::awaitable<void> pump(From& from, Side from_side, To& to, Side to_side,
                            std::uint64_t& counter) {
    std::array<char, kRelayBufferBytes> chunk;
    for (;;) {
      expire_after(from_side, timeouts().tunnel_idle);
      auto [error, read] = co_await from.async_read_some(net::buffer(chunk), nothrow);
      if (read > 0) {
        expire_after(to_side, timeouts().tunnel_idle);
        if (co_await write_all(to, std::string_view(chunk.data(), read))) break;
        counter += read;
      }
      if (error == net::error::eof && std::is_same_v<To, tcp::socket>) {
        error_code ignored;
        beast::get_lowest_layer(to).shutdown(tcp::socket::shutdown_send, ignored);
        co_return;
      }
      if (error) break;
    }
    error_code ignored;
    beast::get_lowest_layer(from).close(ignored);
    beast::get_lowest_layer(to).close(ignored);
  }

  // Ends the connection without destroying a response the client has not read yet: half-close, then
  // discard what the client still sends for a moment (nginx's lingering close), so the kernel does
  // not answer unread bytes with a reset.
  net::awaitable<void> close_gracefully() {
    expire_after(kClient, kLingerTime);
    if constexpr (kTls) {
      auto [error] = co_await stream_.async_shutdown(nothrow);
    } else {
      error_code error;
      lowest().shutdown(tcp::socket::shutdown_send, error);
      std::size_t discarded = 0;
      std::array<char, 4096> sink;
      while (!error && discarded < kLingerBytes) {
        auto [read_error, read] = co_await lowest().async_read_some(net::buffer(sink), nothrow);
        error = read_error;
        discarded += read;
      }
    }
  }

  ServerCore& core_;
  Stream stream_;
  const IpAddress peer_;
  const std::size_t
      worker_;  // whose thread runs this session, and whose pooled connections it uses
  beast::flat_buffer buffer_;
  HeadScanner scanner_;
  std::optional<http::request_parser<http::buffer_body>> parser_;
  std::optional<tcp::socket> upstream_;
  beast::flat_buffer upstream_buffer_;
  std::optional<http::response_parser<http::buffer_body>> response_parser_;
  RelayBuffer relay_buffer_;
  ResponseWriter writer_{};
  std::optional<Exchange> exchange_;  // the one serve_one() is serving
  std::string scratch_;
  bool idle_ = false;
  bool close_after_ = false;
  bool first_request_ = true;
  net::steady_timer watchdog_;
  std::array<Clock::time_point, 2> deadlines_{Clock::time_point::max(), Clock::time_point::max()};
  std::array<bool, 2> timed_out_{};
  Side waiting_on_ = kClient;
  bool tunnel_ = false;
  bool finished_ = false;  // run() has returned: watch() ends
};

template <class Stream>
void spawn(std::shared_ptr<ClientSession<Stream>> session, const net::any_io_executor& executor) {
  net::co_spawn(
      executor, [session]() -> net::awaitable<void> { co_await session->run(); }, net::detached);
}

}  // namespace

void start_session(ServerCore& core, tcp::socket socket, std::size_t worker) {
  error_code error;
  const auto remote = socket.remote_endpoint(error);
  if (error) return;
  socket.set_option(tcp::no_delay(true), error);
  const IpAddress peer = unmapped(remote.address());
  const auto executor = socket.get_executor();
  core.connections.fetch_add(1);
  if (core.tls) {
    using TlsStream = beast::ssl_stream<tcp::socket>;
    spawn(std::make_shared<ClientSession<TlsStream>>(core, TlsStream(std::move(socket), *core.tls),
                                                     peer, worker),
          executor);
  } else {
    spawn(std::make_shared<ClientSession<tcp::socket>>(core, std::move(socket), peer, worker),
          executor);
  }
}

UpstreamPool* ServerCore::route(std::string_view host) const {
  const std::string name = host_without_port(host);
  UpstreamPool* best = nullptr;
  std::size_t best_match = 0;
  UpstreamPool* fallback = nullptr;
  for (const auto& pool : pools) {
    const auto& names = pool->upstream().server_names;
    if (names.empty() && !fallback) fallback = pool.get();
    for (const auto& server_name : names) {
      const std::size_t match = server_name_match(server_name, name);
      if (match > best_match) {
        best = pool.get();
        best_match = match;
      }
    }
  }
  return best ? best : fallback;
}

}  // namespace veil::proxy
