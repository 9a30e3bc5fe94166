// Lookup in the HTML named character reference table (internal to the HTML tokenizer).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace veil::proxy {

inline constexpr std::size_t kMaxNamedReferenceLength = 32;

struct NamedReferenceMatch {
  std::size_t length;     // bytes of text consumed (the name, with its ';' if the table has one)
  std::string_view utf8;  // the replacement characters
};

// The longest named character reference at the start of `text` (which follows a '&').
std::optional<NamedReferenceMatch> match_named_reference(std::string_view text);

}  // namespace veil::proxy
