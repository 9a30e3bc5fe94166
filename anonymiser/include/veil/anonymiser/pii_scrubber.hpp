// Finds and replaces personal data (e-mail addresses, UK postcodes, phone numbers, National
// Insurance and NHS numbers, or policy-supplied rules) in one log field. Apply it only to the
// request target, referrer and user fields: on whole lines the NHS pattern mistakes a status and
// byte count for a number (shared/reference/logs-and-anonymisation.md §8).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "veil/anonymiser/settings.hpp"

namespace veil::anonymiser {

// Bytes [begin, end) of the scanned text matched by rules()[rule].
struct PiiMatch {
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
  std::uint32_t rule = 0;
};

// Not thread-safe (it keeps scratch space); one per worker thread, copied from the first.
class PiiScrubber {
 public:
  // Compiles the rules once. Throws std::invalid_argument naming a rule whose pattern RE2 rejects.
  explicit PiiScrubber(std::vector<PiiRule> rules);
  // A scrubber for another thread: it shares the compiled rules, which are never changed, and has
  // scratch space of its own.
  PiiScrubber(const PiiScrubber& other);
  PiiScrubber& operator=(const PiiScrubber&) = delete;
  ~PiiScrubber();
  PiiScrubber(PiiScrubber&&) noexcept;
  PiiScrubber& operator=(PiiScrubber&&) noexcept;

  const std::vector<PiiRule>& rules() const;

  // Replaces `matches` with the PII found in `text`: in order, non-overlapping (the earliest, then
  // longest, match wins), each having passed its rule's check. Fields that cannot hold any built-in
  // rule's match (no '@', too few digits...) are rejected without running a regex.
  void find(std::string_view text, std::vector<PiiMatch>& matches);

  // Appends `text` to `out` with each of `matches` (found in the same text) replaced by its rule's
  // marker.
  void replace(std::string_view text, std::span<const PiiMatch> matches, std::string& out) const;

  // find() then replace(); returns the number of matches replaced.
  std::size_t scrub(std::string_view text, std::string& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The NHS number check: ten digits (separators ignored) whose last is the mod-11 check digit of the
// first nine.
bool valid_nhs_number(std::string_view text);

}  // namespace veil::anonymiser
