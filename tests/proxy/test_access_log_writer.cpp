#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "veil/proxy/access_log_writer.hpp"
#include "veil/proxy/metrics.hpp"

namespace fs = std::filesystem;
using veil::proxy::AccessLogCounters;
using veil::proxy::AccessLogWriter;
using veil::proxy::AccessLogWriterOptions;
using veil::proxy::Counter;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "veil-access-log-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() { fs::remove_all(path); }
};

struct Counters {
  Counter written;
  Counter dropped;
  Counter errors;
  AccessLogCounters refs() { return {written, dropped, errors}; }
};

// Collects the writer's reports (called on its thread).
struct Reports {
  std::mutex mutex;
  std::vector<std::string> messages;
  std::function<void(const std::string&)> sink() {
    return [this](const std::string& message) {
      const std::lock_guard lock(mutex);
      messages.push_back(message);
    };
  }
  std::string all() {
    const std::lock_guard lock(mutex);
    std::string text;
    for (const auto& message : messages) text += message + "\n";
    return text;
  }
};

std::vector<std::string> read_lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string numbered(int i) {
  char text[64];
  std::snprintf(text, sizeof text, "line %06d padding-padding-padding-padding", i);
  return text;
}

}  // namespace

TEST_CASE("lines are written in order and none is lost under the bound", "[access_log]") {
  TempDir dir;
  const auto path = dir.path / "access.log";
  Counters counters;
  constexpr int kLines = 20000;
  {
    AccessLogWriter writer({.path = path.string()}, counters.refs());
    for (int i = 0; i < kLines; ++i) REQUIRE(writer.submit(numbered(i)));
  }  // the destructor flushes
  const auto lines = read_lines(path);
  REQUIRE(lines.size() == kLines);
  for (int i = 0; i < kLines; ++i) REQUIRE(lines[static_cast<std::size_t>(i)] == numbered(i));
  CHECK(counters.written.value() == kLines);
  CHECK(counters.dropped.value() == 0);
  CHECK(counters.errors.value() == 0);
}

TEST_CASE("concurrent producers keep their own order", "[access_log]") {
  TempDir dir;
  const auto path = dir.path / "access.log";
  Counters counters;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5000;
  {
    AccessLogWriter writer({.path = path.string()}, counters.refs());
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&writer, t] {
        for (int i = 0; i < kPerThread; ++i) {
          writer.submit("thread " + std::to_string(t) + " " + std::to_string(i));
        }
      });
    }
    for (auto& thread : threads) thread.join();
    writer.flush();
    CHECK(counters.written.value() == kThreads * kPerThread);
  }
  std::vector<int> next(kThreads, 0);
  for (const auto& line : read_lines(path)) {
    std::istringstream fields(line);
    std::string word;
    int thread = -1;
    int index = -1;
    fields >> word >> thread >> index;
    REQUIRE(thread >= 0);
    REQUIRE(thread < kThreads);
    REQUIRE(index == next[static_cast<std::size_t>(thread)]);
    ++next[static_cast<std::size_t>(thread)];
  }
  for (const int count : next) CHECK(count == kPerThread);
}

TEST_CASE("a full queue drops and counts lines instead of blocking", "[access_log]") {
  // The log is a FIFO nobody reads yet: the writer blocks in write(2) once the pipe is full, the
  // queue fills, and further lines must be dropped at once.
  TempDir dir;
  const auto path = dir.path / "access.fifo";
  REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
  const int reader = ::open(path.c_str(), O_RDONLY | O_NONBLOCK);
  REQUIRE(reader >= 0);
  Counters counters;
  constexpr int kLines = 20000;
  std::vector<int> accepted;
  std::string received;
  {
    AccessLogWriter writer({.path = path.string(), .max_queued_bytes = 64 << 10}, counters.refs());
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kLines; ++i) {
      if (writer.submit(numbered(i))) accepted.push_back(i);
    }
    const auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(elapsed < std::chrono::seconds(5));  // never waited for the blocked writer
    CHECK(accepted.size() < kLines);
    CHECK(counters.dropped.value() == kLines - accepted.size());

    ::fcntl(reader, F_SETFL, 0);  // now drain it, blocking, until the writer closes its end
    std::thread drain([&] {
      char buffer[65536];
      for (ssize_t n; (n = ::read(reader, buffer, sizeof buffer)) > 0;) {
        received.append(buffer, static_cast<std::size_t>(n));
      }
    });
    writer.flush_and_stop();
    drain.join();
  }
  ::close(reader);
  std::string expected;
  for (const int i : accepted) expected += numbered(i) + "\n";
  CHECK(received == expected);
  CHECK(counters.written.value() == accepted.size());
}

TEST_CASE("reopen after logrotate's rename writes to the new file", "[access_log]") {
  TempDir dir;
  const auto path = dir.path / "access.log";
  const auto rotated = dir.path / "access.log.1";
  Counters counters;
  AccessLogWriter writer({.path = path.string()}, counters.refs());
  writer.submit("before rotation");
  writer.flush();
  fs::rename(path, rotated);
  writer.submit("still old file");  // written before the reopen request: the renamed file
  writer.flush();
  writer.reopen();
  writer.submit("after rotation");
  writer.flush();
  CHECK(read_lines(rotated) == std::vector<std::string>{"before rotation", "still old file"});
  CHECK(read_lines(path) == std::vector<std::string>{"after rotation"});
  writer.flush_and_stop();
  CHECK(counters.written.value() == 3);
}

TEST_CASE("a failed reopen keeps writing to the old file", "[access_log]") {
  TempDir dir;
  const auto path = dir.path / "sub" / "access.log";
  fs::create_directory(dir.path / "sub");
  Counters counters;
  Reports reports;
  AccessLogWriter writer({.path = path.string(), .report = reports.sink()}, counters.refs());
  fs::rename(dir.path / "sub", dir.path / "moved");  // the path's directory is gone
  writer.reopen();
  writer.submit("kept");
  writer.flush();
  CHECK(read_lines(dir.path / "moved" / "access.log") == std::vector<std::string>{"kept"});
  CHECK_THAT(reports.all(), Catch::Contains("cannot reopen"));
  CHECK_THAT(reports.all(), Catch::Contains(path.string()));
}

TEST_CASE("a disk-full device drops lines, and a reopen onto space recovers", "[access_log]") {
  TempDir dir;
  const auto link = dir.path / "access.log";
  const auto real = dir.path / "real.log";
  fs::create_symlink("/dev/full", link);
  Counters counters;
  Reports reports;
  AccessLogWriter writer({.path = link.string(),
                          .retry_after = std::chrono::milliseconds(10),
                          .report = reports.sink()},
                         counters.refs());
  for (int i = 0; i < 5; ++i) CHECK(writer.submit(numbered(i)));  // accepted: the queue has room
  writer.flush();
  CHECK(counters.dropped.value() == 5);
  CHECK(counters.written.value() == 0);
  CHECK(counters.errors.value() >= 1);
  CHECK_THAT(reports.all(), Catch::Contains("No space left on device"));

  fs::remove(link);
  fs::create_symlink(real, link);
  writer.reopen();
  for (int i = 5; i < 10; ++i) writer.submit(numbered(i));
  writer.flush();
  CHECK(read_lines(real) ==
        std::vector<std::string>{numbered(5), numbered(6), numbered(7), numbered(8), numbered(9)});
  CHECK(counters.written.value() == 5);
  CHECK_THAT(reports.all(), Catch::Contains("writing again after dropping 5 lines"));
}

TEST_CASE("a file-size limit drops lines, never a partial line, and recovery is automatic",
          "[access_log]") {
  // RLIMIT_FSIZE is per process: run the scenario in a child, check its file and counters here.
  TempDir dir;
  const auto path = dir.path / "access.log";
  const auto results = dir.path / "results";
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    rlimit limit{};
    ::getrlimit(RLIMIT_FSIZE, &limit);
    const rlim_t original = limit.rlim_cur;
    limit.rlim_cur = 4096;
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(3);
    Counters counters;
    {
      AccessLogWriter writer({.path = path.string(),
                              .retry_after = std::chrono::milliseconds(10),
                              .report = [](const std::string&) {}},
                             counters.refs());
      // Each numbered line is 44 bytes: 60 lines = 2640 bytes fit, 60 more cross the limit.
      for (int i = 0; i < 60; ++i) writer.submit(numbered(i));
      writer.flush();
      for (int i = 60; i < 120; ++i) writer.submit(numbered(i));
      writer.flush();
      limit.rlim_cur = original;  // space returns
      if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(4);
      for (int i = 120; i < 150; ++i) writer.submit(numbered(i));
    }
    std::ofstream out(results);
    out << counters.written.value() << ' ' << counters.dropped.value() << ' '
        << counters.errors.value() << std::endl;
    ::_exit(out ? 0 : 5);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);

  std::uint64_t written = 0, dropped = 0, errors = 0;
  std::ifstream(results) >> written >> dropped >> errors;
  const auto lines = read_lines(path);
  CHECK(errors >= 1);
  CHECK(dropped > 0);
  CHECK(written + dropped == 150);
  CHECK(lines.size() == written);
  // Whole lines only, in order, the first 60 and the last 30 all present.
  int previous = -1;
  for (const auto& line : lines) {
    const int index = std::stoi(line.substr(5, 6));
    REQUIRE(line == numbered(index));
    REQUIRE(index > previous);
    previous = index;
  }
  REQUIRE(lines.size() >= 90);
  CHECK(lines[59] == numbered(59));
  CHECK(lines.back() == numbered(149));
  CHECK(lines[lines.size() - 30] == numbered(120));
}

TEST_CASE("an unwritable path fails at construction, naming it", "[access_log]") {
  Counters counters;
  CHECK_THROWS_WITH(
      AccessLogWriter({.path = "/nonexistent-dir/access.log"}, counters.refs()),
      Catch::Contains("/nonexistent-dir/access.log") && Catch::Contains("No such file"));
}

TEST_CASE("lines submitted after stopping are counted as dropped", "[access_log]") {
  TempDir dir;
  Counters counters;
  AccessLogWriter writer({.path = (dir.path / "access.log").string()}, counters.refs());
  writer.flush_and_stop();
  CHECK_FALSE(writer.submit("late"));
  CHECK(counters.dropped.value() == 1);
  writer.flush();  // returns: nothing is pending and the writer is gone
}
