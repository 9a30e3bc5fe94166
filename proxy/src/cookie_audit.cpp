#include "veil/proxy/cookie_audit.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <tuple>
#include <utility>

namespace veil::proxy {
namespace {

constexpr std::array<std::string_view, kCookieViolationKinds> kViolationNames = {
    "unclassified",   "set_before_consent", "lifetime_over_policy",
    "missing_secure", "missing_http_only",  "unparseable",
};

constexpr std::size_t kMaxPatternBytes = 64;
constexpr std::size_t kMaxLiteralRun = 24;

bool is_separator(char c) {
  return c == '_' || c == '-' || c == '.';
}

std::int64_t unix_seconds(std::chrono::system_clock::time_point when) {
  return std::chrono::duration_cast<std::chrono::seconds>(when.time_since_epoch()).count();
}

// "2026-11-23T10:00:00Z": fixed width, so text order is time order.
std::string format_utc(std::int64_t seconds) {
  using namespace std::chrono;
  const sys_seconds time{std::chrono::seconds{seconds}};
  const auto day = floor<days>(time);
  const year_month_day date{day};
  const hh_mm_ss clock{time - day};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                     clock.hours().count(), clock.minutes().count(), clock.seconds().count());
}

std::optional<std::int64_t> parse_utc(std::string_view text) {
  using namespace std::chrono;
  int y = 0;
  unsigned mo = 0, d = 0, h = 0, mi = 0, s = 0;
  char z = 0;
  const std::string copy(text);
  if (text.size() != 20 ||
      std::sscanf(copy.c_str(), "%4d-%2u-%2uT%2u:%2u:%2u%c", &y, &mo, &d, &h, &mi, &s, &z) != 7 ||
      z != 'Z' || h > 23 || mi > 59 || s > 60) {
    return std::nullopt;
  }
  const year_month_day date{year{y}, month{mo}, day{d}};
  if (!date.ok()) return std::nullopt;
  const sys_seconds time = sys_days{date} + hours{h} + minutes{mi} + seconds{s};
  return time.time_since_epoch().count();
}

// The record key of an observation, written into `key` (reused: no allocation once it is large
// enough).
void write_record_key(std::string& key, const CookieObservation& observation) {
  key.clear();
  key.append(observation.name_pattern).push_back('\0');
  key.append(observation.domain).push_back('\0');
  key.append(observation.path);
}

void max_into(std::optional<std::int64_t>& into, std::optional<std::int64_t> value) {
  if (value && (!into || *value > *into)) into = value;
}

}  // namespace

std::string_view to_string(CookieViolation violation) {
  return kViolationNames[static_cast<std::size_t>(violation)];
}

std::optional<CookieViolation> cookie_violation_from_string(std::string_view text) {
  for (std::size_t i = 0; i < kViolationNames.size(); ++i) {
    if (kViolationNames[i] == text) return static_cast<CookieViolation>(i);
  }
  return std::nullopt;
}

std::string generalise_cookie_name(std::string_view name) {
  std::string pattern;
  pattern.reserve(std::min(name.size(), kMaxPatternBytes));
  bool first_run = true;
  for (std::size_t i = 0; i < name.size();) {
    if (is_separator(name[i])) {
      pattern.push_back(name[i++]);
      continue;
    }
    std::size_t end = i;
    bool literal = true;
    while (end < name.size() && !is_separator(name[end])) {
      const auto c = static_cast<unsigned char>(name[end]);
      if (!std::isalpha(c)) literal = false;
      ++end;
    }
    const std::string_view run = name.substr(i, end - i);
    if (literal && run.size() <= kMaxLiteralRun) {
      pattern.append(run);
    } else {
      if (first_run) {
        std::size_t letters = 0;
        while (letters < run.size() && letters < kMaxLiteralRun &&
               std::isalpha(static_cast<unsigned char>(run[letters]))) {
          ++letters;
        }
        pattern.append(run.substr(0, letters));
      }
      // "*.*" and "*_*" say no more than "*".
      while (pattern.size() >= 2 && pattern.back() != '*' && is_separator(pattern.back()) &&
             pattern[pattern.size() - 2] == '*') {
        pattern.pop_back();
      }
      if (pattern.empty() || pattern.back() != '*') pattern.push_back('*');
    }
    first_run = false;
    i = end;
  }
  if (pattern.size() > kMaxPatternBytes) {
    pattern.resize(kMaxPatternBytes - 1);
    pattern.push_back('*');
  }
  return pattern;
}

void CookieAuditRecord::merge(const CookieAuditRecord& other) {
  if (category.empty()) category = other.category;
  if (rule.empty()) rule = other.rule;
  if (seen == 0 || (other.seen > 0 && other.first_seen < first_seen)) first_seen = other.first_seen;
  last_seen = std::max(last_seen, other.last_seen);
  seen += other.seen;
  set_by_server += other.set_by_server;
  sent_by_browser += other.sent_by_browser;
  removed += other.removed;
  rewritten += other.rewritten;
  expired += other.expired;
  session += other.session;
  max_into(max_requested_lifetime, other.max_requested_lifetime);
  max_into(max_enforced_lifetime, other.max_enforced_lifetime);
  secure += other.secure;
  http_only += other.http_only;
  if (!other.same_site.empty()) same_site = other.same_site;
  for (std::size_t i = 0; i < violations.size(); ++i) violations[i] += other.violations[i];
}

std::string to_json_line(const CookieAuditRecord& record) {
  namespace json = boost::json;
  json::object object;
  object["name"] = record.name_pattern;
  object["domain"] = record.domain;
  object["path"] = record.path;
  object["category"] = record.category;
  object["rule"] = record.rule;
  object["first_seen"] = format_utc(record.first_seen);
  object["last_seen"] = format_utc(record.last_seen);
  object["seen"] = record.seen;
  object["set_by_server"] = record.set_by_server;
  object["sent_by_browser"] = record.sent_by_browser;
  object["removed"] = record.removed;
  object["rewritten"] = record.rewritten;
  object["expired"] = record.expired;
  object["session"] = record.session;
  const auto lifetime = [](std::optional<std::int64_t> value) -> json::value {
    return value ? json::value(*value) : json::value(nullptr);
  };
  object["max_requested_lifetime"] = lifetime(record.max_requested_lifetime);
  object["max_enforced_lifetime"] = lifetime(record.max_enforced_lifetime);
  object["secure"] = record.secure;
  object["http_only"] = record.http_only;
  object["same_site"] = record.same_site;
  json::object violations;
  for (std::size_t i = 0; i < kViolationNames.size(); ++i) {
    if (record.violations[i] > 0) violations[kViolationNames[i]] = record.violations[i];
  }
  object["violations"] = std::move(violations);
  return json::serialize(object);
}

CookieAuditRecord parse_audit_line(std::string_view line) {
  namespace json = boost::json;
  boost::system::error_code error;
  const json::value value = json::parse(line, error);
  if (error) throw std::invalid_argument("not JSON: " + error.message());
  const json::object* object = value.if_object();
  if (object == nullptr) throw std::invalid_argument("not a JSON object");

  const auto field = [&](std::string_view name) -> const json::value& {
    const json::value* found = object->if_contains(name);
    if (found == nullptr) throw std::invalid_argument("no \"" + std::string(name) + "\"");
    return *found;
  };
  const auto text = [&](std::string_view name) {
    const json::string* string = field(name).if_string();
    if (string == nullptr) {
      throw std::invalid_argument("\"" + std::string(name) + "\" is not a string");
    }
    return std::string(*string);
  };
  const auto count_of = [](const json::value& number, std::string_view name) {
    if (const auto* u = number.if_uint64()) return *u;
    if (const auto* i = number.if_int64(); i != nullptr && *i >= 0) {
      return static_cast<std::uint64_t>(*i);
    }
    throw std::invalid_argument("\"" + std::string(name) + "\" is not a count");
  };
  const auto count = [&](std::string_view name) { return count_of(field(name), name); };
  const auto lifetime = [&](std::string_view name) -> std::optional<std::int64_t> {
    const json::value& number = field(name);
    if (number.is_null()) return std::nullopt;
    if (const auto* i = number.if_int64()) return *i;
    if (const auto* u = number.if_uint64()) return static_cast<std::int64_t>(*u);
    throw std::invalid_argument("\"" + std::string(name) + "\" is not a number of seconds");
  };
  const auto time = [&](std::string_view name) {
    auto seconds = parse_utc(text(name));
    if (!seconds) {
      throw std::invalid_argument("\"" + std::string(name) +
                                  "\" is not a time like 2026-01-31T12:00:00Z");
    }
    return *seconds;
  };

  CookieAuditRecord record;
  record.name_pattern = text("name");
  if (record.name_pattern.empty()) throw std::invalid_argument("\"name\" is empty");
  record.domain = text("domain");
  record.path = text("path");
  record.category = text("category");
  record.rule = text("rule");
  record.first_seen = time("first_seen");
  record.last_seen = time("last_seen");
  record.seen = count("seen");
  record.set_by_server = count("set_by_server");
  record.sent_by_browser = count("sent_by_browser");
  record.removed = count("removed");
  record.rewritten = count("rewritten");
  record.expired = count("expired");
  record.session = count("session");
  record.max_requested_lifetime = lifetime("max_requested_lifetime");
  record.max_enforced_lifetime = lifetime("max_enforced_lifetime");
  record.secure = count("secure");
  record.http_only = count("http_only");
  record.same_site = text("same_site");
  const json::object* violations = field("violations").if_object();
  if (violations == nullptr) throw std::invalid_argument("\"violations\" is not an object");
  for (const auto& [name, number] : *violations) {
    const auto kind = cookie_violation_from_string(name);
    if (!kind) throw std::invalid_argument("unknown violation \"" + std::string(name) + "\"");
    record.violations[static_cast<std::size_t>(*kind)] = count_of(number, name);
  }
  return record;
}

void CookieAudit::record(const CookieObservation& observation) {
  thread_local std::string key_text;
  write_record_key(key_text, observation);
  const KeyView key{key_text, std::hash<std::string_view>{}(key_text)};
  Shard& shard = shards_[key.hash % kShards];
  const std::int64_t now = unix_seconds(observation.when);

  std::lock_guard lock(shard.mutex);
  auto found = shard.records.find(key);
  if (found == shard.records.end()) {
    if (keys_.fetch_add(1, std::memory_order_relaxed) >= kMaxKeys) {
      keys_.fetch_sub(1, std::memory_order_relaxed);
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    CookieAuditRecord fresh;
    fresh.name_pattern = observation.name_pattern;
    fresh.domain = observation.domain;
    fresh.path = observation.path;
    fresh.category = observation.category;
    fresh.rule = observation.rule;
    fresh.first_seen = now;
    found = shard.records.emplace(Key{std::string(key.text), key.hash}, std::move(fresh)).first;
  }
  CookieAuditRecord& record = found->second;
  record.first_seen = std::min(record.first_seen, now);
  record.last_seen = std::max(record.last_seen, now);
  ++record.seen;
  if (observation.from_set_cookie) {
    ++record.set_by_server;
    if (!observation.requested_lifetime) ++record.session;
    max_into(record.max_requested_lifetime, observation.requested_lifetime);
    max_into(record.max_enforced_lifetime, observation.enforced_lifetime);
    record.secure += observation.secure;
    record.http_only += observation.http_only;
    if (!observation.same_site.empty()) record.same_site = observation.same_site;
  } else {
    ++record.sent_by_browser;
  }
  record.removed += observation.removed;
  record.rewritten += observation.rewritten;
  record.expired += observation.expired;
  for (std::size_t i = 0; i < kCookieViolationKinds; ++i) {
    record.violations[i] += observation.violations[i];
  }
}

std::vector<CookieAuditRecord> CookieAudit::take() {
  std::vector<CookieAuditRecord> records;
  for (Shard& shard : shards_) {
    Records taken;
    {
      std::lock_guard lock(shard.mutex);
      taken.swap(shard.records);
    }
    keys_.fetch_sub(taken.size(), std::memory_order_relaxed);
    for (auto& entry : taken) records.push_back(std::move(entry.second));
  }
  std::sort(records.begin(), records.end(), [](const auto& a, const auto& b) {
    return std::tie(a.name_pattern, a.domain, a.path) < std::tie(b.name_pattern, b.domain, b.path);
  });
  return records;
}

std::uint64_t CookieAudit::dropped() const {
  return dropped_.load(std::memory_order_relaxed);
}

void append_audit_records(const std::string& path, const std::vector<CookieAuditRecord>& records) {
  if (records.empty()) return;
  std::string text;
  for (const auto& record : records) {
    text += to_json_line(record);
    text.push_back('\n');
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0)
    throw std::runtime_error(path + ": cannot open the audit file: " + std::strerror(errno));
  std::string_view rest = text;
  while (!rest.empty()) {
    const ssize_t written = ::write(fd, rest.data(), rest.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) {
      const int saved = errno;
      ::close(fd);
      throw std::runtime_error(path + ": cannot write the audit file: " + std::strerror(saved));
    }
    rest.remove_prefix(static_cast<std::size_t>(written));
  }
  if (::close(fd) != 0) {
    throw std::runtime_error(path + ": cannot write the audit file: " + std::strerror(errno));
  }
}

CookieAuditFlusher::CookieAuditFlusher(CookieAudit& audit, std::string path,
                                       std::chrono::seconds interval,
                                       std::function<void(const std::string&)> on_error)
    : audit_(audit),
      path_(std::move(path)),
      interval_(std::max(interval, std::chrono::seconds{1})),
      on_error_(std::move(on_error)),
      thread_([this] { run(); }) {}

CookieAuditFlusher::~CookieAuditFlusher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  flush();
}

void CookieAuditFlusher::flush() {
  try {
    append_audit_records(path_, audit_.take());
  } catch (const std::exception& error) {
    if (on_error_) on_error_(error.what());
  }
}

void CookieAuditFlusher::run() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, interval_, [this] { return stopping_; })) {
    lock.unlock();
    flush();
    lock.lock();
  }
}

}  // namespace veil::proxy
