// Locates the fields of one access-log line (nginx/Apache combined and common, IIS W3C extended,
// JSON lines, plain text) as byte spans with roles, and the record's date. Hand-written scanners:
// no regex and no allocation per line, because every line of every log passes through here.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "veil/anonymiser/settings.hpp"

namespace veil::anonymiser {

// What a field holds, as far as anonymisation cares. Fields without a role are not reported: the
// line anonymiser scans everything outside the plain fields for addresses anyway.
enum class FieldRole : std::uint8_t {
  client,        // the client host: an address, or a reverse-DNS hostname (Apache HostnameLookups)
  address_list,  // X-Forwarded-For-like lists of addresses
  target,        // request target: path and query (IIS: cs-uri-stem and cs-uri-query separately)
  referrer,
  user,  // authenticated user name (often an e-mail address)
  // Holds no address, as the parser made sure: dates and times ("13:55:36" is none), and in access
  // logs the HTTP version, status and size. Never scanned.
  plain,
  agent,  // the user agent: scanned like any text, but its text repeats from line to line
};

// Bytes [begin, end) of the line.
struct FieldSpan {
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
  FieldRole role = FieldRole::client;
};

struct ParsedLine {
  static constexpr std::size_t kMaxFields = 32;

  // Days since 1970-01-01 of the record's timestamp in UTC; empty when the line carries no readable
  // date.
  std::optional<std::int32_t> day;
  std::size_t field_count = 0;
  std::array<FieldSpan, kMaxFields> fields{};  // in line order, non-overlapping

  std::span<const FieldSpan> spans() const { return {fields.data(), field_count}; }
  void clear() {
    day.reset();
    field_count = 0;
  }
  // False when the line has more roled fields than kMaxFields (the line is then treated as
  // unparsed).
  bool add(std::size_t begin, std::size_t end, FieldRole role);
};

// One parser per format and per thread (the W3C parser keeps the `#Fields:` directive in force).
class LineParser {
 public:
  virtual ~LineParser() = default;

  // Fills `out` for `line` (without its terminator or trailing '\r'). Returns false when the line
  // does not match the format; `out` is then meaningless. Directive and comment lines parse with no
  // fields.
  virtual bool parse(std::string_view line, ParsedLine& out) = 0;

  // The state that later lines depend on (W3C: the `#Fields:` directive line); empty for stateless
  // formats. See carry_format_state.
  virtual std::string state() const { return {}; }
  virtual void set_state(std::string_view /*state*/) {}
};

// `format` must not be `automatic`. `settings.json_fields` adds dotted paths holding client
// addresses.
std::unique_ptr<LineParser> make_line_parser(LogFormat format, const AnonymiseSettings& settings);

// The state in force after `block` (whole lines) given the state in force before it: lets blocks be
// parsed on different threads. Cheap: it only looks at directive lines.
std::string carry_format_state(LogFormat format, std::string_view block, std::string state);

}  // namespace veil::anonymiser
