// Settings shared by `veil anonymise`, the policy file's `anonymise:` section and the proxy's
// access log, so that a line written by the proxy and the same line anonymised offline come out
// identical.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace veil::anonymiser {

enum class Method : std::uint8_t { truncate, hash, cryptopan, ipcrypt, ipcrypt_pfx };
enum class Rotation : std::uint8_t { never, daily };
enum class LogFormat : std::uint8_t { automatic, combined, common, w3c, json, plain };

// An extra check a PII match must pass before it is replaced.
enum class PiiCheck : std::uint8_t {
  none,
  nhs_mod11,          // the ten digits carry a valid NHS mod-11 check digit
  not_file_extension  // an e-mail match whose "TLD" is an image/script file extension is not an
                      // address
};

// One named RE2 pattern; matches are replaced by `marker` (e.g. "[postcode]").
struct PiiRule {
  std::string name;
  std::string pattern;
  std::string marker;
  PiiCheck check = PiiCheck::none;
};

// The five UK rules of shared/reference/logs-and-anonymisation.md §8: email, postcode, phone, nino,
// nhs.
const std::vector<PiiRule>& builtin_pii_rules();

struct AnonymiseSettings {
  Method method = Method::truncate;
  int ipv4_prefix = 24;  // leading bits kept by `truncate`
  int ipv6_prefix = 48;
  std::string key_file;  // hex master key; required by every method but truncate
  Rotation rotation = Rotation::never;
  LogFormat format = LogFormat::automatic;
  std::vector<PiiRule> pii_rules = builtin_pii_rules();  // the catalogue `scrub` picks from
  std::optional<std::vector<std::string>> scrub;  // names to apply; nullopt = all, empty = none
  std::vector<std::string> json_fields;           // extra dotted paths holding client addresses
  unsigned threads = 0;                           // 0 = one per core
};

// The rules `settings.scrub` selects from `settings.pii_rules`, in catalogue order. Throws
// std::invalid_argument naming an unknown rule.
std::vector<PiiRule> selected_pii_rules(const AnonymiseSettings& settings);

std::optional<Method> parse_method(std::string_view text);
std::optional<Rotation> parse_rotation(std::string_view text);
std::optional<LogFormat> parse_log_format(std::string_view text);
std::optional<PiiCheck> parse_pii_check(std::string_view text);
std::string_view to_string(Method method);
std::string_view to_string(Rotation rotation);
std::string_view to_string(LogFormat format);
std::string_view to_string(PiiCheck check);

// Bytes of key material each method needs (0 for truncate).
std::size_t key_bytes_for(Method method);

}  // namespace veil::anonymiser
