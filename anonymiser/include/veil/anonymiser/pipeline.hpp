// The streaming line pipeline behind `veil anonymise`: worker threads take turns to read large
// blocks cut at line boundaries, transform them in parallel and take turns to write them, strictly
// in input order. It knows nothing about what a transformation does.
//
// Output holds exactly the input's lines in the input's order: each line's terminator (LF, CRLF, or
// none for a last line without one) is copied unchanged, empty lines included. Memory stays
// bounded: each worker holds one block between reading and writing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "veil/anonymiser/io.hpp"

namespace veil::anonymiser {

// Transforms lines; one instance per worker thread, never shared between threads.
class LineTransformer {
 public:
  virtual ~LineTransformer() = default;
  // Before each block, when the pipeline carries state (see PipelineCallbacks::carry_state): the
  // state in force at the start of that block.
  virtual void set_state(std::string_view state);
  // Appends the transformed `line` (without its terminator; a CR before the LF is not part of it)
  // to `out`. Returns false to have the line's number reported through on_flagged_line.
  virtual bool transform_line(std::string_view line, std::string& out) = 0;
};

struct PipelineOptions {
  std::size_t block_size = 1 << 20;
};

struct PipelineCallbacks {
  // Runs sequentially over the blocks in input order: given a block (whole lines) and the state in
  // force before it, returns the state in force after it. Unset: no state, set_state is never
  // called.
  std::function<std::string(std::string_view block, std::string state)> carry_state;
  // In input order, from one thread at a time: the 1-based number of a line transform_line
  // returned false for.
  std::function<void(std::uint64_t line_number)> on_flagged_line;
  // Before each block is written (never mid-line, never during a write), and at least every 100 ms
  // while nothing is written: the place to reopen the output after log rotation.
  std::function<void()> between_blocks;
  // After each block read, from one thread at a time, with the input bytes read so far.
  std::function<void(std::uint64_t bytes_read)> on_block_read;
};

struct PipelineResult {
  std::uint64_t lines = 0;
  std::uint64_t bytes_read = 0;
  std::uint64_t bytes_written = 0;
};

// Streams `source` through `transformers` (one worker thread each; at least one) into `sink`, then
// returns; the caller finishes the sink. When the source is live, every read's complete lines are
// transformed, written and flushed at once. The first exception from reading, a transformer, a
// callback or writing stops the pipeline and is rethrown here. The pipeline's own threads block all
// signals, so process-directed signals are handled by the calling thread, which only waits.
PipelineResult run_pipeline(ByteSource& source, ByteSink& sink,
                            std::span<LineTransformer* const> transformers,
                            const PipelineOptions& options = {},
                            const PipelineCallbacks& callbacks = {});

}  // namespace veil::anonymiser
