#include "veil/anonymiser/line_anonymiser.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "address_scan.hpp"
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

// What is known about fields whose text repeats from line to line (user agents, referrers, popular
// targets): a direct-mapped table from a field's exact text to a `Value`, so that a lookup is one
// hash and one compare, and memory stays bounded whatever the input: 2^SlotBits entries.
template <typename Value, std::size_t SlotBits>
class RecentFields {
 public:
  static constexpr std::size_t kMaxTextLength = 512;  // longer fields are not kept

  struct Entry {
    std::string text;
    Value value{};
    bool filled = false;

    bool holds(std::string_view field) const { return filled && field == text; }
    void fill(std::string_view field) {
      text.assign(field);
      filled = true;
    }
  };

  // The one entry `text` (at most kMaxTextLength bytes) may be kept in.
  Entry& slot(std::string_view text) {
    if (entries_.empty()) entries_.resize(kSlots);
    return entries_[index(text)];
  }

 private:
  static constexpr std::size_t kSlots = std::size_t{1} << SlotBits;

  // Five words spread over the text, a multiply each: hashing must cost a fraction of a scan, and
  // the entry's compare reads every byte anyway, so texts alike in those words merely share a slot.
  // The five multiplies are independent, so that the hash is ready a few cycles after the loads;
  // the final mix makes the slot, taken from the top bits, depend on every bit of the words.
  static std::size_t index(std::string_view text) {
    static constexpr std::array<std::uint64_t, 5> kMultipliers{
        0x9E3779B97F4A7C15ull, 0xC2B2AE3D27D4EB4Full, 0x165667B19E3779F9ull, 0xD6E8FEB86659FD93ull,
        0xFF51AFD7ED558CCDull};
    const char* data = text.data();
    const std::size_t size = text.size();
    std::uint64_t hash = 0;
    if (size < 8) {
      std::uint64_t word = 0;
      for (std::size_t i = 0; i < size; ++i) word = word << 8 | static_cast<unsigned char>(data[i]);
      hash = word * kMultipliers[0];
    } else {
      const std::size_t last = size - 8;
      const std::array<std::size_t, 5> positions{0, last / 4, last / 2, last - last / 4, last};
      for (std::size_t i = 0; i < positions.size(); ++i) {
        std::uint64_t word;
        std::memcpy(&word, data + positions[i], 8);
        hash ^= word * kMultipliers[i];
      }
    }
    hash = (hash ^ (hash >> 29) ^ size) * kMultipliers[0];
    return static_cast<std::size_t>(hash >> (64 - SlotBits));
  }

  std::vector<Entry> entries_;
};

// A field's text with its addresses rewritten for `day`. Without addresses it is the same on
// every day.
struct Rewritten {
  std::string text;
  std::size_t addresses = 0;
  Day day = kUndated;

  bool valid_on(Day other) const { return addresses == 0 || day == other; }
};

// A target, referrer or user name known to hold no PII, and whether it holds an address.
struct PiiFree {
  bool has_addresses = false;
};

// What a target, referrer or user name holds, for how it must be rewritten.
enum class Contents : std::uint8_t {
  pii,        // scrubbed, then its addresses rewritten
  addresses,  // no PII, but maybe addresses: rewritten with the text around it
  plain,      // neither: copied as it is
};

// Can `field` be rewritten on its own, as if it were part of the text around it? Only when the
// bytes on either side can be part of no address (fields delimited by quotes or spaces): an
// address token never spans them, and they look to the scanner like the end of the text.
bool stands_alone(std::string_view line, const FieldSpan& span) {
  auto delimiter = [](char c) { return c == ' ' || c == '"' || c == '\t'; };
  return (span.begin == 0 || delimiter(line[span.begin - 1])) &&
         (span.end == line.size() || delimiter(line[span.end]));
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
  Impl(const AnonymiseSettings& settings_in, LogFormat format_in, const MasterKey& key)
      : settings(settings_in),
        format(format_in),
        parser(make_line_parser(format, settings)),
        pii(selected_pii_rules(settings)),
        addresses(settings, key) {}

  // Empty caches and statistics; the compiled PII rules are shared.
  explicit Impl(const Impl& prototype)
      : settings(prototype.settings),
        format(prototype.format),
        parser(make_line_parser(format, settings)),
        pii(prototype.pii),
        addresses(std::move(*prototype.addresses.clone())) {}

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
    // line[0, copied) is in `out`; line[copied, checked) holds no address and waits to be copied,
    // so that a run of unchanged fields and the bytes between them is copied in one go.
    std::size_t copied = 0, checked = 0;
    // Rewrites the addresses in line[checked, end), which no span covers whole.
    auto check_up_to = [&](std::size_t end) {
      if (end < checked + kShortestToken) {  // the blank and the quotes between fields
        checked = std::max(checked, end);
        return;
      }
      if (holds_address(line, checked, end)) {
        out.append(line.data() + copied, checked - copied);
        stats.addresses +=
            addresses.rewrite_addresses(line.substr(checked, end - checked), day, out);
        copied = end;
      }
      checked = end;
    };
    auto keep = [&](const FieldSpan& span) {
      check_up_to(span.begin);
      checked = span.end;
    };
    // Readies `out` for the replacement of the field at `span`.
    auto start_replacing = [&](const FieldSpan& span) {
      check_up_to(span.begin);
      out.append(line.data() + copied, span.begin - copied);
      copied = span.begin;
    };
    auto replaced = [&](const FieldSpan& span) { copied = checked = span.end; };
    for (const auto& span : parsed.spans()) {
      const auto field = line.substr(span.begin, span.end - span.begin);
      switch (span.role) {
        case FieldRole::plain:
          keep(span);
          break;
        case FieldRole::client:
          if (stands_alone(line, span)) {
            // Usually a bare address: rewritten without scanning the text around it.
            start_replacing(span);
            if (addresses.rewrite_whole_address(field, day, out)) {
              ++stats.addresses;
              replaced(span);
              break;
            }
          }
          if (auto suffix = hostname_suffix(field)) {
            start_replacing(span);
            out.append(*suffix);
            ++stats.addresses;
            replaced(span);
          }
          break;
        case FieldRole::address_list:
          break;  // rewrite_addresses replaces each element of a list
        case FieldRole::target:
        case FieldRole::referrer:
        case FieldRole::user:
          switch (contents_of(field)) {
            case Contents::pii:
              start_replacing(span);
              append_scrubbed(field, day, out);
              replaced(span);
              break;
            case Contents::plain:
              if (stands_alone(line, span)) keep(span);  // else an address might span its edge
              break;
            case Contents::addresses:
              break;
          }
          break;
        case FieldRole::agent:
          if (field.size() <= kMaxKept && stands_alone(line, span)) {
            const Rewritten& agent = rewritten_agent(field, day);
            if (agent.addresses == 0) {
              keep(span);
            } else {
              start_replacing(span);
              out.append(agent.text);
              stats.addresses += agent.addresses;
              replaced(span);
            }
          }
          break;
      }
    }
    check_up_to(line.size());
    out.append(line.data() + copied, line.size() - copied);
  }

  // Targets and referrers vary far more than user agents: with 4096 slots rather than 1024,
  // bench_line_anonymiser ran 235 -> 222 ns/line. Agents need no more than 1024.
  using PiiFreeFields = RecentFields<PiiFree, 12>;
  using AgentFields = RecentFields<Rewritten, 10>;
  static constexpr std::size_t kMaxKept = PiiFreeFields::kMaxTextLength;

  // What `field` holds; with PII, its matches are in `matches`. Fields with PII are rare and never
  // kept: each is a person's own. Most of the others repeat, and the scan for addresses in them is
  // then saved too.
  Contents contents_of(std::string_view field) {
    auto* entry = field.size() <= kMaxKept ? &pii_free.slot(field) : nullptr;
    if (entry && entry->holds(field)) {
      return entry->value.has_addresses ? Contents::addresses : Contents::plain;
    }
    pii.find(field, matches);
    if (!matches.empty()) return Contents::pii;
    if (!entry) return Contents::addresses;  // too long to keep: not worth a separate scan
    entry->fill(field);
    entry->value.has_addresses = find_next_address(field, 0).has_value();
    return entry->value.has_addresses ? Contents::addresses : Contents::plain;
  }

  // Appends `field` with its PII `matches` replaced and its addresses rewritten.
  void append_scrubbed(std::string_view field, Day day, std::string& out) {
    scrubbed.clear();
    pii.replace(field, matches, scrubbed);
    stats.pii += matches.size();
    stats.addresses += addresses.rewrite_addresses(scrubbed, day, out);
  }

  // The user agent `field` with its addresses rewritten, as a fresh rewrite would: the rewrite
  // depends only on the text and the day.
  const Rewritten& rewritten_agent(std::string_view field, Day day) {
    auto& entry = agents.slot(field);
    if (!entry.holds(field) || !entry.value.valid_on(day)) {
      entry.value.text.clear();
      entry.value.addresses = addresses.rewrite_addresses(field, day, entry.value.text);
      entry.value.day = day;
      entry.fill(field);
    }
    return entry.value;
  }

  AnonymiseSettings settings;
  LogFormat format;
  std::unique_ptr<LineParser> parser;
  PiiScrubber pii;
  AddressAnonymiser addresses;
  ParsedLine parsed;
  LineStats stats;
  std::vector<PiiMatch> matches;  // scratch, reused across lines
  std::string scrubbed;           // scratch, reused across lines
  PiiFreeFields pii_free;         // targets, referrers and user names
  AgentFields agents;
};

LineAnonymiser::LineAnonymiser(const AnonymiseSettings& settings, LogFormat format,
                               const MasterKey& key)
    : impl_(std::make_unique<Impl>(settings, format, key)) {}

LineAnonymiser::LineAnonymiser(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

LineAnonymiser LineAnonymiser::clone() const {
  return LineAnonymiser(std::make_unique<Impl>(*impl_));
}

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
