// libFuzzer target: the whole line path of `veil anonymise` (format detection, line parsing, PII
// scrubbing, address rewriting) with every method. The first byte picks the method, the format
// (auto, combined, json, w3c, plain) and whether PII is scrubbed; the rest is a log, cut into lines
// as the pipeline cuts it.
//
// Invariants, checked against an address finder written here, independently of the anonymiser's
// scanner: no address of an input line appears in its output line unless the method maps it to
// itself (truncating 1.2.3.0 gives 1.2.3.0); no output line contains a line break; and without PII
// scrubbing every byte outside address-character runs is kept (only addresses are rewritten),
// except on lines whose client field is a host name, which is cut down to its suffix.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "log_lines.hpp"
#include "veil/anonymiser/address_anonymiser.hpp"
#include "veil/anonymiser/ip_address.hpp"
#include "veil/anonymiser/line_anonymiser.hpp"
#include "veil/anonymiser/log_format.hpp"

using namespace veil::anonymiser;

namespace {

// Aborts with what failed and the line it failed on, so that a reproducer explains itself.
void require(bool condition, std::string_view what, std::string_view line, std::string_view out) {
  if (condition) return;
  std::fprintf(stderr, "anonymise_line: %.*s\n  line:   %.*s\n  output: %.*s\n",
               static_cast<int>(what.size()), what.data(), static_cast<int>(line.size()),
               line.data(), static_cast<int>(out.size()), out.data());
  std::abort();
}

constexpr std::array kMethods{Method::truncate, Method::hash, Method::cryptopan, Method::ipcrypt,
                              Method::ipcrypt_pfx};
constexpr std::array kRequestedFormats{LogFormat::automatic, LogFormat::combined, LogFormat::json,
                                       LogFormat::w3c, LogFormat::plain};
// What detection can choose from, for the cache of anonymisers.
constexpr std::array kConcreteFormats{LogFormat::combined, LogFormat::common, LogFormat::w3c,
                                      LogFormat::json, LogFormat::plain};
constexpr std::size_t kFormatSample = 64 * 1024;

// ---------------------------------------------------------------------------------------------
// The independent address finder: maximal runs of hex digits, ':' and '.', standing alone (not
// glued to a letter, digit or '_' on either side; a '%zone', brackets, ports and punctuation may
// surround them) that parse as an address, also after dropping one trailing '.' or ':' (the end of
// a sentence) or a v4 address's ":port". A bare "::" is not taken for an address, and the two hex
// digits of a percent escape are not part of one.

bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_address_char(char c) {
  return is_hex_digit(c) || c == ':' || c == '.';
}

bool is_word_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

std::optional<IpAddress> parse_run(std::string_view run) {
  if (run == "::") return std::nullopt;
  if (auto address = IpAddress::parse(run)) return address;
  if (!run.empty() && (run.back() == '.' || run.back() == ':')) {
    if (auto address = parse_run(run.substr(0, run.size() - 1))) return address;
  }
  if (auto colon = run.rfind(':');
      colon != std::string_view::npos && colon + 1 < run.size() && run.find(':') == colon) {
    const auto port = run.substr(colon + 1);
    if (std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      auto address = IpAddress::parse(run.substr(0, colon));
      if (address && address->is_v4()) return address;
    }
  }
  return std::nullopt;
}

std::vector<IpAddress> addresses_in(std::string_view text) {
  std::vector<IpAddress> found;
  std::size_t pos = 0;
  while (pos < text.size()) {
    if (!is_address_char(text[pos])) {
      ++pos;
      continue;
    }
    std::size_t end = pos;
    while (end < text.size() && is_address_char(text[end])) ++end;
    bool after_escape = false;
    if (pos > 0 && text[pos - 1] == '%' && end - pos >= 2 && is_hex_digit(text[pos]) &&
        is_hex_digit(text[pos + 1])) {
      pos += 2;  // "%10.0.0.5" is the byte 0x10, then ".0.0.5"
      after_escape = true;
    }
    const bool alone = (pos == 0 || after_escape || !is_word_char(text[pos - 1])) &&
                       (end == text.size() || !is_word_char(text[end]));
    if (alone) {
      if (auto address = parse_run(text.substr(pos, end - pos))) found.push_back(*address);
    }
    pos = end;
  }
  return found;
}

// The text with every run of address characters (and '%', for percent-encoded colons) replaced by
// one marker byte: what address rewriting must leave unchanged.
std::string skeleton(std::string_view text) {
  std::string out;
  bool in_run = false;
  for (char c : text) {
    const bool address_char = is_address_char(c) || c == '%';
    if (!address_char) out.push_back(c);
    if (address_char && !in_run) out.push_back('\x01');
    in_run = address_char;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

MasterKey key_for(Method method) {
  MasterKey key;
  for (std::size_t i = 0; i < key_bytes_for(method); ++i) {
    key.bytes.push_back(static_cast<std::uint8_t>(0x5a ^ (i * 37)));
  }
  return key;
}

AnonymiseSettings settings_for(Method method, bool scrub_pii) {
  AnonymiseSettings settings;
  settings.method = method;
  settings.rotation = Rotation::never;  // a fixed point is then one whatever the line's date
  if (!scrub_pii) settings.scrub = std::vector<std::string>{};
  return settings;
}

// Building an anonymiser compiles the PII rules: one per combination, reused across inputs.
LineAnonymiser& line_anonymiser(Method method, LogFormat format, bool scrub_pii) {
  static std::array<std::unique_ptr<LineAnonymiser>, kMethods.size() * kConcreteFormats.size() * 2>
      cache;
  const auto method_index = static_cast<std::size_t>(
      std::find(kMethods.begin(), kMethods.end(), method) - kMethods.begin());
  const auto format_index =
      static_cast<std::size_t>(std::find(kConcreteFormats.begin(), kConcreteFormats.end(), format) -
                               kConcreteFormats.begin());
  auto& slot = cache[(method_index * kConcreteFormats.size() + format_index) * 2 + scrub_pii];
  if (!slot) {
    slot =
        std::make_unique<LineAnonymiser>(settings_for(method, scrub_pii), format, key_for(method));
  }
  return *slot;
}

AddressAnonymiser& address_anonymiser(Method method) {
  static std::array<std::unique_ptr<AddressAnonymiser>, kMethods.size()> cache;
  auto& slot = cache[static_cast<std::size_t>(std::find(kMethods.begin(), kMethods.end(), method) -
                                              kMethods.begin())];
  if (!slot)
    slot = std::make_unique<AddressAnonymiser>(settings_for(method, false), key_for(method));
  return *slot;
}

bool client_is_host_name(std::string_view line, const ParsedLine& parsed) {
  return std::any_of(parsed.spans().begin(), parsed.spans().end(), [&](const FieldSpan& span) {
    if (span.role != FieldRole::client) return false;
    const auto field = line.substr(span.begin, span.end - span.begin);
    return std::any_of(field.begin(), field.end(), [](char c) { return !is_address_char(c); });
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const Method method = kMethods[data[0] % kMethods.size()];
  LogFormat format = kRequestedFormats[(data[0] / kMethods.size()) % kRequestedFormats.size()];
  const bool scrub_pii = (data[0] / (kMethods.size() * kRequestedFormats.size())) % 2 == 1;
  const std::string_view log(reinterpret_cast<const char*>(data) + 1, size - 1);

  if (format == LogFormat::automatic) format = detect_format(log.substr(0, kFormatSample));
  LineAnonymiser& anonymiser = line_anonymiser(method, format, scrub_pii);
  anonymiser.set_state("");
  AddressAnonymiser& addresses = address_anonymiser(method);
  // Follows the anonymiser's parser line by line, to know where the client field is.
  const std::unique_ptr<LineParser> parser =
      make_line_parser(format, settings_for(method, scrub_pii));
  ParsedLine parsed;

  std::string out;
  for_each_line(log, [&](std::string_view line) {
    out.clear();
    anonymiser.anonymise_line(line, out);
    require(out.find('\n') == std::string::npos, "line break in the output", line, out);

    const std::vector<IpAddress> output_addresses = addresses_in(out);
    for (const IpAddress& address : addresses_in(line)) {
      if (addresses.map(address, kUndated) == address) continue;
      require(std::find(output_addresses.begin(), output_addresses.end(), address) ==
                  output_addresses.end(),
              "address " + address.to_string() + " survives", line, out);
    }

    const bool matched = parser->parse(line, parsed);
    if (!scrub_pii && !(matched && client_is_host_name(line, parsed))) {
      require(skeleton(out) == skeleton(line), "bytes outside addresses changed", line, out);
    }
  });
  return 0;
}
