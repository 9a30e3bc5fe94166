#include "veil/policies/http_date.hpp"

#include <array>

namespace veil::policies {
namespace {

using namespace std::chrono;

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> kWeekdays = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

// 1-based month for a token starting with a month's three-letter abbreviation, any case.
int month_prefix(std::string_view token) {
  if (token.size() < 3) return 0;
  for (std::size_t m = 0; m < kMonths.size(); ++m) {
    if (ascii_lower(token[0]) == ascii_lower(kMonths[m][0]) &&
        ascii_lower(token[1]) == kMonths[m][1] && ascii_lower(token[2]) == kMonths[m][2]) {
      return static_cast<int>(m) + 1;
    }
  }
  return 0;
}

std::optional<sys_seconds> make_time(int year, int month, int day, int hour, int minute,
                                     int second) {
  const year_month_day date{std::chrono::year{year},
                            std::chrono::month{static_cast<unsigned>(month)},
                            std::chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok() || hour > 23 || minute > 59 || second > 59) return std::nullopt;
  return sys_days{date} + hours{hour} + minutes{minute} + seconds{second};
}

// RFC 6265 §5.1.1 delimiter = %x09 / %x20-2F / %x3B-40 / %x5B-60 / %x7B-7E.
bool is_date_delimiter(unsigned char c) {
  return c == 0x09 || (c >= 0x20 && c <= 0x2F) || (c >= 0x3B && c <= 0x40) ||
         (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
}

// Reads 1*max_digits DIGIT at `pos`, which must then end the token or be followed by a non-digit.
// Returns the number of digits read (0 when the production does not match).
std::size_t read_digits(std::string_view token, std::size_t pos, std::size_t min_digits,
                        std::size_t max_digits, int& value) {
  std::size_t n = 0;
  value = 0;
  while (pos + n < token.size() && is_digit(token[pos + n]) && n < max_digits) {
    value = value * 10 + (token[pos + n] - '0');
    ++n;
  }
  if (n < min_digits) return 0;
  if (pos + n < token.size() && is_digit(token[pos + n])) return 0;
  return n;
}

// hms-time = time-field ":" time-field ":" time-field, then end of token or a non-digit.
bool read_time(std::string_view token, int& hour, int& minute, int& second) {
  std::size_t pos = 0;
  int* fields[] = {&hour, &minute, &second};
  for (int i = 0; i < 3; ++i) {
    std::size_t n = 0;
    *fields[i] = 0;
    while (pos + n < token.size() && is_digit(token[pos + n]) && n < 2) {
      *fields[i] = *fields[i] * 10 + (token[pos + n] - '0');
      ++n;
    }
    if (n == 0) return false;
    pos += n;
    if (i < 2) {
      if (pos >= token.size() || token[pos] != ':') return false;
      ++pos;
    }
  }
  return pos == token.size() || !is_digit(token[pos]);
}

int two_digits(std::string_view s, std::size_t pos) {
  if (!is_digit(s[pos]) || !is_digit(s[pos + 1])) return -1;
  return (s[pos] - '0') * 10 + (s[pos + 1] - '0');
}

}  // namespace

std::string format_http_date(sys_seconds time) {
  const sys_seconds earliest = sys_days{year{0} / January / 1};
  const sys_seconds latest =
      sys_days{year{9999} / December / 31} + hours{23} + minutes{59} + seconds{59};
  if (time < earliest) time = earliest;
  if (time > latest) time = latest;
  const sys_days day_start = floor<days>(time);
  const year_month_day date{day_start};
  const hh_mm_ss clock{time - day_start};
  // Hand-written rather than snprintf: this runs for every capped cookie on the proxy's hot path.
  std::string out = "Www, DD Mmm YYYY hh:mm:ss GMT";
  const auto put_digits = [&out](std::size_t pos, unsigned value, int width) {
    for (int i = width - 1; i >= 0; --i, value /= 10) {
      out[pos + static_cast<std::size_t>(i)] = static_cast<char>('0' + value % 10);
    }
  };
  out.replace(0, 3, kWeekdays[weekday{day_start}.c_encoding()]);
  put_digits(5, static_cast<unsigned>(date.day()), 2);
  out.replace(8, 3, kMonths[static_cast<unsigned>(date.month()) - 1]);
  put_digits(12, static_cast<unsigned>(static_cast<int>(date.year())), 4);
  put_digits(17, static_cast<unsigned>(clock.hours().count()), 2);
  put_digits(20, static_cast<unsigned>(clock.minutes().count()), 2);
  put_digits(23, static_cast<unsigned>(clock.seconds().count()), 2);
  return out;
}

std::optional<sys_seconds> parse_http_date(std::string_view text) {
  // "Sun, 06 Nov 1994 08:49:37 GMT"
  constexpr std::string_view kShape = "Www, DD Mmm YYYY hh:mm:ss GMT";
  if (text.size() != kShape.size()) return std::nullopt;
  bool known_weekday = false;
  for (std::string_view name : kWeekdays) known_weekday |= text.substr(0, 3) == name;
  if (!known_weekday || text.substr(3, 2) != ", " || text[7] != ' ' || text[11] != ' ' ||
      text[16] != ' ' || text[19] != ':' || text[22] != ':' || text.substr(25) != " GMT") {
    return std::nullopt;
  }
  int month = 0;
  for (std::size_t m = 0; m < kMonths.size(); ++m) {
    if (text.substr(8, 3) == kMonths[m]) month = static_cast<int>(m) + 1;
  }
  const int day = two_digits(text, 5);
  const int century = two_digits(text, 12);
  const int year_in_century = two_digits(text, 14);
  const int hour = two_digits(text, 17);
  const int minute = two_digits(text, 20);
  const int second = two_digits(text, 23);
  if (month == 0 || day < 1 || century < 0 || year_in_century < 0 || hour < 0 || minute < 0 ||
      second < 0) {
    return std::nullopt;
  }
  return make_time(century * 100 + year_in_century, month, day, hour, minute, second);
}

std::optional<sys_seconds> parse_cookie_date(std::string_view text) {
  bool found_time = false, found_day = false, found_month = false, found_year = false;
  int hour = 0, minute = 0, second = 0, day = 0, month = 0, year_value = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && is_date_delimiter(static_cast<unsigned char>(text[pos]))) ++pos;
    std::size_t end = pos;
    while (end < text.size() && !is_date_delimiter(static_cast<unsigned char>(text[end]))) ++end;
    const std::string_view token = text.substr(pos, end - pos);
    pos = end;
    if (token.empty()) continue;
    int h = 0, mi = 0, s = 0, number = 0;
    if (!found_time && read_time(token, h, mi, s)) {
      found_time = true;
      hour = h, minute = mi, second = s;
    } else if (!found_day && read_digits(token, 0, 1, 2, number) > 0) {
      found_day = true;
      day = number;
    } else if (!found_month && month_prefix(token) > 0) {
      found_month = true;
      month = month_prefix(token);
    } else if (!found_year && read_digits(token, 0, 2, 4, number) > 0) {
      found_year = true;
      year_value = number;
    }
  }
  if (!(found_time && found_day && found_month && found_year)) return std::nullopt;
  if (year_value >= 70 && year_value <= 99) year_value += 1900;
  if (year_value >= 0 && year_value <= 69) year_value += 2000;
  if (day < 1 || day > 31 || year_value < 1601) return std::nullopt;
  return make_time(year_value, month, day, hour, minute, second);
}

}  // namespace veil::policies
