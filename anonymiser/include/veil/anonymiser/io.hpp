// Byte streams for the log pipeline: input files or standard input (gzip decompressed
// transparently) and output files or standard output (gzip when the name ends in ".gz"), including
// reopen-after-rotation and atomic in-place replacement. Errors are std::runtime_error whose
// message names the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace veil::anonymiser {

// Where the pipeline reads from.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `capacity` bytes into `data`; returns 0 only at the end of the input. A live source
  // returns what has arrived so far (at least one byte); any other source fills `data` as far as it
  // can.
  virtual std::size_t read(char* data, std::size_t capacity) = 0;
  // Input that arrives over time (pipe, FIFO, terminal): the pipeline processes and flushes the
  // complete lines of every read at once instead of waiting for a full block.
  virtual bool live() const = 0;
};

// Where the pipeline writes to.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual void write(std::string_view data) = 0;
  // Makes everything written so far readable by whoever reads the output (a gzip sync point
  // included).
  virtual void flush() = 0;
};

// A file, or standard input for the path "-". Data starting with the gzip magic bytes is
// decompressed (concatenated gzip members included), whatever the name.
class InputFile final : public ByteSource {
 public:
  explicit InputFile(const std::string& path);
  ~InputFile() override;
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  std::size_t read(char* data, std::size_t capacity) override;
  bool live() const override;

  // The first bytes of the (decompressed) input, up to `max`, without consuming them: later reads
  // return them again. A live input returns once it holds a complete line, so that it never waits
  // for more.
  std::string_view peek(std::size_t max);

  const std::string& name() const;  // the path, or "stdin"
  bool regular_file() const;
  // Bytes consumed from the file itself (compressed bytes for gzip) and its size, for progress.
  std::uint64_t position() const;
  std::uint64_t size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Standard output or a file; gzip-compressed when the file name ends in ".gz". Unbuffered apart
// from the compressor: every write() reaches the file descriptor.
class OutputFile final : public ByteSink {
 public:
  enum class Mode : std::uint8_t { truncate, append };

  static std::unique_ptr<OutputFile> standard_output();
  static std::unique_ptr<OutputFile> open(const std::string& path, Mode mode);
  // Writes to an unnamed temporary file in the directory of `path` (with its permissions); commit()
  // renames it over `path`. Until then `path` is untouched, and a failure or a signal, even
  // SIGKILL, leaves no temporary file behind.
  static std::unique_ptr<OutputFile> replacing(const std::string& path);

  ~OutputFile() override;  // without commit(): a replacement's temporary file is discarded
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  void write(std::string_view data) override;
  void flush() override;
  // After log rotation moved the file away: finishes the current file and opens the path again
  // (appending, creating it if needed). Does nothing for standard output and replacements.
  void reopen();
  // Finishes the output (gzip trailer, close; for a replacement fsync and rename, then fsync of the
  // directory). Errors, such as a full disk, surface here at the latest.
  void commit();

  const std::string& name() const;  // the path, or "stdout"

 private:
  struct Impl;
  explicit OutputFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// True when both paths name the same existing file (same device and inode).
bool same_file(const std::string& a, const std::string& b);

// Makes SIGINT, SIGTERM and SIGHUP remove a replacement's temporary file when the file system
// offers no unnamed temporary files, then terminate as they would have. Call once, early, from the
// main thread.
void remove_temporary_files_on_termination_signals();

}  // namespace veil::anonymiser
