// Lookup in the HTML named character reference table, and the UTF-8 encoding that numeric
// references need (internal to the HTML tokenizer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace veil::proxy {

inline constexpr std::size_t kMaxNamedReferenceLength = 32;

struct NamedReferenceMatch {
  std::size_t length;     // bytes of text consumed (the name, with its ';' if the table has one)
  std::string_view utf8;  // the replacement characters
};

// The longest named character reference at the start of `text` (which follows a '&').
std::optional<NamedReferenceMatch> match_named_reference(std::string_view text);

// Appends the UTF-8 encoding of `code_point` (at most U+10FFFF) to `out`.
void append_utf8(std::string& out, std::uint32_t code_point);

}  // namespace veil::proxy
