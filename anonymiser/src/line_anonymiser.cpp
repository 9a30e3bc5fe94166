#include "veil/anonymiser/line_anonymiser.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "veil/anonymiser/log_format.hpp"
#include "veil/anonymiser/pii_scrubber.hpp"

namespace veil::anonymiser {
namespace {

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr bool is_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_uk_second_level(std::string_view label) {
  static constexpr std::array<std::string_view, 11> kLabels{
      "co", "org", "gov", "ac", "nhs", "police", "sch", "ltd", "plc", "me", "net"};
  return std::any_of(kLabels.begin(), kLabels.end(), [&](std::string_view known) {
    return label.size() == known.size() &&
           std::equal(label.begin(), label.end(), known.begin(),
                      [](char a, char b) { return ascii_lower(a) == b; });
  });
}

// What a byte may be in a host name: kHostAllowed for letters, digits, '-', '.' and '_', with
// kHostLetter for letters.
constexpr std::uint8_t kHostAllowed = 1;
constexpr std::uint8_t kHostLetter = 2;
constexpr std::array<std::uint8_t, 256> kHostNameBytes = [] {
  std::array<std::uint8_t, 256> kinds{};
  for (int c = 0; c < 256; ++c) {
    if (is_letter(static_cast<char>(c))) {
      kinds[c] = kHostAllowed | kHostLetter;
    } else if ((c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_') {
      kinds[c] = kHostAllowed;
    }
  }
  return kinds;
}();

// A reverse-DNS client name (Apache HostnameLookups) embeds the address it was looked up from
// (`host81-2-69-160.range81-2.btcentralplus.com`): only its registrable-looking suffix is kept, the
// last two labels, or three under a UK second-level label (`example.co.uk`). Empty when `client` is
// not a multi-label hostname (an address, `-`, or a bare name like `localhost`) or is already
// short.
std::optional<std::string_view> hostname_suffix(std::string_view client) {
  if (!client.empty() && client.back() == '.') client.remove_suffix(1);
  // Every line has a client: one table load per byte, no branch.
  std::uint8_t all_allowed = kHostAllowed, any_letter = 0;
  for (char c : client) {
    const std::uint8_t kind = kHostNameBytes[static_cast<unsigned char>(c)];
    all_allowed &= kind;
    any_letter |= kind;
  }
  if (all_allowed == 0 || (any_letter & kHostLetter) == 0) return std::nullopt;
  auto last_dot = client.rfind('.');
  if (last_dot == std::string_view::npos || last_dot == 0) return std::nullopt;
  auto second_dot = client.rfind('.', last_dot - 1);
  if (second_dot == std::string_view::npos) return std::nullopt;
  auto second_level = client.substr(second_dot + 1, last_dot - second_dot - 1);
  if (!is_uk_second_level(second_level)) return client.substr(second_dot + 1);
  if (second_dot == 0) return std::nullopt;
  auto third_dot = client.rfind('.', second_dot - 1);
  if (third_dot == std::string_view::npos) return std::nullopt;
  return client.substr(third_dot + 1);
}

// Non-empty lines of `sample`; a partial last line counts only when it is the only one.
std::vector<std::string_view> sample_lines(std::string_view sample, std::size_t limit) {
  std::vector<std::string_view> lines;
  std::size_t pos = 0;
  while (pos < sample.size() && lines.size() < limit) {
    auto end = sample.find('\n', pos);
    if (end == std::string_view::npos && !lines.empty()) break;
    end = std::min(end, sample.size());
    auto line = sample.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) lines.push_back(line);
    pos = end + 1;
  }
  return lines;
}

}  // namespace

LineStats& LineStats::operator+=(const LineStats& other) {
  lines += other.lines;
  addresses += other.addresses;
  pii += other.pii;
  unparsed += other.unparsed;
  return *this;
}

LogFormat detect_format(std::string_view sample) {
  const auto lines = sample_lines(sample, 64);
  if (lines.empty()) return LogFormat::plain;
  const bool has_fields_directive =
      std::any_of(lines.begin(), lines.end(),
                  [](std::string_view line) { return line.starts_with("#Fields:"); });
  // Most specific first: every combined line is also a common one. A stray malformed line must not
  // send a whole log to `plain`, so 90% of the sample is enough.
  for (auto format : {LogFormat::w3c, LogFormat::json, LogFormat::combined, LogFormat::common}) {
    if (format == LogFormat::w3c && !has_fields_directive) continue;
    auto parser = make_line_parser(format, {});
    ParsedLine parsed;
    const auto matching = std::count_if(lines.begin(), lines.end(), [&](std::string_view line) {
      return parser->parse(line, parsed);
    });
    if (static_cast<std::size_t>(matching) * 10 >= lines.size() * 9) return format;
  }
  return LogFormat::plain;
}

struct LineAnonymiser::Impl {
  Impl(const AnonymiseSettings& settings, LogFormat format, const MasterKey& key)
      : parser(make_line_parser(format, settings)),
        pii(selected_pii_rules(settings)),
        addresses(settings, key) {}

  void anonymise(std::string_view line, std::string& out) {
    ++stats.lines;
    if (line.empty()) return;
    if (!parser->parse(line, parsed)) {
      // Fields unknown: no PII scrubbing, but no address may escape either.
      ++stats.unparsed;
      stats.addresses += addresses.rewrite_addresses(line, kUndated, out);
      return;
    }
    const Day day = parsed.day ? *parsed.day : kUndated;
    // Bytes between the fields that need their own treatment are scanned for addresses in one go.
    std::size_t pos = 0;
    auto scan_up_to = [&](std::size_t end) {
      if (end > pos)
        stats.addresses += addresses.rewrite_addresses(line.substr(pos, end - pos), day, out);
    };
    for (const auto& span : parsed.spans()) {
      const auto field = line.substr(span.begin, span.end - span.begin);
      switch (span.role) {
        case FieldRole::timestamp:
          scan_up_to(span.begin);
          out.append(field);
          pos = span.end;
          break;
        case FieldRole::client:
          if (auto suffix = hostname_suffix(field)) {
            scan_up_to(span.begin);
            out.append(*suffix);
            ++stats.addresses;
            pos = span.end;
          }
          break;
        case FieldRole::address_list:
          break;  // rewrite_addresses replaces each element of a list
        case FieldRole::target:
        case FieldRole::referrer:
        case FieldRole::user:
          pii.find(field, matches);
          if (!matches.empty()) {
            scan_up_to(span.begin);
            scrubbed.clear();
            pii.replace(field, matches, scrubbed);
            stats.pii += matches.size();
            stats.addresses += addresses.rewrite_addresses(scrubbed, day, out);
            pos = span.end;
          }
          break;
      }
    }
    scan_up_to(line.size());
  }

  std::unique_ptr<LineParser> parser;
  PiiScrubber pii;
  AddressAnonymiser addresses;
  ParsedLine parsed;
  LineStats stats;
  std::vector<PiiMatch> matches;  // scratch, reused across lines
  std::string scrubbed;           // scratch, reused across lines
};

LineAnonymiser::LineAnonymiser(const AnonymiseSettings& settings, LogFormat format,
                               const MasterKey& key)
    : impl_(std::make_unique<Impl>(settings, format, key)) {}

LineAnonymiser::~LineAnonymiser() = default;
LineAnonymiser::LineAnonymiser(LineAnonymiser&&) noexcept = default;
LineAnonymiser& LineAnonymiser::operator=(LineAnonymiser&&) noexcept = default;

void LineAnonymiser::anonymise_line(std::string_view line, std::string& out) {
  // A CRLF log keeps its '\r' byte for byte; the parsers never see it.
  const bool carriage_return = !line.empty() && line.back() == '\r';
  if (carriage_return) line.remove_suffix(1);
  impl_->anonymise(line, out);
  if (carriage_return) out.push_back('\r');
}

const LineStats& LineAnonymiser::stats() const {
  return impl_->stats;
}

std::string LineAnonymiser::carry_state(LogFormat format, std::string_view block,
                                        std::string state) {
  return carry_format_state(format, block, std::move(state));
}

void LineAnonymiser::set_state(std::string_view state) {
  impl_->parser->set_state(state);
}

}  // namespace veil::anonymiser
