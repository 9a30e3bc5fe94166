// Finds address-looking tokens in arbitrary text without regular expressions.
//
// A token is IPv4 (a dotted quad) or IPv6 (any RFC 4291 form, also with `%3A` for every colon as in
// a URL query string). What surrounds it stays text: brackets, `:port`, `%zone`, list separators.
// Not tokens: times (13:55:36), MAC addresses (six colon-separated fields), a bare "::", dotted
// runs of more than four numbers (1.2.3.4.5), octets above 255, IPv6 running on into a word
// (std::string, ::1_x) or continuing a hex word, digit run or dotted name. When in doubt and the
// text parses as an address it is a token: the version in `Foo/10.2.3.4`, the address in
// `ip2001:db8::1` (a letter that is no hex digit ends a word) and the valid IPv6 prefix of a longer
// colon run are rewritten.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "veil/anonymiser/ip_address.hpp"

namespace veil::anonymiser {

// No token is shorter: "::1", "1::".
constexpr std::size_t kShortestToken = 3;

struct AddressToken {
  std::size_t begin = 0;  // byte offsets in the scanned text
  std::size_t end = 0;
  IpAddress address;
  // For IPv6 written with percent-encoded colons, the case of the letter in "%3A" ('A' or 'a');
  // '\0' for plain text.
  char encoded_colon_letter = '\0';
};

// The leftmost token starting at or after `from`.
std::optional<AddressToken> find_next_address(std::string_view text, std::size_t from);

// Stores in `token` the token that is all of `text`, as find_next_address finds it in text where
// spaces or quotes delimit `text`; false (and `token` unspecified) when `text` is not exactly one
// token. Quicker than find_next_address for a dotted quad: a log line's client field. The token is
// filled in place: a copy of it, soon after its parts were stored one by one, would wait for them.
bool whole_address(std::string_view text, AddressToken& token);

// True when line[begin, end) holds a token, as find_next_address finds them in that text alone.
// The line around it lets a few bytes be ruled out 16 at a time: the bytes between the fields.
bool holds_address(std::string_view line, std::size_t begin, std::size_t end);

// False when `text` holds none of '.', ':' and '%', one of which every token contains: a quicker
// answer than find_next_address for the few bytes between the fields of a log line.
inline bool may_hold_address(std::string_view text) {
  for (char c : text) {
    if (c == '.' || c == ':' || c == '%') return true;
  }
  return false;
}

}  // namespace veil::anonymiser
