#include "veil/anonymiser/io.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <random>
#include <stdexcept>

#include "veil/anonymiser/gzip_codec.hpp"

namespace veil::anonymiser {
namespace {

constexpr std::size_t kCompressedChunk = 256 * 1024;
// The first read tells gzip from plain text and holds the format sample; it is kept small because
// each page it touches, here and in the copy kept for read(), costs a page fault before the first
// line is out (some 17 us each under this virtualisation).
constexpr std::size_t kDetectionRead = 16 * 1024;
constexpr std::size_t kCompressedOutputBuffer = 256 * 1024;
constexpr int kPipeBuffer = 1 << 20;

[[noreturn]] void fail(const std::string& name, std::string_view what, int error) {
  throw std::runtime_error(name + ": " + std::string(what) + ": " + std::strerror(error));
}

bool ends_with_gz(std::string_view path) {
  return path.size() > 3 && path.ends_with(".gz");
}

std::string directory_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_name_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The named temporary file of a replacement in progress, for the signal handler (which may only
// touch a plain buffer). Used only where the file system has no O_TMPFILE.
char g_named_temporary[PATH_MAX];
volatile std::sig_atomic_t g_named_temporary_active = 0;

// Holds back SIGINT, SIGTERM and SIGHUP while a temporary file gets a name and is registered, so
// that the handler sees either no file or a registered one.
class TerminationSignalsHeld {
 public:
  TerminationSignalsHeld() {
    sigset_t held;
    sigemptyset(&held);
    for (int signal_number : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&held, signal_number);
    ::pthread_sigmask(SIG_BLOCK, &held, &previous_);
  }
  ~TerminationSignalsHeld() { ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  TerminationSignalsHeld(const TerminationSignalsHeld&) = delete;
  TerminationSignalsHeld& operator=(const TerminationSignalsHeld&) = delete;

 private:
  sigset_t previous_;
};

void remove_temporary_and_terminate(int signal_number) {
  if (g_named_temporary_active) ::unlink(g_named_temporary);
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// InputFile

struct InputFile::Impl {
  std::string name;
  int fd = -1;
  bool owns_fd = false;
  bool regular = false;
  bool is_live = false;
  std::uint64_t file_size = 0;
  std::uint64_t consumed = 0;

  bool detected = false;
  std::unique_ptr<GzipDecoder> gzip;
  std::unique_ptr<char[]> compressed;
  std::string
      replay;  // decoded bytes read ahead (by format detection or peek) that read() returns first
  std::size_t replay_offset = 0;

  ~Impl() {
    if (owns_fd) ::close(fd);
  }

  std::size_t read_raw(char* data, std::size_t capacity) {
    for (;;) {
      ssize_t n = ::read(fd, data, capacity);
      if (n >= 0) {
        consumed += static_cast<std::uint64_t>(n);
        return static_cast<std::size_t>(n);
      }
      if (errno != EINTR) fail(name, "read error", errno);
    }
  }

  // Reads the first bytes and decides between plain and gzip data by the magic bytes 1f 8b.
  void detect() {
    detected = true;
    compressed = std::make_unique_for_overwrite<char[]>(kCompressedChunk);
    std::size_t size = read_raw(compressed.get(), kDetectionRead);
    while (size == 1) {  // a live input may deliver the magic bytes one at a time
      std::size_t more = read_raw(compressed.get() + 1, kDetectionRead - 1);
      if (more == 0) break;
      size += more;
    }
    if (size >= 2 && static_cast<unsigned char>(compressed[0]) == 0x1f &&
        static_cast<unsigned char>(compressed[1]) == 0x8b) {
      gzip = std::make_unique<GzipDecoder>();
      gzip->give_input(compressed.get(), size);
    } else {
      replay.append(compressed.get(), size);
      compressed.reset();
    }
  }

  // Returns at least one decoded byte, or 0 at the end of the input: the bytes read ahead first.
  std::size_t read_decoded(char* data, std::size_t capacity) {
    if (!detected) detect();
    if (replay_offset == replay.size()) return read_fresh(data, capacity);
    std::size_t n = std::min(capacity, replay.size() - replay_offset);
    std::memcpy(data, replay.data() + replay_offset, n);
    replay_offset += n;
    if (replay_offset == replay.size()) {
      replay.clear();
      replay_offset = 0;
    }
    return n;
  }

  // Like read_decoded, but past the bytes read ahead.
  std::size_t read_fresh(char* data, std::size_t capacity) {
    if (!gzip) return read_raw(data, capacity);
    for (;;) {
      if (gzip->needs_input()) {
        std::size_t n = read_raw(compressed.get(), kCompressedChunk);
        if (n == 0) {
          if (!gzip->between_members()) {
            throw std::runtime_error(name + ": truncated gzip data");
          }
          return 0;
        }
        gzip->give_input(compressed.get(), n);
      }
      try {
        std::size_t produced = gzip->decode(data, capacity);
        if (produced > 0) return produced;
      } catch (const std::runtime_error& error) {
        throw std::runtime_error(name + ": " + error.what());
      }
    }
  }
};

InputFile::InputFile(const std::string& path) : impl_(std::make_unique<Impl>()) {
  if (path == "-") {
    impl_->name = "stdin";
    impl_->fd = STDIN_FILENO;
  } else {
    impl_->name = path;
    impl_->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (impl_->fd < 0) fail(path, "cannot open", errno);
    impl_->owns_fd = true;
  }
  struct stat status {};
  if (::fstat(impl_->fd, &status) != 0) fail(impl_->name, "cannot stat", errno);
  if (S_ISDIR(status.st_mode)) fail(impl_->name, "cannot read", EISDIR);
  impl_->regular = S_ISREG(status.st_mode);
  impl_->is_live = !impl_->regular && !S_ISBLK(status.st_mode);
  impl_->file_size = impl_->regular ? static_cast<std::uint64_t>(status.st_size) : 0;
}

InputFile::~InputFile() = default;

std::size_t InputFile::read(char* data, std::size_t capacity) {
  std::size_t filled = 0;
  while (filled < capacity) {
    std::size_t n = impl_->read_decoded(data + filled, capacity - filled);
    if (n == 0) break;
    filled += n;
    if (impl_->is_live) break;
  }
  return filled;
}

bool InputFile::live() const {
  return impl_->is_live;
}

std::string_view InputFile::peek(std::size_t max) {
  Impl& impl = *impl_;
  if (!impl.detected) impl.detect();
  if (impl.replay_offset > 0) {  // only what read() has not returned yet counts
    impl.replay.erase(0, impl.replay_offset);
    impl.replay_offset = 0;
  }
  std::string chunk;
  while (impl.replay.size() < max) {
    if (impl.is_live && impl.replay.find('\n') != std::string::npos) break;
    chunk.resize(max - impl.replay.size());
    std::size_t n = impl.read_fresh(chunk.data(), chunk.size());
    if (n == 0) break;
    impl.replay.append(chunk.data(), n);
  }
  return std::string_view(impl.replay).substr(0, max);
}

const std::string& InputFile::name() const {
  return impl_->name;
}
bool InputFile::regular_file() const {
  return impl_->regular;
}
std::uint64_t InputFile::position() const {
  return impl_->consumed;
}
std::uint64_t InputFile::size() const {
  return impl_->file_size;
}

// ---------------------------------------------------------------------------------------------------
// OutputFile

struct OutputFile::Impl {
  enum class Kind : std::uint8_t { standard_output, file, replacement };

  Kind kind = Kind::file;
  std::string name;
  int fd = -1;
  std::unique_ptr<GzipEncoder> gzip;
  std::string compressed;
  bool committed = false;
  // Replacement only: the directory, and the named temporary file where O_TMPFILE is unavailable.
  int directory_fd = -1;
  std::string named_temporary;

  ~Impl() {
    if (kind == Kind::standard_output) return;
    if (fd >= 0) ::close(fd);
    if (!named_temporary.empty() && !committed) {
      ::unlink(named_temporary.c_str());
      g_named_temporary_active = 0;
    }
    if (directory_fd >= 0) ::close(directory_fd);
  }

  void write_all(const char* data, std::size_t size) {
    while (size > 0) {
      ssize_t n = ::write(fd, data, size);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail(name, "write error", errno);
      }
      data += n;
      size -= static_cast<std::size_t>(n);
    }
  }

  void write_compressed_if(bool condition) {
    if (!condition) return;
    write_all(compressed.data(), compressed.size());
    compressed.clear();
  }

  void finish_gzip() {
    if (!gzip) return;
    gzip->finish(compressed);
    write_compressed_if(true);
  }

  void close_fd() {
    int result = ::close(fd);
    fd = -1;
    if (result != 0 && errno != EINTR) fail(name, "write error", errno);
  }

  static int open_for_writing(const std::string& path, Mode mode) {
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (mode == Mode::append ? O_APPEND : O_TRUNC);
    int fd = ::open(path.c_str(), flags, 0666);
    if (fd < 0) fail(path, "cannot open for writing", errno);
    return fd;
  }

  // Gives the unnamed temporary file a name next to its target, so that rename() can replace the
  // target.
  void link_unnamed_temporary(const std::string& directory, const std::string& target_base) {
    std::random_device random;
    std::string proc_path = "/proc/self/fd/" + std::to_string(fd);
    for (int attempt = 0; attempt < 100; ++attempt) {
      std::string candidate = directory + "/." + target_base + ".veil-" + std::to_string(random());
      if (candidate.size() >= sizeof g_named_temporary) fail(name, "path too long", ENAMETOOLONG);
      TerminationSignalsHeld held;
      if (::linkat(AT_FDCWD, proc_path.c_str(), AT_FDCWD, candidate.c_str(), AT_SYMLINK_FOLLOW) ==
          0) {
        named_temporary = candidate;
        std::memcpy(g_named_temporary, candidate.c_str(), candidate.size() + 1);
        g_named_temporary_active = 1;
        return;
      }
      if (errno != EEXIST) fail(name, "cannot name the temporary file", errno);
    }
    fail(name, "cannot name the temporary file", EEXIST);
  }
};

OutputFile::OutputFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OutputFile::~OutputFile() = default;

std::unique_ptr<OutputFile> OutputFile::standard_output() {
  auto impl = std::make_unique<Impl>();
  impl->kind = Impl::Kind::standard_output;
  impl->name = "stdout";
  impl->fd = STDOUT_FILENO;
  // A pipe that holds a whole block takes it in one go instead of 16 wake-ups of the reader.
  struct stat status {};
  if (::fstat(impl->fd, &status) == 0 && S_ISFIFO(status.st_mode)) {
    ::fcntl(impl->fd, F_SETPIPE_SZ,
            kPipeBuffer);  // best effort: capped by /proc/sys/fs/pipe-max-size
  }
  return std::unique_ptr<OutputFile>(new OutputFile(std::move(impl)));
}

std::unique_ptr<OutputFile> OutputFile::open(const std::string& path, Mode mode) {
  auto impl = std::make_unique<Impl>();
  impl->name = path;
  impl->fd = Impl::open_for_writing(path, mode);
  if (ends_with_gz(path)) impl->gzip = std::make_unique<GzipEncoder>();
  return std::unique_ptr<OutputFile>(new OutputFile(std::move(impl)));
}

std::unique_ptr<OutputFile> OutputFile::replacing(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->kind = Impl::Kind::replacement;
  impl->name = path;
  struct stat original {};
  if (::stat(path.c_str(), &original) != 0) fail(path, "cannot stat", errno);
  std::string directory = directory_of(path);
  impl->directory_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (impl->directory_fd < 0) fail(directory, "cannot open directory", errno);

  impl->fd = ::openat(impl->directory_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  if (impl->fd < 0) {
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != ENOENT) {
      fail(path, "cannot create a temporary file", errno);
    }
    std::string pattern = directory + "/." + base_name_of(path) + ".veil-XXXXXX";
    if (pattern.size() >= sizeof g_named_temporary) fail(path, "path too long", ENAMETOOLONG);
    TerminationSignalsHeld held;
    impl->fd = ::mkostemp(pattern.data(), O_CLOEXEC);
    if (impl->fd < 0) fail(path, "cannot create a temporary file", errno);
    impl->named_temporary = pattern;
    std::memcpy(g_named_temporary, pattern.c_str(), pattern.size() + 1);
    g_named_temporary_active = 1;
  }
  // The replacement keeps the original's permissions and, where allowed, its owner.
  if (::fchmod(impl->fd, original.st_mode & 07777) != 0)
    fail(path, "cannot set permissions", errno);
  if (::fchown(impl->fd, original.st_uid, original.st_gid) != 0 && errno != EPERM) {
    fail(path, "cannot set owner", errno);
  }
  if (ends_with_gz(path)) impl->gzip = std::make_unique<GzipEncoder>();
  return std::unique_ptr<OutputFile>(new OutputFile(std::move(impl)));
}

void OutputFile::write(std::string_view data) {
  if (impl_->gzip) {
    impl_->gzip->encode(data, impl_->compressed);
    impl_->write_compressed_if(impl_->compressed.size() >= kCompressedOutputBuffer);
  } else {
    impl_->write_all(data.data(), data.size());
  }
}

void OutputFile::flush() {
  if (!impl_->gzip) return;
  impl_->gzip->sync_flush(impl_->compressed);
  impl_->write_compressed_if(true);
}

void OutputFile::reopen() {
  if (impl_->kind != Impl::Kind::file) return;
  impl_->finish_gzip();
  impl_->close_fd();
  impl_->fd = Impl::open_for_writing(impl_->name, Mode::append);
}

void OutputFile::commit() {
  Impl& impl = *impl_;
  impl.finish_gzip();
  switch (impl.kind) {
    case Impl::Kind::standard_output:
      break;
    case Impl::Kind::file:
      impl.close_fd();
      break;
    case Impl::Kind::replacement: {
      if (::fsync(impl.fd) != 0) fail(impl.name, "cannot sync", errno);
      if (impl.named_temporary.empty()) {
        impl.link_unnamed_temporary(directory_of(impl.name), base_name_of(impl.name));
      }
      {
        // Once renamed, the registered name is the target itself: the signal handler must not see
        // it.
        TerminationSignalsHeld held;
        if (::rename(impl.named_temporary.c_str(), impl.name.c_str()) != 0) {
          fail(impl.name, "cannot replace", errno);  // the destructor removes the temporary file
        }
        impl.committed = true;
        g_named_temporary_active = 0;
      }
      impl.close_fd();
      if (::fsync(impl.directory_fd) != 0) fail(directory_of(impl.name), "cannot sync", errno);
      break;
    }
  }
  impl.committed = true;
}

const std::string& OutputFile::name() const {
  return impl_->name;
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat first {};
  struct stat second {};
  if (::stat(a.c_str(), &first) != 0 || ::stat(b.c_str(), &second) != 0) return false;
  return first.st_dev == second.st_dev && first.st_ino == second.st_ino;
}

void remove_temporary_files_on_termination_signals() {
  for (int signal_number : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction current {};
    ::sigaction(signal_number, nullptr, &current);
    if (current.sa_handler == SIG_IGN) continue;  // e.g. SIGHUP under nohup stays ignored
    struct sigaction action {};
    action.sa_handler = remove_temporary_and_terminate;
    sigemptyset(&action.sa_mask);
    ::sigaction(signal_number, &action, nullptr);
  }
}

}  // namespace veil::anonymiser
