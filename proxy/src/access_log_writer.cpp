#include "veil/proxy/access_log_writer.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace veil::proxy {
namespace {

// Room the batch buffers get up front; they grow to the working size once and keep it.
constexpr std::size_t kInitialBatchBytes = std::size_t{64} << 10;

std::uint64_t count_lines(std::string_view text) {
  return static_cast<std::uint64_t>(std::count(text.begin(), text.end(), '\n'));
}

// Starts a thread with every signal blocked, so that process signals (SIGHUP, SIGTERM, SIGUSR1) go
// to the threads that handle them, and SIGXFSZ from exceeding RLIMIT_FSIZE stays pending on this
// thread instead of killing the process: write(2) then fails with EFBIG, which the writer handles.
template <class Function>
std::thread start_thread_with_signals_blocked(Function function) {
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  std::thread thread(std::move(function));
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return thread;
}

}  // namespace

AccessLogWriter::AccessLogWriter(AccessLogWriterOptions options, AccessLogCounters counters)
    : options_(std::move(options)), counters_(counters) {
  if (options_.path == "-") {
    fd_ = STDOUT_FILENO;
  } else {
    if (const int error = open_path(); error != 0) {
      throw std::runtime_error("access log " + options_.path + ": " + std::strerror(error));
    }
  }
  pending_.reserve(kInitialBatchBytes);
  thread_ = start_thread_with_signals_blocked([this] { run(); });
}

AccessLogWriter::~AccessLogWriter() {
  flush_and_stop();
}

int AccessLogWriter::open_path() {
  const int fd = ::open(options_.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return errno;
  if (owns_fd_) ::close(fd_);
  fd_ = fd;
  owns_fd_ = true;
  return 0;
}

bool AccessLogWriter::submit(std::string_view line) {
  {
    const std::lock_guard lock(mutex_);
    const std::size_t before = pending_.size();
    if (!stopping_ && before + line.size() + 1 <= options_.max_queued_bytes) {
      pending_.append(line);
      pending_ += '\n';
      const bool batch_started = before == 0;
      const bool batch_filled =
          before < options_.batch_bytes && pending_.size() >= options_.batch_bytes;
      if (writer_waiting_ && (batch_started || batch_filled)) wake_writer_.notify_one();
      return true;
    }
  }
  counters_.dropped_lines.inc();
  return false;
}

void AccessLogWriter::reopen() {
  const std::lock_guard lock(mutex_);
  reopen_requested_ = true;
  wake_writer_.notify_one();
}

void AccessLogWriter::flush() {
  std::unique_lock lock(mutex_);
  const auto target = batches_taken_ + (pending_.empty() ? 0 : 1);
  flush_requested_ = true;
  wake_writer_.notify_one();
  batch_done_.wait(lock, [&] { return batches_done_ >= target || stopped_; });
}

void AccessLogWriter::flush_and_stop() {
  {
    const std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    wake_writer_.notify_one();
  }
  thread_.join();
  if (owns_fd_) ::close(fd_);
  owns_fd_ = false;
}

void AccessLogWriter::run() {
  std::string batch;
  batch.reserve(kInitialBatchBytes);
  std::unique_lock lock(mutex_);
  while (true) {
    writer_waiting_ = true;
    wake_writer_.wait(lock, [&] { return !pending_.empty() || reopen_requested_ || stopping_; });
    // A batch has started: let it fill for a moment, so that a busy proxy writes (and wakes this
    // thread) once per batch rather than once per line.
    wake_writer_.wait_for(lock, options_.max_delay, [&] {
      return pending_.size() >= options_.batch_bytes || flush_requested_ || reopen_requested_ ||
             stopping_;
    });
    // After a failed write, give the disk time before trying again; lines queue (and beyond the
    // bound are dropped) meanwhile. Stopping ends the pause: the last batch gets one attempt.
    wake_writer_.wait_until(lock, retry_at_, [&] { return reopen_requested_ || stopping_; });
    writer_waiting_ = false;

    if (reopen_requested_) {
      reopen_requested_ = false;
      lock.unlock();
      if (owns_fd_) {
        if (const int error = open_path(); error != 0) {
          report("access log " + options_.path + ": cannot reopen (" + std::strerror(error) +
                 "); still writing to the old file");
        }
      }
      lock.lock();
    }
    if (pending_.empty()) {
      flush_requested_ = false;
      if (stopping_) break;
      continue;
    }
    flush_requested_ = false;
    batch.swap(pending_);
    ++batches_taken_;
    lock.unlock();
    write_batch(batch);
    batch.clear();
    lock.lock();
    ++batches_done_;
    batch_done_.notify_all();
  }
  stopped_ = true;
  batch_done_.notify_all();
}

bool AccessLogWriter::write_all(const char* data, std::size_t size, std::size_t& written,
                                int& error) {
  written = 0;
  while (written < size) {
    const auto result = ::write(fd_, data + written, size - written);
    if (result > 0) {
      written += static_cast<std::size_t>(result);
    } else if (result < 0 && errno == EINTR) {
      continue;
    } else if (result < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd writable{fd_, POLLOUT, 0};
      ::poll(&writable, 1, 100);  // stdout may be a non-blocking pipe
    } else {
      error = result < 0 ? errno : EIO;
      return false;
    }
  }
  return true;
}

void AccessLogWriter::write_batch(std::string& batch) {
  // A newline first ends a line that an earlier failed write left cut off.
  const std::size_t prefix = starts_mid_line_ ? 1 : 0;
  if (prefix > 0) batch.insert(batch.begin(), '\n');
  const auto lines = count_lines(batch) - prefix;
  std::size_t written = 0;
  int error = 0;
  if (write_all(batch.data(), batch.size(), written, error)) {
    starts_mid_line_ = false;
    counters_.written_lines.inc(lines);
    if (failing_) {
      failing_ = false;
      report("access log " + options_.path + ": writing again after dropping " +
             std::to_string(dropped_in_streak_) + " lines");
      dropped_in_streak_ = 0;
    }
    return;
  }

  const std::string_view done(batch.data(), written);
  const auto last_newline = done.rfind('\n');
  const std::size_t complete = last_newline == std::string_view::npos ? 0 : last_newline + 1;
  const std::size_t partial = written - complete;
  if (partial > 0) {
    // Cut the partial line off so that the file stays one record per line; where that is
    // impossible (not a regular file) the next write starts with a newline instead.
    const off_t end = ::lseek(fd_, 0, SEEK_END);
    starts_mid_line_ = end < 0 || ::ftruncate(fd_, end - static_cast<off_t>(partial)) != 0;
  } else if (written > 0) {
    starts_mid_line_ = false;
  }
  const auto lines_written = complete > 0 ? count_lines(done.substr(0, complete)) - prefix : 0;
  const auto lines_dropped = lines - lines_written;
  counters_.written_lines.inc(lines_written);
  counters_.dropped_lines.inc(lines_dropped);
  counters_.write_errors.inc();
  dropped_in_streak_ += lines_dropped;
  if (!failing_) {
    failing_ = true;
    report("access log " + options_.path + ": write failed (" + std::strerror(error) +
           "); dropping lines until it recovers");
  }
  const std::lock_guard lock(mutex_);
  retry_at_ = std::chrono::steady_clock::now() + options_.retry_after;
}

void AccessLogWriter::report(const std::string& message) const {
  if (options_.report) {
    options_.report(message);
  } else {
    std::fprintf(stderr, "veil: %s\n", message.c_str());
  }
}

}  // namespace veil::proxy
