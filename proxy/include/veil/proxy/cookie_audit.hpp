// The cookie audit: every cookie the proxy observes, aggregated in memory by (name pattern,
// domain, path) and flushed as JSON lines that merge across flushes and proxy instances. It feeds
// `veil audit report`, the "cookies we use" table councils publish.
//
// Privacy: a record holds no cookie value, no address, nothing about a visitor: the name pattern
// generalises identifiers out of names (`_ga_ABC123` → `_ga_*`), and counts are per key.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace veil::proxy {

// What the audit flags about a cookie.
enum class CookieViolation : std::uint8_t {
  unclassified,          // no rule of the policy matches
  set_before_consent,    // its category is not granted, yet it was set or sent
  lifetime_over_policy,  // asked for a longer lifetime than the rule's max_age
  missing_secure,        // the rule requires Secure and the server did not set it
  missing_http_only,     // the rule requires HttpOnly and the server did not set it
  unparseable,           // a Set-Cookie a browser would ignore
};
inline constexpr std::size_t kCookieViolationKinds = 6;
std::string_view to_string(CookieViolation violation);
std::optional<CookieViolation> cookie_violation_from_string(std::string_view text);

// "_ga_*" for "_ga_ABC123", "_pk_id.*" for "_pk_id.1.1fff", "TS*" for "TS01a2b3c4": each
// alphanumeric run holding a digit (or longer than 24 characters, or any other character) becomes
// `*` (a first run keeps its leading letters), and consecutive `*` runs merge. At most 64 bytes.
std::string generalise_cookie_name(std::string_view name);

// One observation, made by the cookie filter.
struct CookieObservation {
  std::string_view name_pattern;  // the rule's pattern, or the generalised name when unclassified
  std::string_view domain;        // Domain attribute, else the request host
  std::string_view path = "/";
  std::string_view category;     // the category's name; "" when unclassified
  std::string_view rule;         // "file:line" of the rule; "" when unclassified
  bool from_set_cookie = false;  // true: a Set-Cookie; false: the request's Cookie header
  // Set-Cookie only: lifetimes in seconds from the response's Date (nullopt: session cookie).
  std::optional<std::int64_t> requested_lifetime;
  std::optional<std::int64_t> enforced_lifetime;
  bool secure = false;
  bool http_only = false;
  std::string_view same_site;  // "Strict", "Lax", "None" or ""
  // What enforce mode did (report-only mode observes these as false).
  bool removed = false;    // Set-Cookie dropped
  bool rewritten = false;  // Set-Cookie lifetime capped or attributes added
  bool expired = false;    // request cookie withdrawn: stripped upstream, expired in the browser
  std::array<bool, kCookieViolationKinds> violations{};
  std::chrono::system_clock::time_point when;
};

// The aggregate of one key; also one line of the audit file.
struct CookieAuditRecord {
  std::string name_pattern, domain, path;
  std::string category;                                   // "" when unclassified
  std::string rule;                                       // "file:line"
  std::int64_t first_seen = 0, last_seen = 0;             // Unix seconds
  std::uint64_t seen = 0;                                 // observations in total
  std::uint64_t set_by_server = 0;                        // in Set-Cookie
  std::uint64_t sent_by_browser = 0;                      // in the request's Cookie header
  std::uint64_t removed = 0, rewritten = 0, expired = 0;  // enforced actions
  std::uint64_t session = 0;                              // session Set-Cookies
  std::optional<std::int64_t> max_requested_lifetime, max_enforced_lifetime;  // seconds
  std::uint64_t secure = 0, http_only = 0;  // Set-Cookies carrying the flag (as sent)
  std::string same_site;                    // the last seen
  std::array<std::uint64_t, kCookieViolationKinds> violations{};

  // Folds `other` (same key) in: counts add, first_seen min, last_seen and lifetimes max.
  void merge(const CookieAuditRecord& other);
  // Server-set when any Set-Cookie was seen; a cookie only ever seen in requests was written by
  // JavaScript (or before the audit began).
  std::string_view how_set() const { return set_by_server > 0 ? "server" : "javascript"; }
};

// One JSON object, no newline.
std::string to_json_line(const CookieAuditRecord& record);
// Throws std::invalid_argument saying what is wrong with the line.
CookieAuditRecord parse_audit_line(std::string_view line);

// The in-memory aggregate. Thread-safe: keys are spread over shards, each behind its own mutex
// held only to update one record.
class CookieAudit {
 public:
  // Distinct keys kept between flushes; observations of further keys are dropped and counted,
  // so that requests with made-up cookie names or Host headers cannot grow memory without bound.
  static constexpr std::size_t kMaxKeys = 20'000;

  void record(const CookieObservation& observation);
  // Every record since the last take (sorted by key), and a fresh start: flushed records are
  // summed by the reader, so each observation is written once.
  std::vector<CookieAuditRecord> take();
  std::uint64_t dropped() const;

 private:
  static constexpr std::size_t kShards = 16;
  // A key ("pattern\0domain\0path") carries its hash, computed once per observation for both the
  // shard and the map; lookups take a view, so an observation of a known key allocates nothing.
  struct Key {
    std::string text;
    std::size_t hash = 0;
  };
  struct KeyView {
    std::string_view text;
    std::size_t hash = 0;
  };
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(const Key& key) const noexcept { return key.hash; }
    std::size_t operator()(const KeyView& key) const noexcept { return key.hash; }
  };
  struct KeyEqual {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const noexcept {
      return std::string_view(a.text) == std::string_view(b.text);
    }
  };
  using Records = std::unordered_map<Key, CookieAuditRecord, KeyHash, KeyEqual>;
  struct Shard {
    mutable std::mutex mutex;
    Records records;
  };
  std::array<Shard, kShards> shards_;
  std::atomic<std::size_t> keys_{0};
  std::atomic<std::uint64_t> dropped_{0};
};

// Appends `records` to `path` as JSON lines in one write (O_APPEND: instances sharing a file do
// not interleave within a flush). Throws std::runtime_error naming the file on failure.
void append_audit_records(const std::string& path, const std::vector<CookieAuditRecord>& records);

// Writes the audit to a file every `interval` and once more when destroyed (at shutdown).
class CookieAuditFlusher {
 public:
  // `on_error` receives a message for a failed write (the records of that flush are lost).
  CookieAuditFlusher(CookieAudit& audit, std::string path, std::chrono::seconds interval,
                     std::function<void(const std::string&)> on_error = {});
  CookieAuditFlusher(const CookieAuditFlusher&) = delete;
  CookieAuditFlusher& operator=(const CookieAuditFlusher&) = delete;
  ~CookieAuditFlusher();

  // Writes what has accumulated now.
  void flush();

 private:
  void run();

  CookieAudit& audit_;
  std::string path_;
  std::chrono::seconds interval_;
  std::function<void(const std::string&)> on_error_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace veil::proxy
