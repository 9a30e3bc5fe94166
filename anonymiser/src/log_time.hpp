// Reads the date of a log record as days since 1970-01-01 in UTC, so that every machine derives the
// same daily key for the same record whatever its local time zone.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace veil::anonymiser {

// Days since 1970-01-01 of a proleptic Gregorian date.
std::int32_t days_from_civil(int year, unsigned month, unsigned day);

// Apache/nginx `%t` / `$time_local` without brackets: `10/Oct/2000:13:55:36 -0700`.
std::optional<std::int32_t> clf_day(std::string_view text);

// clf_day for the timestamps of one log, read in order. A log's lines share their date and offset
// for hours, and its busy seconds several lines: a time equal to the last is not read again, and of
// one whose date and offset are the last's only the time of day is read.
class ClfDays {
 public:
  std::optional<std::int32_t> day_of(std::string_view text);

 private:
  // `10/Oct/2000` `:13:55:36` ` -0700`
  static constexpr std::size_t kDateLength = 11, kClockLength = 9, kOffsetLength = 6;
  static constexpr std::size_t kLength = kDateLength + kClockLength + kOffsetLength;

  std::array<char, kLength> last_text_{};  // all zero bytes: never a valid time
  std::optional<std::int32_t> last_day_;
  // Seconds since the epoch of midnight starting the last text's local date, in UTC; empty when
  // that date or offset is invalid.
  std::optional<std::int64_t> last_midnight_;
};

// ISO 8601 / RFC 3339: `2016-09-13`, `2016-09-13T21:45:10Z`, `2016-09-13 21:45:10.5+01:00`. A time
// without an offset is taken as UTC (IIS W3C logs, `@timestamp`).
std::optional<std::int32_t> iso8601_day(std::string_view text);

// Any of the above, or Unix epoch seconds (`1709251200`, `1709251200.123`).
std::optional<std::int32_t> timestamp_day(std::string_view text);

}  // namespace veil::anonymiser
