#include "address_scan.hpp"

#include <algorithm>
#include <cstdint>

#include "chunk_load.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace veil::anonymiser {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_word(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

// Every address contains '.', ':' or, percent-encoded, '%' within its first five bytes, so the scan
// visits only these bytes and looks back from each.
#if defined(__SSE2__)
// Bit i stands for bytes[i], for 16 bytes.
std::uint32_t anchor_bits(const char* bytes) {
  const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes));
  const __m128i hits = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(chunk, _mm_set1_epi8('.')),
                                                 _mm_cmpeq_epi8(chunk, _mm_set1_epi8(':'))),
                                    _mm_cmpeq_epi8(chunk, _mm_set1_epi8('%')));
  return static_cast<std::uint32_t>(_mm_movemask_epi8(hits));
}
#endif

// Bit i stands for text[chunk + i], up to 16.
std::uint32_t anchor_mask(std::string_view text, std::size_t chunk) {
#if defined(__SSE2__)
  if (const auto load = chunk_load(text, chunk)) return anchor_bits(load->bytes) >> load->skipped;
#endif
  std::uint32_t mask = 0;
  for (std::size_t i = chunk; i < text.size() && i < chunk + 16; ++i) {
    char c = text[i];
    if (c == '.' || c == ':' || c == '%') mask |= 1u << (i - chunk);
  }
  return mask;
}

// "%XX" ends right before `pos`.
bool escape_before(std::string_view text, std::size_t pos) {
  return pos >= 3 && text[pos - 3] == '%' && is_hex(text[pos - 2]) && is_hex(text[pos - 1]);
}

// `pos` is inside a percent escape: "%" then the two digits starting here.
bool inside_escape(std::string_view text, std::size_t pos) {
  return pos >= 1 && text[pos - 1] == '%' && pos + 1 < text.size() && is_hex(text[pos]) &&
         is_hex(text[pos + 1]);
}

bool is_encoded_colon(std::string_view text, std::size_t pos) {
  return pos + 3 <= text.size() && text[pos] == '%' && text[pos + 1] == '3' &&
         (text[pos + 2] == 'A' || text[pos + 2] == 'a');
}

// May an IPv6 token start at `pos`, its colons `encoded` or not? Not in the middle of a hex word,
// number or dotted name (the hex run is tried from its start instead), nor when it continues a
// colon run such as a time or MAC address (a colon right after a hex digit). Other letters may
// precede it: fail closed. Only a colon of the token's own spelling continues its run: "%3A"
// before a token with plain colons is any other escape.
bool ipv6_may_start(std::string_view text, std::size_t pos, bool encoded) {
  if (pos == 0) return true;
  if (inside_escape(text, pos)) return false;
  std::size_t colon_start;
  if (escape_before(text, pos)) {
    if (!encoded || !is_encoded_colon(text, pos - 3)) return true;
    colon_start = pos - 3;
  } else {
    char previous = text[pos - 1];
    if (previous != ':') return !is_hex(previous) && previous != '_' && previous != '.';
    colon_start = pos - 1;
  }
  if (colon_start == 0) return true;
  char before = text[colon_start - 1];
  return !is_hex(before) && before != ':' && before != '.';
}

bool ipv6_may_end(std::string_view text, std::size_t pos) {
  if (pos >= text.size()) return true;
  char next = text[pos];
  if (is_word(next)) return false;
  return !(next == '.' && pos + 1 < text.size() && is_digit(text[pos + 1]));
}

// May an IPv4 token start at `pos`? Not when it continues a number or a dotted run of numbers.
bool ipv4_may_start(std::string_view text, std::size_t pos) {
  if (pos == 0 || escape_before(text, pos)) return true;
  if (inside_escape(text, pos)) return false;
  char previous = text[pos - 1];
  if (is_digit(previous)) return false;
  return !(previous == '.' && pos >= 2 && is_digit(text[pos - 2]));
}

bool ipv4_may_end(std::string_view text, std::size_t pos) {
  if (pos >= text.size()) return true;
  char next = text[pos];
  if (is_digit(next)) return false;
  return !(next == '.' && pos + 1 < text.size() && is_digit(text[pos + 1]));
}

// Does `.d{1,3}.d{1,3}.d{1,3}` start at `dot`, as after the first octet of a dotted quad? Most dots
// between digits (versions: "HTTP/1.1", "Safari/537.36") fail this before any start is parsed.
bool three_octets_follow(std::string_view text, std::size_t dot) {
  std::size_t pos = dot;
  for (int octet = 0; octet < 3; ++octet) {
    if (pos >= text.size() || text[pos] != '.') return false;
    const std::size_t first_digit = ++pos;
    while (pos < text.size() && pos - first_digit < 4 && is_digit(text[pos])) ++pos;
    if (pos == first_digit || pos - first_digit > 3) return false;
  }
  return true;
}

bool match_ipv6(std::string_view text, std::size_t pos, AddressToken& token) {
  // The byte after the first field (at most four hex digits) decides the colon spelling.
  std::size_t probe = pos;
  while (probe < text.size() && probe - pos < 5 && is_hex(text[probe])) ++probe;
  if (probe >= text.size()) return false;
  bool encoded = is_encoded_colon(text, probe);
  if (!encoded && text[probe] != ':') return false;
  if (!ipv6_may_start(text, pos, encoded)) return false;

  std::size_t length = parse_ipv6_prefix(text.substr(pos), token.address, encoded);
  std::size_t bare_gap = encoded ? 6 : 2;  // "::" alone carries no address
  if (length <= bare_gap || !ipv6_may_end(text, pos + length)) return false;
  token.begin = pos;
  token.end = pos + length;
  token.encoded_colon_letter = encoded ? text[probe + 2] : '\0';
  return true;
}

bool match_ipv4(std::string_view text, std::size_t pos, AddressToken& token) {
  if (!ipv4_may_start(text, pos)) return false;
  std::size_t length = parse_ipv4_prefix(text.substr(pos), token.address);
  if (length == 0 || !ipv4_may_end(text, pos + length)) return false;
  token.begin = pos;
  token.end = pos + length;
  token.encoded_colon_letter = '\0';
  return true;
}

// Tries the tokens whose first '.', ':' or '%' is at `anchor` and that start at or after
// `untried`, leftmost first.
bool match_around(std::string_view text, std::size_t anchor, std::size_t untried,
                  AddressToken& token) {
  const std::size_t size = text.size();
  if (anchor + 1 >= size) return false;
  char next = text[anchor + 1];
  switch (text[anchor]) {
    case '.': {
      // Only IPv4 starts with digits and a dot: up to three digits, then three more octets (the
      // anchor is the token's first dot: a start before an earlier dot was tried at that dot).
      if (anchor == 0 || !is_digit(text[anchor - 1]) || !is_digit(next) ||
          !three_octets_follow(text, anchor)) {
        return false;
      }
      std::size_t start = anchor >= untried + 3 ? anchor - 3 : untried;
      for (; start < anchor; ++start) {
        if (is_digit(text[start]) && match_ipv4(text, start, token)) return true;
      }
      return false;
    }
    case ':':
      // An IPv6 token goes on after its first colon with a field or a second colon.
      if (!is_hex(next) && next != ':') return false;
      break;
    default:
      if (!is_encoded_colon(text, anchor)) return false;
      break;
  }
  std::size_t start = anchor >= untried + 4 ? anchor - 4 : untried;
  for (; start <= anchor; ++start) {
    if (match_ipv6(text, start, token)) return true;
  }
  return false;
}

}  // namespace

bool whole_address(std::string_view text, AddressToken& token) {
  if (text.empty()) return false;
  // All of the text a dotted quad (octets of at most three digits, as three_octets_follow wants) or
  // IPv6 with plain colons: the scanner would try a token at its first byte, which may start and
  // end there, and find this one.
  if (parse_ipv4_prefix(text, token.address) == text.size() ||
      (text.size() > 2 && parse_ipv6_prefix(text, token.address) == text.size())) {
    token.begin = 0;
    token.end = text.size();
    token.encoded_colon_letter = '\0';
    return true;
  }
  // Percent-encoded colons, or not an address.
  auto found = find_next_address(text, 0);
  if (!found || found->begin != 0 || found->end != text.size()) return false;
  token = *found;
  return true;
}

bool holds_address(std::string_view line, std::size_t begin, std::size_t end) {
  const std::size_t size = end - begin;
#if defined(__SSE2__)
  if (size < 16 && line.size() >= 16) {
    // The 16 bytes of the line that hold the text, with the bits of the others cleared.
    const std::size_t load_at = std::min(begin, line.size() - 16);
    if (((anchor_bits(line.data() + load_at) >> (begin - load_at)) & ((1u << size) - 1)) == 0) {
      return false;
    }
  }
#endif
  return find_next_address(line.substr(begin, size), 0).has_value();
}

std::optional<AddressToken> find_next_address(std::string_view text, std::size_t from) {
  AddressToken token;
  // Starts already tried for an earlier anchor are not tried again.
  std::size_t untried = from;
  for (std::size_t chunk = from; chunk < text.size(); chunk += 16) {
    for (std::uint32_t mask = anchor_mask(text, chunk); mask; mask &= mask - 1) {
      std::size_t anchor = chunk + static_cast<std::size_t>(__builtin_ctz(mask));
      if (match_around(text, anchor, untried, token)) return token;
      untried = anchor + 1;
    }
  }
  return std::nullopt;
}

}  // namespace veil::anonymiser
