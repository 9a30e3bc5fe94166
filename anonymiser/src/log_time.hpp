// Reads the date of a log record as days since 1970-01-01 in UTC, so that every machine derives the
// same daily key for the same record whatever its local time zone.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace veil::anonymiser {

// Days since 1970-01-01 of a proleptic Gregorian date.
std::int32_t days_from_civil(int year, unsigned month, unsigned day);

// Apache/nginx `%t` / `$time_local` without brackets: `10/Oct/2000:13:55:36 -0700`.
std::optional<std::int32_t> clf_day(std::string_view text);

// ISO 8601 / RFC 3339: `2016-09-13`, `2016-09-13T21:45:10Z`, `2016-09-13 21:45:10.5+01:00`. A time
// without an offset is taken as UTC (IIS W3C logs, `@timestamp`).
std::optional<std::int32_t> iso8601_day(std::string_view text);

// Any of the above, or Unix epoch seconds (`1709251200`, `1709251200.123`).
std::optional<std::int32_t> timestamp_day(std::string_view text);

}  // namespace veil::anonymiser
