#include "veil/anonymiser/settings.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <utility>

namespace veil::anonymiser {
namespace {

template <typename Enum, std::size_t N>
std::optional<Enum> lookup(const std::array<std::pair<std::string_view, Enum>, N>& table,
                           std::string_view text) {
  for (const auto& [name, value] : table) {
    if (name == text) return value;
  }
  return std::nullopt;
}

template <typename Enum, std::size_t N>
std::string_view name_of(const std::array<std::pair<std::string_view, Enum>, N>& table,
                         Enum value) {
  for (const auto& [name, candidate] : table) {
    if (candidate == value) return name;
  }
  return "?";
}

constexpr std::array<std::pair<std::string_view, Method>, 5> kMethods{{
    {"truncate", Method::truncate},
    {"hash", Method::hash},
    {"cryptopan", Method::cryptopan},
    {"ipcrypt", Method::ipcrypt},
    {"ipcrypt-pfx", Method::ipcrypt_pfx},
}};
constexpr std::array<std::pair<std::string_view, Rotation>, 2> kRotations{{
    {"never", Rotation::never},
    {"daily", Rotation::daily},
}};
constexpr std::array<std::pair<std::string_view, LogFormat>, 6> kFormats{{
    {"auto", LogFormat::automatic},
    {"combined", LogFormat::combined},
    {"common", LogFormat::common},
    {"w3c", LogFormat::w3c},
    {"json", LogFormat::json},
    {"plain", LogFormat::plain},
}};
constexpr std::array<std::pair<std::string_view, PiiCheck>, 3> kChecks{{
    {"none", PiiCheck::none},
    {"nhs-mod11", PiiCheck::nhs_mod11},
    {"not-file-extension", PiiCheck::not_file_extension},
}};

}  // namespace

const std::vector<PiiRule>& builtin_pii_rules() {
  static const std::vector<PiiRule> rules{
      {"email",
       R"((?i)[a-z0-9._%+-]+(?:@|%40)[a-z](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.[a-z]{2,63})",
       "[email]", PiiCheck::not_file_extension},
      {"postcode",
       R"((?i)\b(?:GIR(?:\s|\+|%20)?0AA|[A-PR-UWYZ](?:[0-9]{1,2}|[A-HK-Y][0-9]{1,2}|[0-9][A-HJKPSTUW]|[A-HK-Y][0-9][ABEHMNPRVWXY])(?:\s|\+|%20)?[0-9][ABD-HJLNP-UW-Z]{2})\b)",
       "[postcode]", PiiCheck::none},
      {"phone",
       R"((?:(?:\+|%2[Bb]|\b00)44(?:\s|%20|-)?(?:\(0\)(?:\s|%20)?)?|\b0)[1-9](?:(?:\s|\+|%20|-)?[0-9]){8,9}\b)",
       "[phone]", PiiCheck::none},
      {"nino",
       R"((?i)\b(?:[ACEHJLMOPRSWXY][A-CEGHJ-NPR-TW-Z]|B[A-CEHJ-NPR-TW-Z]|G[ACEGHJ-NPR-TW-Z]|K[A-CEGHJ-MPR-TW-Z]|N[A-CEGHJL-NPRSW-Z]|T[A-CEGHJ-MPR-TW-Z]|Z[A-CEGHJ-NPR-TW-Y])(?:\s|\+|%20)?[0-9]{2}(?:\s|\+|%20)?[0-9]{2}(?:\s|\+|%20)?[0-9]{2}(?:\s|\+|%20)?[A-D]\b)",
       "[nino]", PiiCheck::none},
      {"nhs", R"(\b([0-9]{3})(?:\s|\+|%20|-)?([0-9]{3})(?:\s|\+|%20|-)?([0-9]{4})\b)", "[nhs]",
       PiiCheck::nhs_mod11},
  };
  return rules;
}

std::vector<PiiRule> selected_pii_rules(const AnonymiseSettings& settings) {
  if (!settings.scrub) return settings.pii_rules;
  for (const auto& wanted : *settings.scrub) {
    auto known = std::any_of(settings.pii_rules.begin(), settings.pii_rules.end(),
                             [&](const PiiRule& rule) { return rule.name == wanted; });
    if (!known) throw std::invalid_argument("unknown PII rule '" + wanted + "'");
  }
  std::vector<PiiRule> selected;
  for (const auto& rule : settings.pii_rules) {
    if (std::find(settings.scrub->begin(), settings.scrub->end(), rule.name) !=
        settings.scrub->end()) {
      selected.push_back(rule);
    }
  }
  return selected;
}

std::optional<Method> parse_method(std::string_view text) {
  return lookup(kMethods, text);
}
std::optional<Rotation> parse_rotation(std::string_view text) {
  return lookup(kRotations, text);
}
std::optional<LogFormat> parse_log_format(std::string_view text) {
  return lookup(kFormats, text);
}
std::optional<PiiCheck> parse_pii_check(std::string_view text) {
  return lookup(kChecks, text);
}
std::string_view to_string(Method method) {
  return name_of(kMethods, method);
}
std::string_view to_string(Rotation rotation) {
  return name_of(kRotations, rotation);
}
std::string_view to_string(LogFormat format) {
  return name_of(kFormats, format);
}
std::string_view to_string(PiiCheck check) {
  return name_of(kChecks, check);
}

std::size_t key_bytes_for(Method method) {
  switch (method) {
    case Method::truncate:
      return 0;
    case Method::ipcrypt:
      return 16;
    case Method::hash:
    case Method::cryptopan:
    case Method::ipcrypt_pfx:
      return 32;
  }
  return 0;
}

}  // namespace veil::anonymiser
