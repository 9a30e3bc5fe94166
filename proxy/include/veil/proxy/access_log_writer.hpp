// Appends finished access-log lines to a file (or stdout) from a background thread, so that the
// event loop never waits for the disk.
//
// Producers (the io threads) copy a line into a bounded in-memory batch under a short lock: no
// system call, no allocation once the batch buffers have grown to their working size. When the
// batch is full (the writer has fallen behind) the line is counted as dropped instead of stalling
// traffic. The writer thread swaps the batch out and writes it with one write(2). Lines keep their
// submission order. Under load the writer is woken once per batch (when its first line arrives and
// when it reaches `batch_bytes`), not once per line: a wake-up is a futex call and a context
// switch, which cost more than formatting the line.
//
// Write errors (disk full, file too large, I/O error) never stop the proxy: the lines of the failed
// batch are counted as dropped, a partial line is cut off again, and the writer retries after
// `retry_after`, carrying on by itself when space returns.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "veil/proxy/metrics.hpp"

namespace veil::proxy {

struct AccessLogWriterOptions {
  std::string path;  // "-" writes to standard output (never closed or reopened)
  std::size_t max_queued_bytes = std::size_t{8} << 20;
  std::size_t batch_bytes = std::size_t{64} << 10;  // written as soon as this much is queued
  std::chrono::milliseconds max_delay{200};         // a line reaches the file at most this late
  std::chrono::milliseconds retry_after{1000};      // pause after a failed write
  // Called on the writer thread for the first failure of a streak, on recovery and on a failed
  // reopen; the message names the path and the error, never a log line. Empty = standard error.
  std::function<void(const std::string&)> report = {};
};

// Where the writer counts its lines (usually the ProxyMetrics series of the same names).
struct AccessLogCounters {
  Counter& written_lines;
  Counter& dropped_lines;
  Counter& write_errors;
};

class AccessLogWriter {
 public:
  // Opens (creates, appends to) the file at once, so that a bad path fails at startup: throws
  // std::runtime_error "access log PATH: REASON". `counters` must outlive the writer.
  AccessLogWriter(AccessLogWriterOptions options, AccessLogCounters counters);
  ~AccessLogWriter();  // flush_and_stop()
  AccessLogWriter(const AccessLogWriter&) = delete;
  AccessLogWriter& operator=(const AccessLogWriter&) = delete;

  // Queues one line (without its newline). Never blocks on I/O. Returns false, counting the line as
  // dropped, when the queue is full or the writer has stopped. Thread-safe.
  bool submit(std::string_view line);

  // Asks the writer to reopen the path (logrotate's postrotate, SIGUSR1) before it writes its next
  // batch; lines already queued then go to the new file, none is lost. Returns at once. Not
  // async-signal-safe: call it from the handler of an asio::signal_set, not from a raw signal
  // handler. If the path cannot be opened the writer reports it and keeps the old file.
  void reopen();

  // Blocks until every line submitted before the call has been written or dropped. For tests and
  // shutdown paths, never the event loop.
  void flush();

  // Writes what is queued (one attempt, even while backing off after an error), closes the file and
  // joins the thread. Later submits are dropped. Idempotent.
  void flush_and_stop();

 private:
  void run();
  void write_batch(std::string& batch);
  bool write_all(const char* data, std::size_t size, std::size_t& written, int& error);
  int open_path();  // 0 or errno; keeps the old descriptor on failure
  void report(const std::string& message) const;

  AccessLogWriterOptions options_;
  AccessLogCounters counters_;
  int fd_ = -1;
  bool owns_fd_ = false;
  bool failing_ = false;                 // in a streak of failed writes (writer thread only)
  std::uint64_t dropped_in_streak_ = 0;  // writer thread only
  bool starts_mid_line_ = false;         // a partial line could not be cut off (writer thread only)

  std::mutex mutex_;
  std::condition_variable wake_writer_;
  std::condition_variable batch_done_;
  std::string pending_;  // lines waiting, each ending in '\n'
  std::uint64_t batches_taken_ = 0;
  std::uint64_t batches_done_ = 0;
  bool writer_waiting_ = false;
  bool reopen_requested_ = false;
  bool flush_requested_ = false;
  bool stopping_ = false;
  bool stopped_ = false;
  std::chrono::steady_clock::time_point retry_at_{};
  std::thread thread_;
};

}  // namespace veil::proxy
