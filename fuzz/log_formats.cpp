// libFuzzer target: the access-log line parsers (combined, common, W3C with `#Fields:` directives,
// JSON lines, plain) and format detection. The first byte picks the parser; the rest is a log whose
// lines are parsed in order, as the pipeline does (LF-separated, one CR before the LF removed).
// Invariants: every reported span lies inside its line, in line order and without overlap, and at
// most kMaxFields are reported; parsing does not depend on the parser's history beyond the W3C
// directive (a fresh parser given the same state parses the line identically); and the W3C state
// the pipeline carries between blocks (carry_format_state) is the state the parser holds after the
// same lines.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "log_lines.hpp"
#include "veil/anonymiser/line_anonymiser.hpp"
#include "veil/anonymiser/log_format.hpp"

using namespace veil::anonymiser;

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

constexpr LogFormat kFormats[] = {LogFormat::combined, LogFormat::common, LogFormat::w3c,
                                  LogFormat::json, LogFormat::plain};

AnonymiseSettings settings_with_json_fields() {
  AnonymiseSettings settings;
  settings.json_fields = {"client.address", "headers.true_client_ip"};
  return settings;
}

void require_well_formed(std::string_view line, const ParsedLine& parsed) {
  require(parsed.field_count <= ParsedLine::kMaxFields);
  std::uint32_t previous_end = 0;
  for (const FieldSpan& span : parsed.spans()) {
    require(span.begin <= span.end && span.end <= line.size());
    require(span.begin >= previous_end);
    previous_end = span.end;
  }
}

bool same_parse(const ParsedLine& a, const ParsedLine& b) {
  if (a.day != b.day || a.field_count != b.field_count) return false;
  for (std::size_t i = 0; i < a.field_count; ++i) {
    if (a.fields[i].begin != b.fields[i].begin || a.fields[i].end != b.fields[i].end ||
        a.fields[i].role != b.fields[i].role) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const LogFormat format = kFormats[data[0] % std::size(kFormats)];
  const bool json_fields = (data[0] / std::size(kFormats)) % 2 == 1;
  const std::string_view log(reinterpret_cast<const char*>(data) + 1, size - 1);

  require(detect_format(log) != LogFormat::automatic);

  const AnonymiseSettings settings =
      json_fields ? settings_with_json_fields() : AnonymiseSettings{};
  std::unique_ptr<LineParser> parser = make_line_parser(format, settings);
  ParsedLine parsed;
  ParsedLine fresh_parsed;
  for_each_line(log, [&](std::string_view line) {
    const std::string state_before = parser->state();
    const bool matched = parser->parse(line, parsed);
    if (matched) require_well_formed(line, parsed);

    std::unique_ptr<LineParser> fresh = make_line_parser(format, settings);
    fresh->set_state(state_before);
    require(fresh->state() == state_before);
    require(fresh->parse(line, fresh_parsed) == matched);
    if (matched) require(same_parse(parsed, fresh_parsed));
    require(fresh->state() == parser->state());
  });
  require(carry_format_state(format, log, "") == parser->state());
  return 0;
}
