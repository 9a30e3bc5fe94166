// The daily key schedule: per-day method keys derived from the master key.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "veil/anonymiser/address_anonymiser.hpp"
#include "veil/anonymiser/settings.hpp"

namespace veil::anonymiser {

// "YYYY-MM-DD" (proleptic Gregorian, UTC) for a dated day, "undated" for kUndated.
std::string day_label(Day day);

// HKDF-SHA256 (RFC 5869, no salt) of `master` with info "veil/<method>/<day_label(day)>", `length`
// bytes long. Any machine holding the master key derives the same key for the same day.
std::vector<std::uint8_t> derive_day_key(std::span<const std::uint8_t> master, Method method,
                                         Day day, std::size_t length);

}  // namespace veil::anonymiser
