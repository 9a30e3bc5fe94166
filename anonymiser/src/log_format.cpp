#include "veil/anonymiser/log_format.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "chunk_load.hpp"
#include "log_time.hpp"

namespace veil::anonymiser {
namespace {

constexpr auto npos = std::string_view::npos;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return ascii_lower(x) == ascii_lower(y);
         });
}

bool icontains(std::string_view haystack, std::string_view needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                     [](char x, char y) { return ascii_lower(x) == ascii_lower(y); }) !=
         haystack.end();
}

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), is_digit);
}

// ---------------------------------------------------------------------------------------------
// nginx / Apache: [vhost:port ]host ident user [time] "request" status bytes ["referrer" "agent"
// ...]

// Index of the quote closing the field opened at `open`: the first unescaped '"' followed by a
// space or the end of the line (Apache and nginx escape '"' and '\' inside; a stray raw quote from
// old Apache versions is taken as content).
std::size_t closing_quote(std::string_view line, std::size_t open) {
  const char* data = line.data();
  for (std::size_t pos = open + 1; pos < line.size();) {
    const auto* quote = static_cast<const char*>(std::memchr(data + pos, '"', line.size() - pos));
    if (quote == nullptr) return npos;
    const auto index = static_cast<std::size_t>(quote - data);
    std::size_t backslashes = 0;
    while (index - backslashes > open + 1 && data[index - backslashes - 1] == '\\') ++backslashes;
    if (backslashes % 2 == 0 && (index + 1 == line.size() || data[index + 1] == ' ')) return index;
    pos = index + 1;
  }
  return npos;
}

// Bit i set when text[chunk + i] is a space, up to 16 bytes.
std::uint32_t space_mask(std::string_view text, std::size_t chunk) {
#if defined(__SSE2__)
  if (const auto load = chunk_load(text, chunk)) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(load->bytes));
    const __m128i spaces = _mm_cmpeq_epi8(bytes, _mm_set1_epi8(' '));
    return static_cast<std::uint32_t>(_mm_movemask_epi8(spaces)) >> load->skipped;
  }
#endif
  std::uint32_t mask = 0;
  for (std::size_t i = chunk; i < text.size() && i < chunk + 16; ++i) {
    if (text[i] == ' ') mask |= 1u << (i - chunk);
  }
  return mask;
}

// Apache `vhost_combined` starts with `%v:%p`: a name followed by a port.
bool looks_like_vhost(std::string_view token) {
  auto colon = token.rfind(':');
  return colon != npos && colon > 0 && all_digits(token.substr(colon + 1));
}

class AccessLogParser final : public LineParser {
 public:
  explicit AccessLogParser(bool require_referrer_and_agent)
      : require_referrer_and_agent_(require_referrer_and_agent) {}

  bool parse(std::string_view line, ParsedLine& out) override {
    out.clear();
    auto time_open = find_timestamp(line, out.day);
    if (time_open == npos || !parse_prefix(line, time_open, out)) return false;
    const std::size_t time_close = time_open + 28;  // " [" + 26 bytes of time
    out.add(time_open + 1, time_close + 1, FieldRole::plain);

    std::size_t pos = time_close + 1;
    if (!starts_with_at(line, pos, " \"")) return false;
    auto request_end = closing_quote(line, pos + 1);
    if (request_end == npos) return false;
    const std::size_t protocol_end = add_target(line, pos + 2, request_end, out);
    pos = request_end + 1;
    for (int number = 0; number < 2; ++number) {  // status, then bytes (%b, %B or Debian's %O)
      if (pos >= line.size() || line[pos] != ' ') return false;
      pos = number_end(line, pos + 1);
      if (pos == npos) return false;
    }
    // The HTTP version, status and size hold no address: nothing to scan between the target and the
    // referrer.
    out.add(protocol_end, pos, FieldRole::plain);
    if (starts_with_at(line, pos, " \"")) {
      auto referrer_end = closing_quote(line, pos + 1);
      if (referrer_end == npos) return false;
      if (referrer_end > pos + 2) out.add(pos + 2, referrer_end, FieldRole::referrer);
      pos = referrer_end + 1;
      // Anything after the user agent (X-Forwarded-For, timings) needs no span: the line
      // anonymiser scans it for addresses as it is.
      if (starts_with_at(line, pos, " \"")) {
        auto agent_end = closing_quote(line, pos + 1);
        if (agent_end != npos && agent_end > pos + 2) out.add(pos + 2, agent_end, FieldRole::agent);
        return true;
      }
    }
    return !require_referrer_and_agent_ && (pos == line.size() || line[pos] == ' ');
  }

 private:
  static bool starts_with_at(std::string_view line, std::size_t pos, std::string_view prefix) {
    return pos <= line.size() && line.substr(pos).starts_with(prefix);
  }

  // Where the number (digits, or "-" for none) starting at `pos` ends, at a space or the end of the
  // line; npos when there is none. One pass: every line has two.
  static std::size_t number_end(std::string_view line, std::size_t pos) {
    std::size_t end = pos;
    while (end < line.size() && is_digit(line[end])) ++end;
    if (end == pos && end < line.size() && line[end] == '-') ++end;
    return end > pos && (end == line.size() || line[end] == ' ') ? end : npos;
  }

  // The first space at or after `pos`, or the end of the line. Fields before the request are a few
  // bytes long: a plain loop beats a memchr call.
  static std::size_t next_space(std::string_view line, std::size_t pos) {
    while (pos < line.size() && line[pos] != ' ') ++pos;
    return pos;
  }

  // Position of the " [" opening the first well-formed `%t`, whose day goes to `day`.
  std::size_t find_timestamp(std::string_view line, std::optional<std::int32_t>& day) {
    for (auto open = line.find('['); open != npos; open = line.find('[', open + 1)) {
      if (open == 0 || line[open - 1] != ' ' || open + 27 >= line.size() ||
          line[open + 27] != ']') {
        continue;
      }
      day = days_.day_of(line.substr(open + 1, 26));
      if (day) return open - 1;
    }
    return npos;
  }

  // host ident user (user may contain spaces), optionally after a `vhost:port`.
  static bool parse_prefix(std::string_view line, std::size_t time_open, ParsedLine& out) {
    std::array<std::size_t, 5> starts{};
    std::size_t tokens = 0;
    std::size_t pos = 0;  // where the next token starts
    // Up to the space before '[': the spaces that end the tokens, 16 bytes at a time.
    const auto prefix = line.substr(0, time_open + 1);
    for (std::size_t chunk = 0; tokens < starts.size() && pos < time_open; chunk += 16) {
      for (std::uint32_t spaces = space_mask(prefix, chunk);
           spaces != 0 && tokens < starts.size() && pos < time_open; spaces &= spaces - 1) {
        const std::size_t space = chunk + static_cast<std::size_t>(std::countr_zero(spaces));
        if (space == pos) return false;  // empty token
        starts[tokens++] = pos;
        pos = space + 1;
      }
    }
    if (tokens < 3) return false;
    std::size_t client = 0;
    if (tokens >= 4 && looks_like_vhost(line.substr(0, starts[1] - 1))) client = 1;
    out.add(starts[client], starts[client + 1] - 1, FieldRole::client);
    out.add(starts[client + 2], time_open, FieldRole::user);
    return true;
  }

  // "%r" is `METHOD target PROTOCOL`; anything else (a probe's junk) is all target. Returns where
  // the request's text to scan for addresses ends: before the protocol when it is an HTTP version,
  // else at the closing quote at `end`.
  static std::size_t add_target(std::string_view line, std::size_t begin, std::size_t end,
                                ParsedLine& out) {
    auto request = line.substr(begin, end - begin);
    auto first_space = next_space(request, 0);
    std::size_t scanned_to = end;
    if (first_space < request.size()) {
      // memrchr, not rfind, which steps back one byte at a time; the first space is there at least.
      const auto* last_space_at =
          static_cast<const char*>(memrchr(request.data(), ' ', request.size()));
      const auto last_space = static_cast<std::size_t>(last_space_at - request.data());
      begin += first_space + 1;
      if (last_space > first_space) {
        end = begin + (last_space - first_space - 1);
        if (is_http_version(request.substr(last_space + 1))) scanned_to = end;
      }
    }
    if (end > begin) out.add(begin, end, FieldRole::target);
    return scanned_to;
  }

  // "HTTP/1.1", "HTTP/2": too few dots and digits for an address.
  static bool is_http_version(std::string_view protocol) {
    if (!protocol.starts_with("HTTP/")) return false;
    const auto version = protocol.substr(5);
    return (version.size() == 1 && is_digit(version[0])) ||
           (version.size() == 3 && is_digit(version[0]) && version[1] == '.' &&
            is_digit(version[2]));
  }

  bool require_referrer_and_agent_;
  ClfDays days_;
};

// ---------------------------------------------------------------------------------------------
// IIS / W3C extended: columns named by the `#Fields:` directive in force.

constexpr std::string_view kFieldsDirective = "#Fields:";

enum class W3cColumn : std::uint8_t {
  other,
  date,
  time,
  client,
  address_list,
  target,
  referrer,
  user
};

W3cColumn column_for(std::string_view name) {
  if (iequals(name, "date")) return W3cColumn::date;
  if (iequals(name, "time")) return W3cColumn::time;
  if (iequals(name, "c-ip")) return W3cColumn::client;
  if (iequals(name, "cs-uri-stem") || iequals(name, "cs-uri-query")) return W3cColumn::target;
  if (iequals(name, "cs(Referer)") || iequals(name, "cs(Referrer)")) return W3cColumn::referrer;
  if (iequals(name, "cs-username")) return W3cColumn::user;
  // Custom fields (IIS 8.5+) carry admin-chosen names: X-Forwarded-For, X-Real-IP,
  // True-Client-IP...
  if (icontains(name, "forwarded") || icontains(name, "client-ip") || icontains(name, "real-ip") ||
      icontains(name, "connecting-ip")) {
    return W3cColumn::address_list;
  }
  return W3cColumn::other;
}

// `hh:mm:ss` with an optional fraction, as IIS writes its `time` column.
bool is_clock_time(std::string_view text) {
  if (text.size() < 8 || text[2] != ':' || text[5] != ':') return false;
  for (std::size_t i : {0, 1, 3, 4, 6, 7}) {
    if (!is_digit(text[i])) return false;
  }
  if (text.size() == 8) return true;
  return text[8] == '.' && all_digits(text.substr(9));
}

std::string_view without_trailing_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

class W3cParser final : public LineParser {
 public:
  bool parse(std::string_view line, ParsedLine& out) override {
    out.clear();
    if (!line.empty() && line.front() == '#') {
      if (line.starts_with(kFieldsDirective)) set_state(line);
      return true;
    }
    if (columns_.empty()) return false;
    while (!line.empty() && line.back() == ' ') line.remove_suffix(1);
    std::size_t column = 0;
    std::size_t pos = 0;
    while (pos <= line.size()) {
      auto end = std::min(line.find(' ', pos), line.size());
      if (column >= columns_.size()) return false;
      if (!add_column(line, pos, end, columns_[column], out)) return false;
      ++column;
      pos = end + 1;
    }
    return column == columns_.size();
  }

  std::string state() const override { return fields_line_; }

  void set_state(std::string_view state) override {
    columns_.clear();
    if (!state.starts_with(kFieldsDirective)) {
      fields_line_.clear();
      return;
    }
    fields_line_ = state;
    auto names = state.substr(kFieldsDirective.size());
    std::size_t pos = 0;
    while (pos < names.size()) {
      if (names[pos] == ' ' || names[pos] == '\t') {
        ++pos;
        continue;
      }
      auto end = std::min(names.find_first_of(" \t", pos), names.size());
      columns_.push_back(column_for(names.substr(pos, end - pos)));
      pos = end;
    }
  }

 private:
  static bool add_column(std::string_view line, std::size_t begin, std::size_t end,
                         W3cColumn column, ParsedLine& out) {
    switch (column) {
      case W3cColumn::other:
        return true;
      // The timestamp is the one span not scanned for addresses, so it must really be a date and
      // a time: a line with anything else there does not match.
      case W3cColumn::date:
        out.day = iso8601_day(line.substr(begin, end - begin));
        return out.day && out.add(begin, end, FieldRole::plain);
      case W3cColumn::time:
        return is_clock_time(line.substr(begin, end - begin)) &&
               out.add(begin, end, FieldRole::plain);
      case W3cColumn::client:
        return out.add(begin, end, FieldRole::client);
      case W3cColumn::address_list:
        return out.add(begin, end, FieldRole::address_list);
      case W3cColumn::target:
        return out.add(begin, end, FieldRole::target);
      case W3cColumn::referrer:
        return out.add(begin, end, FieldRole::referrer);
      case W3cColumn::user:
        return out.add(begin, end, FieldRole::user);
    }
    return true;
  }

  std::string fields_line_;
  std::vector<W3cColumn> columns_;
};

// ---------------------------------------------------------------------------------------------
// JSON lines: one object per line; roles come from key names (and configured dotted paths).

enum class JsonRole : std::uint8_t {
  none,
  client,
  address_list,
  target,
  referrer,
  user,
  timestamp
};

JsonRole default_json_role(std::string_view key) {
  struct Entry {
    std::string_view key;
    JsonRole role;
  };
  static constexpr std::array<Entry, 20> kKeys{{
      {"remote_addr", JsonRole::client},
      {"client_ip", JsonRole::client},
      {"ip", JsonRole::client},
      {"x_forwarded_for", JsonRole::address_list},
      {"http_x_forwarded_for", JsonRole::address_list},
      {"request", JsonRole::target},
      {"request_uri", JsonRole::target},
      {"uri", JsonRole::target},
      {"args", JsonRole::target},
      {"query_string", JsonRole::target},
      {"http_referer", JsonRole::referrer},
      {"referer", JsonRole::referrer},
      {"referrer", JsonRole::referrer},
      {"remote_user", JsonRole::user},
      {"user", JsonRole::user},
      {"time_iso8601", JsonRole::timestamp},
      {"time_local", JsonRole::timestamp},
      {"@timestamp", JsonRole::timestamp},
      {"timestamp", JsonRole::timestamp},
      {"time", JsonRole::timestamp},
  }};
  for (const auto& entry : kKeys) {
    if (entry.key == key) return entry.role;
  }
  return JsonRole::none;
}

class JsonParser final : public LineParser {
 public:
  explicit JsonParser(const std::vector<std::string>& dotted_paths) {
    for (const auto& dotted : dotted_paths) {
      std::vector<std::string> path;
      std::size_t pos = 0;
      while (true) {
        auto dot = dotted.find('.', pos);
        path.push_back(dotted.substr(pos, dot == std::string::npos ? dotted.npos : dot - pos));
        if (dot == std::string::npos) break;
        pos = dot + 1;
      }
      if (path.size() > kMaxDepth ||
          std::any_of(path.begin(), path.end(), [](const auto& key) { return key.empty(); })) {
        throw std::invalid_argument("JSON field path '" + dotted +
                                    "': expected dot-separated keys, at most 32 deep");
      }
      client_paths_.push_back(std::move(path));
    }
  }

  bool parse(std::string_view line, ParsedLine& out) override {
    out.clear();
    line_ = line;
    out_ = &out;
    auto pos = skip_space(0);
    if (pos >= line.size() || line[pos] != '{') return false;
    pos = object(pos, 0);
    return pos != npos && skip_space(pos) == line.size();
  }

 private:
  static constexpr std::size_t kMaxDepth = 32;

  std::size_t skip_space(std::size_t pos) const {
    while (pos < line_.size() &&
           (line_[pos] == ' ' || line_[pos] == '\t' || line_[pos] == '\r' || line_[pos] == '\n')) {
      ++pos;
    }
    return pos;
  }

  // `pos` at the opening quote; returns the position after the closing quote.
  std::size_t string_end(std::size_t pos) const {
    for (std::size_t i = pos + 1; i < line_.size(); ++i) {
      if (line_[i] == '\\') {
        ++i;
      } else if (line_[i] == '"') {
        return i + 1;
      } else if (static_cast<unsigned char>(line_[i]) < 0x20) {
        return npos;
      }
    }
    return npos;
  }

  // `pos` at '{'; `depth` keys are on the path stack.
  std::size_t object(std::size_t pos, std::size_t depth) {
    if (depth >= kMaxDepth) return npos;
    pos = skip_space(pos + 1);
    if (pos < line_.size() && line_[pos] == '}') return pos + 1;
    while (pos < line_.size()) {
      if (line_[pos] != '"') return npos;
      auto key_end = string_end(pos);
      if (key_end == npos) return npos;
      path_[depth] = line_.substr(pos + 1, key_end - pos - 2);
      pos = skip_space(key_end);
      if (pos >= line_.size() || line_[pos] != ':') return npos;
      pos = value(skip_space(pos + 1), depth + 1, role_of_path(depth + 1));
      if (pos == npos) return npos;
      pos = skip_space(pos);
      if (pos >= line_.size()) return npos;
      if (line_[pos] == '}') return pos + 1;
      if (line_[pos] != ',') return npos;
      pos = skip_space(pos + 1);
    }
    return npos;
  }

  // `pos` at the value; `role` applies to strings (and to the strings of an array).
  std::size_t value(std::size_t pos, std::size_t depth, JsonRole role) {
    if (pos >= line_.size()) return npos;
    switch (line_[pos]) {
      case '{':
        return object(pos, depth);
      case '[':
        return array(pos, depth, role);
      case '"': {
        auto end = string_end(pos);
        if (end != npos && !record(pos + 1, end - 1, role)) return npos;
        return end;
      }
      default: {  // number, true, false, null
        auto end = pos;
        while (end < line_.size() &&
               (is_digit(line_[end]) || (line_[end] >= 'a' && line_[end] <= 'z') ||
                line_[end] == '-' || line_[end] == '+' || line_[end] == '.' || line_[end] == 'E')) {
          ++end;
        }
        if (end == pos) return npos;
        if (role == JsonRole::timestamp && !record(pos, end, role)) return npos;
        return end;
      }
    }
  }

  std::size_t array(std::size_t pos, std::size_t depth, JsonRole role) {
    if (depth >= kMaxDepth) return npos;
    pos = skip_space(pos + 1);
    if (pos < line_.size() && line_[pos] == ']') return pos + 1;
    while (pos < line_.size()) {
      pos = value(pos, depth, role);
      if (pos == npos) return npos;
      pos = skip_space(pos);
      if (pos >= line_.size()) return npos;
      if (line_[pos] == ']') return pos + 1;
      if (line_[pos] != ',') return npos;
      pos = skip_space(pos + 1);
    }
    return npos;
  }

  JsonRole role_of_path(std::size_t depth) const {
    for (const auto& path : client_paths_) {
      if (path.size() == depth && std::equal(path.begin(), path.end(), path_.begin())) {
        return JsonRole::client;
      }
    }
    return default_json_role(path_[depth - 1]);
  }

  bool record(std::size_t begin, std::size_t end, JsonRole role) {
    switch (role) {
      case JsonRole::none:
        return true;
      case JsonRole::timestamp: {
        // Only a readable time is exempt from the address scan.
        auto day = timestamp_day(line_.substr(begin, end - begin));
        if (!day) return true;
        if (!out_->day) out_->day = day;
        return out_->add(begin, end, FieldRole::plain);
      }
      case JsonRole::client:
        return out_->add(begin, end, FieldRole::client);
      case JsonRole::address_list:
        return out_->add(begin, end, FieldRole::address_list);
      case JsonRole::target:
        return out_->add(begin, end, FieldRole::target);
      case JsonRole::referrer:
        return out_->add(begin, end, FieldRole::referrer);
      case JsonRole::user:
        return out_->add(begin, end, FieldRole::user);
    }
    return true;
  }

  std::vector<std::vector<std::string>> client_paths_;
  std::array<std::string_view, kMaxDepth> path_{};
  std::string_view line_;
  ParsedLine* out_ = nullptr;
};

// ---------------------------------------------------------------------------------------------

class PlainParser final : public LineParser {
 public:
  bool parse(std::string_view /*line*/, ParsedLine& out) override {
    out.clear();
    return true;
  }
};

}  // namespace

bool ParsedLine::add(std::size_t begin, std::size_t end, FieldRole role) {
  if (field_count == kMaxFields) return false;
  fields[field_count++] = {static_cast<std::uint32_t>(begin), static_cast<std::uint32_t>(end),
                           role};
  return true;
}

std::unique_ptr<LineParser> make_line_parser(LogFormat format, const AnonymiseSettings& settings) {
  switch (format) {
    case LogFormat::combined:
      return std::make_unique<AccessLogParser>(true);
    case LogFormat::common:
      return std::make_unique<AccessLogParser>(false);
    case LogFormat::w3c:
      return std::make_unique<W3cParser>();
    case LogFormat::json:
      return std::make_unique<JsonParser>(settings.json_fields);
    case LogFormat::plain:
      return std::make_unique<PlainParser>();
    case LogFormat::automatic:
      break;
  }
  throw std::invalid_argument("log format must be chosen before parsing (not 'auto')");
}

std::string carry_format_state(LogFormat format, std::string_view block, std::string state) {
  if (format != LogFormat::w3c) return state;
  // The last `#Fields:` line of the block wins.
  for (auto pos = block.rfind(kFieldsDirective); pos != npos;
       pos = pos == 0 ? npos : block.rfind(kFieldsDirective, pos - 1)) {
    if (pos == 0 || block[pos - 1] == '\n') {
      auto end = std::min(block.find('\n', pos), block.size());
      return std::string(without_trailing_cr(block.substr(pos, end - pos)));
    }
  }
  return state;
}

}  // namespace veil::anonymiser
