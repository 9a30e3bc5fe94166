// Loading a policy file: YAML → validated, compiled Policy, or every problem found, each with its
// position. Used by `veil policy check`, the proxy at start-up and on SIGHUP, and the tests.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "veil/policies/policy.hpp"

namespace veil::policies {

struct Diagnostic {
  enum class Severity : std::uint8_t { error, warning };
  Severity severity = Severity::error;
  std::string file;
  int line = 0;  // 1-based; 0 when the problem has no position (e.g. an unreadable file)
  int column = 0;
  std::string message;
};
// "file:line:col: error: message" (or "file: error: message" without a position).
std::string to_string(const Diagnostic& diagnostic);

struct LoadResult {
  std::shared_ptr<const Policy> policy;  // null when any error was found
  std::vector<Diagnostic> diagnostics;   // errors and warnings, in file order
  bool ok() const { return policy != nullptr; }
};

// Reads and checks a policy file. Relative file names inside it (TLS files, key file, logs) are
// resolved against the policy file's directory.
LoadResult load_policy(const std::string& path);

// The same for policy text; `name` is the file name diagnostics carry; relative file names inside
// resolve against `base_directory` (empty = the current directory).
LoadResult load_policy_from_string(std::string_view text, const std::string& name,
                                   const std::string& base_directory = {});

// Parses "30s", "30m", "2h", "2d", "2w", "13mo", "1y" and sums such as "1h30m" (mo = 30 days,
// y = 365 days).
std::optional<Duration> parse_duration(std::string_view text);
// Parses "512", "8KiB", "1MiB", "8k", "1m", "1g" (binary multiples) into bytes.
std::optional<std::size_t> parse_size(std::string_view text);
// Parses a CIDR such as "10.0.0.0/8", "2001:db8::/32", or a single address (full prefix).
std::optional<Cidr> parse_cidr(std::string_view text);
// Parses "HOST:PORT" with an IP literal host ("[::1]:8443" for IPv6).
std::optional<Endpoint> parse_endpoint(std::string_view text);

// Levenshtein distance, for "did you mean" suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);
// The closest of `candidates` to `word` if it is close enough to be a likely misspelling.
std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string_view>& candidates);

}  // namespace veil::policies
