// Parsers for the scalar value types of the policy file, and the spelling suggestions.
#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <limits>

#include "veil/policies/loader.hpp"

namespace veil::policies {
namespace {

bool all_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

template <typename Number>
std::optional<Number> parse_number(std::string_view text) {
  Number value{};
  if (!all_digits(text)) return std::nullopt;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
  constexpr std::array<std::pair<std::string_view, std::int64_t>, 7> kUnits{{
      {"mo", 30 * 86400},  // before "m"
      {"s", 1},
      {"m", 60},
      {"h", 3600},
      {"d", 86400},
      {"w", 7 * 86400},
      {"y", 365 * 86400},
  }};
  if (text.empty()) return std::nullopt;
  std::int64_t total = 0;
  while (!text.empty()) {
    auto digits =
        std::find_if(text.begin(), text.end(), [](char c) { return c < '0' || c > '9'; }) -
        text.begin();
    auto count = parse_number<std::int64_t>(text.substr(0, static_cast<std::size_t>(digits)));
    if (!count) return std::nullopt;
    text.remove_prefix(static_cast<std::size_t>(digits));
    auto unit = std::find_if(kUnits.begin(), kUnits.end(),
                             [&](const auto& entry) { return text.starts_with(entry.first); });
    if (unit == kUnits.end()) return std::nullopt;
    text.remove_prefix(unit->first.size());
    if (*count > std::numeric_limits<std::int64_t>::max() / unit->second / 2) return std::nullopt;
    total += *count * unit->second;
  }
  return Duration{total};
}

std::optional<std::size_t> parse_size(std::string_view text) {
  constexpr std::array<std::pair<std::string_view, std::size_t>, 9> kUnits{{
      {"KiB", 1024},
      {"MiB", 1024 * 1024},
      {"GiB", 1024 * 1024 * 1024},
      {"k", 1024},
      {"K", 1024},
      {"m", 1024 * 1024},
      {"M", 1024 * 1024},
      {"g", 1024 * 1024 * 1024},
      {"G", 1024 * 1024 * 1024},
  }};
  std::size_t multiplier = 1;
  for (const auto& [suffix, size] : kUnits) {
    if (text.ends_with(suffix)) {
      text.remove_suffix(suffix.size());
      multiplier = size;
      break;
    }
  }
  auto count = parse_number<std::size_t>(text);
  if (!count || *count > std::numeric_limits<std::size_t>::max() / multiplier) return std::nullopt;
  return *count * multiplier;
}

std::optional<Cidr> parse_cidr(std::string_view text) {
  auto slash = text.find('/');
  auto address = anonymiser::IpAddress::parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  const int width = address->is_v4() ? 32 : 128;
  int prefix_length = width;
  if (slash != std::string_view::npos) {
    auto length = parse_number<int>(text.substr(slash + 1));
    if (!length || *length > width) return std::nullopt;
    prefix_length = *length;
  }
  auto bytes = address->bytes();
  for (int bit = prefix_length + (address->is_v4() ? 96 : 0); bit < 128; ++bit) {
    bytes[static_cast<std::size_t>(bit / 8)] &= static_cast<std::uint8_t>(~(0x80U >> (bit % 8)));
  }
  auto network = address->is_v4()
                     ? anonymiser::IpAddress::v4({bytes[12], bytes[13], bytes[14], bytes[15]})
                     : anonymiser::IpAddress::v6(bytes);
  return Cidr{network, prefix_length, std::string(text), {}};
}

std::optional<Endpoint> parse_endpoint(std::string_view text) {
  std::string_view host, port;
  if (text.starts_with('[')) {
    auto close = text.find("]:");
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto address = anonymiser::IpAddress::parse(host);
  auto number = parse_number<unsigned>(port);
  if (!address || address->is_v4() == text.starts_with('[') || !number || *number == 0 ||
      *number > 65535) {
    return std::nullopt;
  }
  return Endpoint{std::string(host), static_cast<std::uint16_t>(*number)};
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> previous(b.size() + 1), current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string_view>& candidates) {
  const std::size_t allowed = std::max<std::size_t>(1, std::min<std::size_t>(3, word.size() / 3));
  std::optional<std::string> best;
  std::size_t best_distance = allowed + 1;
  for (auto candidate : candidates) {
    auto distance = edit_distance(word, candidate);
    if (distance < best_distance && distance < std::max(word.size(), candidate.size())) {
      best_distance = distance;
      best = std::string(candidate);
    }
  }
  return best;
}

}  // namespace veil::policies
