#include "veil/anonymiser/pipeline.hpp"

#include <pthread.h>
#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace veil::anonymiser {

void LineTransformer::set_state(std::string_view) {}

namespace {

// Below this much free room a read is not worth a system call: the buffer grows first.
constexpr std::size_t kMinimumRead = 4096;
constexpr auto kIdlePeriod = std::chrono::milliseconds(100);

// Blocks every signal in the current thread while it lives; threads started meanwhile inherit that.
class SignalsBlocked {
 public:
  SignalsBlocked() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &previous_);
  }
  ~SignalsBlocked() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  SignalsBlocked(const SignalsBlocked&) = delete;
  SignalsBlocked& operator=(const SignalsBlocked&) = delete;

 private:
  sigset_t previous_;
};

// The first touch of each 4 KiB page of a fresh buffer costs a page fault, several microseconds
// under virtualisation; one madvise maps the whole buffer at once. Best effort: kernels before
// 5.14 decline it, and the pages are then faulted in as they are touched.
void prefault(char* data, std::size_t size) {
#if defined(MADV_POPULATE_WRITE)
  constexpr std::uintptr_t kPage = 4096;
  const auto begin = (reinterpret_cast<std::uintptr_t>(data) + kPage - 1) & ~(kPage - 1);
  const auto end = (reinterpret_cast<std::uintptr_t>(data) + size) & ~(kPage - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
#else
  (void)data;
  (void)size;
#endif
}

struct Block {
  std::uint64_t sequence = 0;
  std::unique_ptr<char[]> input;
  std::size_t input_capacity = 0;
  std::size_t input_size = 0;
  std::string state;  // carried into the block
  std::string output;
  std::uint64_t lines = 0;
  std::vector<std::uint64_t> flagged;  // 0-based line indices within the block
  bool flush = false;

  std::string_view text() const { return {input.get(), input_size}; }

  void reserve_input(std::size_t capacity) {
    if (capacity <= input_capacity) return;
    auto larger = std::make_unique_for_overwrite<char[]>(capacity);
    prefault(larger.get(), capacity);
    if (input_size > 0) std::memcpy(larger.get(), input.get(), input_size);
    input = std::move(larger);
    input_capacity = capacity;
  }
};

// The newlines of a text, found 64 bytes at a time in one pass of vector compares: a memchr call
// per line spends more on its setup than on scanning a log line of a few hundred bytes.
class Newlines {
 public:
  explicit Newlines(std::string_view text) : text_(text) { load(0); }

  // The first newline at or after `from`, which is not before the previous answer; the text's size
  // when there is none.
  std::size_t next(std::size_t from) {
    for (;;) {
      if (from < window_ + kWindow) {
        const auto skipped = static_cast<unsigned>(from > window_ ? from - window_ : 0);
        const std::uint64_t ahead = mask_ >> skipped << skipped;
        if (ahead != 0) return window_ + static_cast<std::size_t>(std::countr_zero(ahead));
      }
      if (window_ + kWindow >= text_.size()) return text_.size();
      load(window_ + kWindow);
    }
  }

 private:
  static constexpr std::size_t kWindow = 64;

  void load(std::size_t window) {
    window_ = window;
    const char* bytes = text_.data() + window;
    const std::size_t size = std::min(kWindow, text_.size() - window);
    mask_ = 0;
#if defined(__SSE2__)
    if (size == kWindow) {
      const __m128i newline = _mm_set1_epi8('\n');
      for (std::size_t i = 0; i < kWindow; i += 16) {
        const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes + i));
        mask_ |= std::uint64_t{static_cast<std::uint32_t>(
                     _mm_movemask_epi8(_mm_cmpeq_epi8(chunk, newline)))}
                 << i;
      }
      return;
    }
#endif
    for (std::size_t i = 0; i < size; ++i) mask_ |= std::uint64_t{bytes[i] == '\n'} << i;
  }

  std::string_view text_;
  std::size_t window_ = 0;  // where the 64 bytes of mask_ start
  std::uint64_t mask_ = 0;  // bit i: text_[window_ + i] is a newline
};

// Splits the block into lines, hands each to the transformer and copies its terminator unchanged.
void transform_block(Block& block, LineTransformer& transformer, bool carries_state) {
  block.output.clear();
  block.flagged.clear();
  block.lines = 0;
  const std::size_t capacity = block.output.capacity();
  // Sized by the input buffer, which stays the same from block to block, not by this block's
  // lines: a block a few bytes longer than the first would otherwise double the output buffer.
  block.output.reserve(block.input_capacity + block.input_capacity / 4);
  if (block.output.capacity() != capacity) prefault(block.output.data(), block.output.capacity());
  if (carries_state) transformer.set_state(block.state);
  const char* const data = block.input.get();
  const char* const end = data + block.input_size;
  Newlines newlines(block.text());
  const char* position = data;
  while (position < end) {
    const char* const newline = data + newlines.next(static_cast<std::size_t>(position - data));
    const char* next = newline != end ? newline + 1 : end;
    const char* content_end = newline;
    if (content_end > position && content_end[-1] == '\r') --content_end;
    if (!transformer.transform_line({position, static_cast<std::size_t>(content_end - position)},
                                    block.output)) {
      block.flagged.push_back(block.lines);
    }
    block.output.append(content_end, static_cast<std::size_t>(next - content_end));
    ++block.lines;
    position = next;
  }
}

// Each worker thread reads a block, transforms it and writes it, taking turns with the other
// workers to read (in input order) and to write (in the same order). A block stays in one core's
// cache from the read that fills it to the write that empties it, and no thread exists only to
// move bytes: with two workers on two cores this beat a reading and a writing thread feeding the
// workers by 12% (bench/anonymise), and with one worker it was as fast.
class Pipeline {
 public:
  Pipeline(ByteSource& source, ByteSink& sink, std::span<LineTransformer* const> transformers,
           const PipelineOptions& options, const PipelineCallbacks& callbacks)
      : source_(source),
        sink_(sink),
        transformers_(transformers),
        callbacks_(callbacks),
        block_size_(std::max<std::size_t>(options.block_size, kMinimumRead)),
        live_(source.live()) {
    if (transformers.empty()) throw std::invalid_argument("run_pipeline: no transformer");
  }

  PipelineResult run() {
    std::vector<std::thread> threads;
    threads.reserve(transformers_.size());
    {
      // Process-directed signals (SIGUSR1 for reopening, termination) go to the calling thread,
      // which only waits; the workers never take them.
      SignalsBlocked blocked;
      workers_running_ = transformers_.size();
      for (LineTransformer* transformer : transformers_) {
        threads.emplace_back([this, transformer] { work(*transformer); });
      }
    }
    call_between_blocks_while_idle();
    for (auto& thread : threads) thread.join();
    if (error_) std::rethrow_exception(error_);
    return result_;
  }

 private:
  void work(LineTransformer& transformer) {
    const bool carries_state = static_cast<bool>(callbacks_.carry_state);
    Block block;
    try {
      while (read_block(block)) {
        transform_block(block, transformer, carries_state);
        if (!write_block(block)) break;
      }
    } catch (...) {
      stop(std::current_exception());
    }
    {
      std::lock_guard lock(mutex_);
      --workers_running_;
    }
    workers_changed_.notify_all();
  }

  // Waits for the reading turn and fills `block` with the next whole lines; false at the end of
  // the input or when the pipeline stops.
  bool read_block(Block& block) {
    {
      std::unique_lock lock(mutex_);
      turn_changed_.wait(lock, [&] { return stopping_ || !reading_; });
      if (stopping_ || input_done_) return false;
      reading_ = true;
    }
    // A failure stops the pipeline: the turn need not be handed on.
    const bool at_end = fill(block);
    const bool has_lines = block.input_size > 0;
    {
      std::lock_guard lock(mutex_);
      reading_ = false;
      input_done_ = at_end;
      if (has_lines) block.sequence = blocks_read_++;
    }
    turn_changed_.notify_all();
    return has_lines;
  }

  // Reads into `block` up to its last newline (all that is left at the end of the input), after
  // the unfinished line of the previous read; returns true at the end of the input. A live
  // source's block ends with the first read that completes a line.
  bool fill(Block& block) {
    block.reserve_input(std::max(block_size_, partial_line_.size() + kMinimumRead));
    std::memcpy(block.input.get(), partial_line_.data(), partial_line_.size());
    block.input_size = partial_line_.size();
    std::size_t scanned = partial_line_.size();  // bytes known to hold no newline
    partial_line_.clear();
    bool has_newline = false;
    bool at_end = false;
    for (;;) {
      if (block.input_capacity - block.input_size < kMinimumRead) {
        has_newline = has_newline || std::memchr(block.input.get() + scanned, '\n',
                                                 block.input_size - scanned) != nullptr;
        scanned = block.input_size;
        if (has_newline) break;
        block.reserve_input(block.input_capacity * 2);  // a line longer than the block
      }
      std::size_t n = source_.read(block.input.get() + block.input_size,
                                   block.input_capacity - block.input_size);
      if (n == 0) {
        at_end = true;
        break;
      }
      result_.bytes_read += n;
      block.input_size += n;
      if (live_ &&
          std::memchr(block.input.get() + scanned, '\n', block.input_size - scanned) != nullptr) {
        break;
      }
      if (live_) scanned = block.input_size;
    }
    if (!at_end) {
      const auto* last_newline =
          static_cast<const char*>(memrchr(block.input.get(), '\n', block.input_size));
      std::size_t cut = static_cast<std::size_t>(last_newline - block.input.get()) + 1;
      partial_line_.assign(block.input.get() + cut, block.input_size - cut);
      block.input_size = cut;
    }
    block.flush = live_;
    if (block.input_size > 0 && callbacks_.carry_state) {
      block.state = state_;
      state_ = callbacks_.carry_state(block.text(), std::move(state_));
    }
    if (callbacks_.on_block_read) callbacks_.on_block_read(result_.bytes_read);
    return at_end;
  }

  // Waits for the turn of `block` and writes it; false when the pipeline stops.
  bool write_block(const Block& block) {
    {
      std::unique_lock lock(mutex_);
      turn_changed_.wait(
          lock, [&] { return stopping_ || (!writing_ && blocks_written_ == block.sequence); });
      if (stopping_) return false;
      writing_ = true;
    }
    // A failure stops the pipeline: the turn need not be handed on.
    if (callbacks_.between_blocks) callbacks_.between_blocks();
    sink_.write(block.output);
    if (block.flush) sink_.flush();
    result_.bytes_written += block.output.size();
    if (callbacks_.on_flagged_line) {
      for (std::uint64_t index : block.flagged)
        callbacks_.on_flagged_line(result_.lines + index + 1);
    }
    result_.lines += block.lines;
    {
      std::lock_guard lock(mutex_);
      writing_ = false;
      ++blocks_written_;
    }
    turn_changed_.notify_all();
    return true;
  }

  // On the calling thread until the workers are done: between_blocks at least every 100 ms, even
  // while no block arrives, when no block is being written.
  void call_between_blocks_while_idle() {
    std::unique_lock lock(mutex_);
    while (!workers_changed_.wait_for(lock, kIdlePeriod, [&] { return workers_running_ == 0; })) {
      if (!callbacks_.between_blocks || writing_ || stopping_) continue;
      writing_ = true;
      lock.unlock();
      try {
        callbacks_.between_blocks();
      } catch (...) {
        stop(std::current_exception());
      }
      lock.lock();
      writing_ = false;
      turn_changed_.notify_all();
    }
  }

  void stop(std::exception_ptr error) {
    {
      std::lock_guard lock(mutex_);
      if (!error_) error_ = std::move(error);
      stopping_ = true;
    }
    turn_changed_.notify_all();
  }

  ByteSource& source_;
  ByteSink& sink_;
  std::span<LineTransformer* const> transformers_;
  const PipelineCallbacks& callbacks_;
  const std::size_t block_size_;
  const bool live_;

  std::mutex mutex_;
  std::condition_variable turn_changed_;     // reading_, writing_, blocks_written_ or stopping_
  std::condition_variable workers_changed_;  // workers_running_
  bool reading_ = false;
  bool writing_ = false;
  bool input_done_ = false;
  bool stopping_ = false;
  std::uint64_t blocks_read_ = 0;
  std::uint64_t blocks_written_ = 0;
  std::size_t workers_running_ = 0;
  std::exception_ptr error_;
  // The reading turn's.
  std::string partial_line_;  // the unfinished last line of the previous read
  std::string state_;
  // bytes_read belongs to the reading turn, the rest to the writing turn; read after the join.
  PipelineResult result_;
};

}  // namespace

PipelineResult run_pipeline(ByteSource& source, ByteSink& sink,
                            std::span<LineTransformer* const> transformers,
                            const PipelineOptions& options, const PipelineCallbacks& callbacks) {
  return Pipeline(source, sink, transformers, options, callbacks).run();
}

}  // namespace veil::anonymiser
