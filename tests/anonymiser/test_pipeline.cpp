#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "veil/anonymiser/pipeline.hpp"

using namespace veil::anonymiser;

namespace {

// Serves a string in reads of at most `chunk` bytes (cycling through the sizes given).
class MemorySource : public ByteSource {
 public:
  MemorySource(std::string data, bool live, std::vector<std::size_t> chunks = {})
      : data_(std::move(data)), live_(live), chunks_(std::move(chunks)) {}

  std::size_t read(char* out, std::size_t capacity) override {
    std::size_t n = std::min(capacity, data_.size() - offset_);
    if (!chunks_.empty()) n = std::min(n, chunks_[reads_ % chunks_.size()]);
    ++reads_;
    std::copy_n(data_.data() + offset_, n, out);
    offset_ += n;
    if (on_read) on_read(offset_);
    return n;
  }
  bool live() const override { return live_; }

  std::function<void(std::size_t consumed)> on_read;

 private:
  std::string data_;
  bool live_;
  std::vector<std::size_t> chunks_;
  std::size_t offset_ = 0;
  std::size_t reads_ = 0;
};

class StringSink : public ByteSink {
 public:
  void write(std::string_view data) override {
    std::lock_guard lock(mutex);
    text.append(data);
    writes.emplace_back(data);
    changed.notify_all();
  }
  void flush() override { ++flushes; }

  std::mutex mutex;
  std::condition_variable changed;
  std::string text;
  std::vector<std::string> writes;
  std::atomic<int> flushes{0};
};

// Wraps each line as "<state|line>"; lines "#state X" switch the state to X. Flags lines containing
// "bad"; throws on a line "throw".
class TaggingTransformer : public LineTransformer {
 public:
  void set_state(std::string_view state) override { state_ = state; }
  bool transform_line(std::string_view line, std::string& out) override {
    if (line == "throw") throw std::runtime_error("transformer failed");
    if (line.starts_with("#state ")) state_ = line.substr(7);
    out.append("<").append(state_).append("|").append(line).append(">");
    return line.find("bad") == std::string_view::npos;
  }

 private:
  std::string state_;
};

std::string carry_tag_state(std::string_view block, std::string state) {
  std::size_t start = 0;
  while (start < block.size()) {
    std::size_t end = block.find('\n', start);
    if (end == std::string_view::npos) end = block.size();
    std::string_view line = block.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.starts_with("#state ")) state = line.substr(7);
    start = end + 1;
  }
  return state;
}

// What the pipeline must produce: the lines transformed one after the other, terminators unchanged.
std::string expected_output(const std::string& input, std::uint64_t* lines = nullptr) {
  TaggingTransformer transformer;
  std::string out;
  std::uint64_t count = 0;
  std::size_t start = 0;
  while (start < input.size()) {
    std::size_t newline = input.find('\n', start);
    std::size_t end = newline == std::string::npos ? input.size() : newline;
    std::size_t content_end = end;
    if (content_end > start && input[content_end - 1] == '\r') --content_end;
    transformer.transform_line(std::string_view(input).substr(start, content_end - start), out);
    out.append(input, content_end, (newline == std::string::npos ? end : end + 1) - content_end);
    ++count;
    start = newline == std::string::npos ? input.size() : newline + 1;
  }
  if (lines != nullptr) *lines = count;
  return out;
}

std::string random_log(std::mt19937& random, std::size_t line_count, std::size_t max_line) {
  std::uniform_int_distribution<std::size_t> length(0, max_line);
  std::uniform_int_distribution<int> kind(0, 19);
  std::uniform_int_distribution<int> letter('a', 'z');
  std::string text;
  for (std::size_t i = 0; i < line_count; ++i) {
    int k = kind(random);
    if (k == 0) {
      text += "#state s" + std::to_string(i);
    } else if (k == 1) {
      text += "a bad line";
    } else if (k != 2) {  // k == 2: an empty line
      std::size_t n = length(random);
      for (std::size_t j = 0; j < n; ++j) text += static_cast<char>(letter(random));
    }
    text += kind(random) < 5 ? "\r\n" : "\n";
  }
  return text;
}

struct Run {
  std::string output;
  PipelineResult result;
  std::vector<std::uint64_t> flagged;
};

Run run(const std::string& input, unsigned threads, std::size_t block_size, bool live = false,
        std::vector<std::size_t> chunks = {}, bool with_state = true) {
  MemorySource source(input, live, std::move(chunks));
  StringSink sink;
  std::vector<TaggingTransformer> transformers(threads);
  std::vector<LineTransformer*> pointers;
  for (auto& transformer : transformers) pointers.push_back(&transformer);
  Run run;
  PipelineCallbacks callbacks;
  if (with_state) callbacks.carry_state = carry_tag_state;
  callbacks.on_flagged_line = [&](std::uint64_t line) { run.flagged.push_back(line); };
  run.result = run_pipeline(source, sink, pointers, PipelineOptions{block_size}, callbacks);
  run.output = sink.text;
  return run;
}

std::vector<std::uint64_t> bad_line_numbers(const std::string& input) {
  std::vector<std::uint64_t> numbers;
  std::uint64_t number = 1;
  std::size_t start = 0;
  while (start < input.size()) {
    std::size_t end = input.find('\n', start);
    if (end == std::string::npos) end = input.size();
    if (input.substr(start, end - start).find("bad") != std::string::npos)
      numbers.push_back(number);
    ++number;
    start = end + 1;
  }
  return numbers;
}

}  // namespace

TEST_CASE("pipeline keeps every line in order for 1..8 threads and many block sizes",
          "[pipeline]") {
  std::mt19937 random(20261123);
  for (bool final_newline : {true, false}) {
    std::string input = random_log(random, 3000, 300);
    if (!final_newline) input += "last line without a newline";
    std::uint64_t expected_lines = 0;
    std::string expected = expected_output(input, &expected_lines);
    for (unsigned threads = 1; threads <= 8; ++threads) {
      for (std::size_t block_size : {4096u, 5000u, 65536u, 1u << 20}) {
        CAPTURE(final_newline, threads, block_size);
        Run result = run(input, threads, block_size);
        CHECK(result.output == expected);
        CHECK(result.result.lines == expected_lines);
        CHECK(result.result.bytes_read == input.size());
        CHECK(result.result.bytes_written == expected.size());
      }
    }
  }
}

TEST_CASE("pipeline carries lines longer than a block whole", "[pipeline]") {
  std::mt19937 random(7);
  std::string input =
      random_log(random, 50, 40000) + std::string(100000, 'x') + "\n" + random_log(random, 50, 30);
  for (unsigned threads : {1u, 3u}) {
    CHECK(run(input, threads, 4096).output == expected_output(input));
  }
}

TEST_CASE("pipeline hands the carried state to the block that follows", "[pipeline]") {
  // State changes right before and after block boundaries: each line must see the state of the last
  // "#state" line above it, whichever thread transforms it.
  std::string input;
  for (int i = 0; i < 2000; ++i) {
    input +=
        i % 7 == 0 ? "#state v" + std::to_string(i) + "\n" : std::string(90, 'a' + i % 26) + "\n";
  }
  std::string expected = expected_output(input);
  for (unsigned threads : {1u, 2u, 4u, 8u}) {
    CAPTURE(threads);
    CHECK(run(input, threads, 4096).output == expected);
  }
}

TEST_CASE("pipeline finds newlines at every offset of its 64-byte scan windows", "[pipeline]") {
  // Lines of every length from 0 to 200, then runs of empty lines: newlines land first, last and
  // alone in a window, twice in a row across a window's edge, and in a block's last short window.
  std::string input;
  for (std::size_t length = 0; length <= 200; ++length) input += std::string(length, 'x') + "\n";
  for (int run = 1; run <= 130; ++run)
    input += std::string(static_cast<std::size_t>(run), '\n') + "y";
  for (std::size_t block_size : {4096u, 4100u, 65536u}) {
    CAPTURE(block_size);
    std::uint64_t lines = 0;
    const std::string expected = expected_output(input, &lines);
    const Run result = run(input, 2, block_size);
    CHECK(result.output == expected);
    CHECK(result.result.lines == lines);
  }
}

TEST_CASE("pipeline keeps line terminators byte for byte", "[pipeline]") {
  CHECK(run("", 2, 4096).output.empty());
  CHECK(run("", 2, 4096).result.lines == 0);
  CHECK(run("\n", 1, 4096).output == "<|>\n");
  CHECK(run("\n\n\r\n", 1, 4096).output == "<|>\n<|>\n<|>\r\n");
  CHECK(run("a\r\nb\nc", 2, 4096).output == "<|a>\r\n<|b>\n<|c>");
  CHECK(run("a\r\nb\nc", 2, 4096).result.lines == 3);
  CHECK(run("no newline\r", 1, 4096).output == "<|no newline>\r");
  CHECK(run("mid\rline\n", 1, 4096).output == "<|mid\rline>\n");
}

TEST_CASE("pipeline reports flagged lines by their number, in order", "[pipeline]") {
  std::mt19937 random(99);
  std::string input = random_log(random, 5000, 120);
  auto expected = bad_line_numbers(input);
  REQUIRE(expected.size() > 100);
  for (unsigned threads : {1u, 4u}) {
    CHECK(run(input, threads, 4096).flagged == expected);
  }
}

TEST_CASE("pipeline processes a live source read by read", "[pipeline]") {
  std::mt19937 random(5);
  std::string input = random_log(random, 400, 60);
  std::string expected = expected_output(input);
  for (unsigned threads : {1u, 3u}) {
    CAPTURE(threads);
    MemorySource source(input, true, {1, 7, 3, 200, 13});
    StringSink sink;
    std::vector<TaggingTransformer> transformers(threads);
    std::vector<LineTransformer*> pointers;
    for (auto& transformer : transformers) pointers.push_back(&transformer);
    PipelineCallbacks callbacks;
    callbacks.carry_state = carry_tag_state;
    run_pipeline(source, sink, pointers, {}, callbacks);
    CHECK(sink.text == expected);
    CHECK(sink.flushes == static_cast<int>(sink.writes.size()));
    for (std::size_t i = 0; i + 1 < sink.writes.size(); ++i) CHECK(sink.writes[i].ends_with("\n"));
  }
}

TEST_CASE("pipeline writes a live line before the next input arrives", "[pipeline]") {
  // The source's second read only returns once the first line has reached the sink (or after a
  // generous bound): a pipeline that waited for more input would never write it.
  class WaitingSource : public ByteSource {
   public:
    explicit WaitingSource(StringSink& sink) : sink_(sink) {}
    std::size_t read(char* out, std::size_t) override {
      if (reads_++ == 0) {
        std::string_view first = "first line\n";
        std::copy(first.begin(), first.end(), out);
        return first.size();
      }
      std::unique_lock lock(sink_.mutex);
      seen_in_time = sink_.changed.wait_for(lock, std::chrono::seconds(30),
                                            [&] { return !sink_.text.empty(); });
      return 0;
    }
    bool live() const override { return true; }
    bool seen_in_time = false;

   private:
    StringSink& sink_;
    int reads_ = 0;
  };
  StringSink sink;
  WaitingSource source(sink);
  TaggingTransformer transformer;
  LineTransformer* pointers[] = {&transformer};
  run_pipeline(source, sink, pointers);
  CHECK(source.seen_in_time);
  CHECK(sink.text == "<|first line>\n");
  CHECK(sink.flushes >= 1);
}

TEST_CASE("pipeline keeps a bounded number of blocks in flight", "[pipeline]") {
  class Identity : public LineTransformer {
   public:
    bool transform_line(std::string_view line, std::string& out) override {
      out.append(line);
      return true;
    }
  };
  std::mt19937 random(11);
  std::string input = random_log(random, 20000, 100);
  MemorySource source(input, false);
  StringSink sink;
  Identity first, second;
  LineTransformer* pointers[] = {&first, &second};
  const std::size_t block_size = 4096;
  std::size_t worst_lead = 0;
  source.on_read = [&](std::size_t consumed) {
    std::lock_guard lock(sink.mutex);
    worst_lead = std::max(worst_lead, consumed - sink.text.size());
  };
  run_pipeline(source, sink, pointers, PipelineOptions{block_size});
  CHECK(sink.text == input);
  // One block per worker (the one being read included), each at most a block and a partial line.
  CHECK(worst_lead <= std::size(pointers) * (block_size + 200));
}

TEST_CASE("pipeline calls between_blocks only at line boundaries", "[pipeline]") {
  std::mt19937 random(3);
  std::string input = random_log(random, 3000, 100);
  MemorySource source(input, false);
  StringSink sink;
  TaggingTransformer first, second;
  LineTransformer* pointers[] = {&first, &second};
  int calls = 0;
  bool at_line_boundary = true;
  PipelineCallbacks callbacks;
  callbacks.carry_state = carry_tag_state;
  callbacks.between_blocks = [&] {
    ++calls;
    std::lock_guard lock(sink.mutex);
    at_line_boundary = at_line_boundary && (sink.text.empty() || sink.text.back() == '\n');
  };
  run_pipeline(source, sink, pointers, PipelineOptions{4096}, callbacks);
  CHECK(calls >= static_cast<int>(sink.writes.size()));
  CHECK(at_line_boundary);
  CHECK(sink.text == expected_output(input));
}

TEST_CASE("pipeline rethrows the first failure and stops", "[pipeline]") {
  std::string input;
  for (int i = 0; i < 5000; ++i) input += "line " + std::to_string(i) + "\n";
  SECTION("from a transformer") {
    std::string failing = input + "throw\n" + input;
    for (unsigned threads : {1u, 4u}) {
      CHECK_THROWS_WITH(run(failing, threads, 4096), "transformer failed");
    }
  }
  SECTION("from the sink") {
    class FailingSink : public ByteSink {
     public:
      void write(std::string_view) override {
        if (++writes == 3) throw std::runtime_error("disk full");
      }
      void flush() override {}
      int writes = 0;
    } sink;
    MemorySource source(input, false);
    TaggingTransformer first, second;
    LineTransformer* pointers[] = {&first, &second};
    CHECK_THROWS_WITH(run_pipeline(source, sink, pointers, PipelineOptions{4096}), "disk full");
  }
  SECTION("from the source") {
    class FailingSource : public ByteSource {
     public:
      std::size_t read(char* out, std::size_t capacity) override {
        if (++reads == 5) throw std::runtime_error("read error");
        std::fill_n(out, capacity, '\n');
        return capacity;
      }
      bool live() const override { return false; }
      int reads = 0;
    } source;
    StringSink sink;
    TaggingTransformer transformer;
    LineTransformer* pointers[] = {&transformer};
    CHECK_THROWS_WITH(run_pipeline(source, sink, pointers, PipelineOptions{4096}), "read error");
  }
}
