// Strict %XX decoding, shared by the consent-cookie readers and the demo origin's form and path
// handling.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace veil::policies {

// Decodes %XX escapes (and '+' as a space when `plus_is_space`, for form encoding). nullopt on a
// malformed escape, as JavaScript's decodeURIComponent throws on one.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

}  // namespace veil::policies
