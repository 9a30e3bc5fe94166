#include "log_time.hpp"

#include <array>
#include <cstring>

namespace veil::anonymiser {
namespace {

constexpr std::int64_t kSecondsPerDay = 86400;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Reads exactly `count` digits at `pos`.
std::optional<int> digits_at(std::string_view text, std::size_t pos, std::size_t count) {
  if (pos + count > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (!is_digit(text[i])) return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

std::optional<unsigned> month_from_abbreviation(std::string_view name) {
  static constexpr std::array<std::string_view, 12> kMonths{
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (unsigned i = 0; i < kMonths.size(); ++i) {
    if (name == kMonths[i]) return i + 1;
  }
  return std::nullopt;
}

bool valid_date(int year, unsigned month, unsigned day) {
  return year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

bool valid_time(int hour, int minute, int second) {
  return hour < 24 && minute < 60 && second <= 60;
}

std::int64_t floor_div(std::int64_t value, std::int64_t divisor) {
  auto quotient = value / divisor;
  return (value % divisor < 0) ? quotient - 1 : quotient;
}

// Seconds since the epoch, in UTC, of the midnight starting a local date whose offset east of UTC
// is `offset` seconds.
std::int64_t utc_midnight(int year, unsigned month, unsigned day, int offset) {
  return std::int64_t{days_from_civil(year, month, day)} * kSecondsPerDay - offset;
}

// The UTC day of the local time `seconds_of_day` after `midnight` (from utc_midnight).
std::int32_t utc_day(std::int64_t midnight, int seconds_of_day) {
  return static_cast<std::int32_t>(floor_div(midnight + seconds_of_day, kSecondsPerDay));
}

// `+hhmm`, `-hhmm`, `+hh:mm`, `-hh:mm`, `Z` (or nothing, meaning UTC) at `pos`, ending the text.
std::optional<int> offset_at(std::string_view text, std::size_t pos) {
  if (pos == text.size()) return 0;
  if (text[pos] == 'Z' || text[pos] == 'z')
    return pos + 1 == text.size() ? std::optional<int>(0) : std::nullopt;
  if (text[pos] != '+' && text[pos] != '-') return std::nullopt;
  auto hours = digits_at(text, pos + 1, 2);
  auto minutes_pos = pos + 3;
  if (minutes_pos < text.size() && text[minutes_pos] == ':') ++minutes_pos;
  auto minutes = digits_at(text, minutes_pos, 2);
  if (!hours || !minutes || minutes_pos + 2 != text.size() || *hours > 23 || *minutes > 59) {
    return std::nullopt;
  }
  int seconds = *hours * 3600 + *minutes * 60;
  return text[pos] == '-' ? -seconds : seconds;
}

}  // namespace

// Howard Hinnant's days_from_civil: counts in 400-year eras starting on 1 March.
std::int32_t days_from_civil(int year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const int era = (year >= 0 ? year : year - 399) / 400;
  const auto year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<int>(day_of_era) - 719468;
}

namespace {

// Of a `%t` time (26 bytes, its separators checked): the seconds since the epoch of midnight
// starting its local date, in UTC.
std::optional<std::int64_t> clf_midnight(std::string_view text) {
  auto day = digits_at(text, 0, 2);
  auto month = month_from_abbreviation(text.substr(3, 3));
  auto year = digits_at(text, 7, 4);
  auto offset = offset_at(text, 21);
  if (!day || !month || !year || !offset ||
      !valid_date(*year, *month, static_cast<unsigned>(*day))) {
    return std::nullopt;
  }
  return utc_midnight(*year, *month, static_cast<unsigned>(*day), *offset);
}

// Of a `%t` time: the seconds since its local midnight.
std::optional<int> clf_clock(std::string_view text) {
  auto hour = digits_at(text, 12, 2);
  auto minute = digits_at(text, 15, 2);
  auto second = digits_at(text, 18, 2);
  if (!hour || !minute || !second || !valid_time(*hour, *minute, *second)) return std::nullopt;
  return *hour * 3600 + *minute * 60 + *second;
}

bool clf_separators(std::string_view text) {
  return text.size() == 26 && text[2] == '/' && text[6] == '/' && text[11] == ':' &&
         text[14] == ':' && text[17] == ':' && text[20] == ' ';
}

}  // namespace

std::optional<std::int32_t> clf_day(std::string_view text) {
  // 10/Oct/2000:13:55:36 -0700: with nothing remembered, every part is read.
  return ClfDays{}.day_of(text);
}

std::optional<std::int32_t> ClfDays::day_of(std::string_view text) {
  if (text.size() != kLength) return std::nullopt;
  // Fixed-size compares: inlined, where a string_view compare calls memcmp.
  if (std::memcmp(text.data(), last_text_.data(), kLength) == 0) return last_day_;
  const bool same_date_and_offset =
      std::memcmp(text.data(), last_text_.data(), kDateLength) == 0 &&
      std::memcmp(text.data() + kLength - kOffsetLength,
                  last_text_.data() + kLength - kOffsetLength, kOffsetLength) == 0;
  std::memcpy(last_text_.data(), text.data(), kLength);
  if (!same_date_and_offset) last_midnight_ = clf_midnight(text);
  auto clock = clf_clock(text);
  last_day_ = clf_separators(text) && last_midnight_ && clock
                  ? std::optional<std::int32_t>(utc_day(*last_midnight_, *clock))
                  : std::nullopt;
  return last_day_;
}

std::optional<std::int32_t> iso8601_day(std::string_view text) {
  if (text.size() < 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  auto year = digits_at(text, 0, 4);
  auto month = digits_at(text, 5, 2);
  auto day = digits_at(text, 8, 2);
  if (!year || !month || !day ||
      !valid_date(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day))) {
    return std::nullopt;
  }
  const auto umonth = static_cast<unsigned>(*month);
  const auto uday = static_cast<unsigned>(*day);
  if (text.size() == 10) return days_from_civil(*year, umonth, uday);
  if (text[10] != 'T' && text[10] != 't' && text[10] != ' ') return std::nullopt;
  auto hour = digits_at(text, 11, 2);
  auto minute = digits_at(text, 14, 2);
  if (!hour || !minute || text.size() < 16 || text[13] != ':') return std::nullopt;
  std::size_t pos = 16;
  int second = 0;
  if (pos < text.size() && text[pos] == ':') {
    auto read = digits_at(text, pos + 1, 2);
    if (!read) return std::nullopt;
    second = *read;
    pos += 3;
    if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
      ++pos;
      while (pos < text.size() && is_digit(text[pos])) ++pos;
    }
  }
  auto offset = offset_at(text, pos);
  if (!offset || !valid_time(*hour, *minute, second)) return std::nullopt;
  return utc_day(utc_midnight(*year, umonth, uday, *offset), *hour * 3600 + *minute * 60 + second);
}

std::optional<std::int32_t> timestamp_day(std::string_view text) {
  if (auto day = clf_day(text)) return day;
  if (auto day = iso8601_day(text)) return day;
  // Epoch seconds, with optional fraction; at most 12 integer digits keeps the arithmetic exact.
  std::size_t pos = 0;
  std::int64_t seconds = 0;
  while (pos < text.size() && is_digit(text[pos]) && pos < 12) {
    seconds = seconds * 10 + (text[pos] - '0');
    ++pos;
  }
  if (pos == 0) return std::nullopt;
  if (pos < text.size()) {
    if (text[pos] != '.') return std::nullopt;
    for (++pos; pos < text.size(); ++pos) {
      if (!is_digit(text[pos])) return std::nullopt;
    }
  }
  return static_cast<std::int32_t>(seconds / kSecondsPerDay);
}

}  // namespace veil::anonymiser
