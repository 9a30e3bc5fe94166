#include "veil/anonymiser/pipeline.hpp"

#include <pthread.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

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
  bool done = false;  // output ready to be written

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

// Splits the block into lines, hands each to the transformer and copies its terminator unchanged.
void transform_block(Block& block, LineTransformer& transformer, bool carries_state) {
  block.output.clear();
  block.flagged.clear();
  block.lines = 0;
  const std::size_t capacity = block.output.capacity();
  block.output.reserve(block.input_size + block.input_size / 4);
  if (block.output.capacity() != capacity) prefault(block.output.data(), block.output.capacity());
  if (carries_state) transformer.set_state(block.state);
  const char* position = block.input.get();
  const char* const end = position + block.input_size;
  while (position < end) {
    const auto* newline = static_cast<const char*>(std::memchr(position, '\n', end - position));
    const char* next = newline != nullptr ? newline + 1 : end;
    const char* content_end = newline != nullptr ? newline : end;
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

class Pipeline {
 public:
  Pipeline(ByteSource& source, ByteSink& sink, std::span<LineTransformer* const> transformers,
           const PipelineOptions& options, const PipelineCallbacks& callbacks)
      : source_(source),
        sink_(sink),
        transformers_(transformers),
        callbacks_(callbacks),
        block_size_(std::max<std::size_t>(options.block_size, kMinimumRead)),
        capacity_(options.max_blocks_in_flight != 0 ? options.max_blocks_in_flight
                                                    : 2 * transformers.size() + 2),
        slots_(capacity_) {
    if (transformers.empty()) throw std::invalid_argument("run_pipeline: no transformer");
  }

  PipelineResult run() {
    std::vector<std::thread> threads;
    threads.reserve(transformers_.size() + 1);
    {
      // Process-directed signals (SIGUSR1 for reopening, termination) go to the calling thread, so
      // that a handler has run before that thread reads on; the pipeline's threads never take them.
      SignalsBlocked blocked;
      for (LineTransformer* transformer : transformers_) {
        threads.emplace_back([this, transformer] { work(*transformer); });
      }
      threads.emplace_back([this] { write(); });
    }
    try {
      read();
    } catch (...) {
      stop(std::current_exception());
    }
    {
      std::lock_guard lock(mutex_);
      reading_done_ = true;
    }
    work_ready_.notify_all();
    block_done_.notify_all();
    for (auto& thread : threads) thread.join();
    if (error_) std::rethrow_exception(error_);
    return result_;
  }

 private:
  void read() {
    const bool live = source_.live();
    std::string state;
    std::string partial_line;  // the unfinished last line of the previous read
    bool at_end = false;
    while (!at_end) {
      Block* block = acquire_block();
      if (block == nullptr) return;
      block->reserve_input(std::max(block_size_, partial_line.size() + kMinimumRead));
      std::memcpy(block->input.get(), partial_line.data(), partial_line.size());
      block->input_size = partial_line.size();
      std::size_t scanned = partial_line.size();  // bytes known to hold no newline
      partial_line.clear();
      bool has_newline = false;
      for (;;) {
        if (block->input_capacity - block->input_size < kMinimumRead) {
          has_newline = has_newline || std::memchr(block->input.get() + scanned, '\n',
                                                   block->input_size - scanned) != nullptr;
          scanned = block->input_size;
          if (has_newline) break;
          block->reserve_input(block->input_capacity * 2);  // a line longer than the block
        }
        std::size_t n = source_.read(block->input.get() + block->input_size,
                                     block->input_capacity - block->input_size);
        if (n == 0) {
          at_end = true;
          break;
        }
        result_.bytes_read += n;
        block->input_size += n;
        if (live && std::memchr(block->input.get() + scanned, '\n', block->input_size - scanned) !=
                        nullptr) {
          break;
        }
        if (live) scanned = block->input_size;
      }
      if (!at_end) {
        const auto* last_newline =
            static_cast<const char*>(memrchr(block->input.get(), '\n', block->input_size));
        std::size_t cut = static_cast<std::size_t>(last_newline - block->input.get()) + 1;
        partial_line.assign(block->input.get() + cut, block->input_size - cut);
        block->input_size = cut;
      }
      if (block->input_size == 0) {
        release_block(block);
        break;
      }
      block->flush = live;
      if (callbacks_.carry_state) {
        block->state = state;
        state = callbacks_.carry_state(block->text(), std::move(state));
      }
      if (callbacks_.on_block_read) callbacks_.on_block_read(result_.bytes_read);
      dispatch(block);
    }
  }

  void work(LineTransformer& transformer) {
    const bool carries_state = static_cast<bool>(callbacks_.carry_state);
    for (;;) {
      Block* block;
      {
        std::unique_lock lock(mutex_);
        work_ready_.wait(lock, [&] { return stopping_ || !work_.empty() || reading_done_; });
        if (stopping_ || work_.empty()) return;
        block = work_.front();
        work_.pop_front();
      }
      try {
        transform_block(*block, transformer, carries_state);
      } catch (...) {
        stop(std::current_exception());
        return;
      }
      {
        std::lock_guard lock(mutex_);
        block->done = true;
      }
      block_done_.notify_one();
    }
  }

  void write() {
    try {
      std::uint64_t next = 0;
      while (Block* block = next_finished_block(next)) {
        if (callbacks_.between_blocks) callbacks_.between_blocks();
        sink_.write(block->output);
        if (block->flush) sink_.flush();
        result_.bytes_written += block->output.size();
        if (callbacks_.on_flagged_line) {
          for (std::uint64_t index : block->flagged)
            callbacks_.on_flagged_line(result_.lines + index + 1);
        }
        result_.lines += block->lines;
        {
          std::lock_guard lock(mutex_);
          slots_[next % capacity_] = nullptr;
        }
        release_block(block);
        ++next;
      }
    } catch (...) {
      stop(std::current_exception());
    }
  }

  // Waits for block `sequence` to be transformed; nullptr when all blocks are written or on
  // failure.
  Block* next_finished_block(std::uint64_t sequence) {
    std::unique_lock lock(mutex_);
    for (;;) {
      if (stopping_) return nullptr;
      Block* block = slots_[sequence % capacity_];
      if (block != nullptr && block->done) return block;
      if (reading_done_ && sequence == blocks_dispatched_) return nullptr;
      if (!callbacks_.between_blocks) {
        block_done_.wait(lock);
      } else if (block_done_.wait_for(lock, kIdlePeriod) == std::cv_status::timeout) {
        lock.unlock();
        callbacks_.between_blocks();
        lock.lock();
      }
    }
  }

  // Waits until fewer than capacity_ blocks are in flight; nullptr when the pipeline is stopping.
  Block* acquire_block() {
    std::unique_lock lock(mutex_);
    room_.wait(lock, [&] { return stopping_ || in_flight_ < capacity_; });
    if (stopping_) return nullptr;
    ++in_flight_;
    if (free_.empty()) {
      blocks_.push_back(std::make_unique<Block>());
      return blocks_.back().get();
    }
    Block* block = free_.back();
    free_.pop_back();
    return block;
  }

  void release_block(Block* block) {
    {
      std::lock_guard lock(mutex_);
      block->done = false;
      free_.push_back(block);
      --in_flight_;
    }
    room_.notify_one();
  }

  void dispatch(Block* block) {
    {
      std::lock_guard lock(mutex_);
      block->sequence = blocks_dispatched_++;
      slots_[block->sequence % capacity_] = block;
      work_.push_back(block);
    }
    work_ready_.notify_one();
  }

  void stop(std::exception_ptr error) {
    {
      std::lock_guard lock(mutex_);
      if (!error_) error_ = std::move(error);
      stopping_ = true;
    }
    work_ready_.notify_all();
    block_done_.notify_all();
    room_.notify_all();
  }

  ByteSource& source_;
  ByteSink& sink_;
  std::span<LineTransformer* const> transformers_;
  const PipelineCallbacks& callbacks_;
  const std::size_t block_size_;
  const std::size_t capacity_;

  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable block_done_;
  std::condition_variable room_;
  std::deque<Block*> work_;
  std::vector<Block*> slots_;  // blocks in flight, at sequence % capacity_
  std::vector<std::unique_ptr<Block>> blocks_;
  std::vector<Block*> free_;
  std::size_t in_flight_ = 0;
  std::uint64_t blocks_dispatched_ = 0;
  bool reading_done_ = false;
  bool stopping_ = false;
  std::exception_ptr error_;
  // bytes_read belongs to the reading thread, the rest to the writer; read after both joined.
  PipelineResult result_;
};

}  // namespace

PipelineResult run_pipeline(ByteSource& source, ByteSink& sink,
                            std::span<LineTransformer* const> transformers,
                            const PipelineOptions& options, const PipelineCallbacks& callbacks) {
  return Pipeline(source, sink, transformers, options, callbacks).run();
}

}  // namespace veil::anonymiser
