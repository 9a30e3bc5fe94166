// Anonymises one log line: addresses everywhere, PII only in the request target, referrer and user
// fields. CONTRACT (implemented in src/line_anonymiser.cpp); the streaming pipeline and the proxy's
// access log use it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "veil/anonymiser/address_anonymiser.hpp"
#include "veil/anonymiser/settings.hpp"

namespace veil::anonymiser {

struct LineStats {
  std::uint64_t lines = 0;
  std::uint64_t addresses = 0;  // addresses replaced
  std::uint64_t pii = 0;        // PII matches replaced
  std::uint64_t unparsed =
      0;  // lines that did not match their format (still fully address-scanned)
  LineStats& operator+=(const LineStats& other);
};

// Picks a format from the first lines of an input (up to a few KiB); `plain` when nothing fits.
LogFormat detect_format(std::string_view sample);

// Not thread-safe; one per worker thread.
class LineAnonymiser {
 public:
  // `format` must not be `automatic`. Throws std::invalid_argument for a bad PII pattern (naming
  // the rule).
  LineAnonymiser(const AnonymiseSettings& settings, LogFormat format, const MasterKey& key);
  ~LineAnonymiser();
  LineAnonymiser(LineAnonymiser&&) noexcept;
  LineAnonymiser& operator=(LineAnonymiser&&) noexcept;

  // Another anonymiser with the same settings and key, for another thread: it shares the compiled
  // PII rules (compiling them is most of what building one costs) and starts with empty caches
  // and statistics.
  LineAnonymiser clone() const;

  // Appends the anonymised form of `line` (given without its line terminator) to `out`.
  void anonymise_line(std::string_view line, std::string& out);

  const LineStats& stats() const;

  // Formats with state that lines depend on (W3C `#Fields:` directives) carry it between blocks
  // processed on different threads: `carry_state` runs sequentially over each block in input order
  // and returns the state in force after it; a worker calls `set_state` with the state in force
  // before its block. For stateless formats the state is empty.
  static std::string carry_state(LogFormat format, std::string_view block, std::string state);
  void set_state(std::string_view state);

 private:
  struct Impl;
  explicit LineAnonymiser(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace veil::anonymiser
