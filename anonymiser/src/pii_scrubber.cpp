#include "veil/anonymiser/pii_scrubber.hpp"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <array>
#include <bit>
#include <memory>
#include <stdexcept>
#include <utility>

#include "chunk_load.hpp"
#include "veil/anonymiser/hex.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace veil::anonymiser {
namespace {

// What a field must contain for a built-in pattern to match it: a cheap test that lets the common
// field (a path without personal data) skip the regex engine entirely.
enum class Needs : std::uint8_t {
  anything,     // a policy-supplied pattern: always run
  email,        // '@' or "%40" followed by a letter
  inward_code,  // postcode: a digit and two letters ending a word ("1AA") after an outward code
  nino,  // six digits, and a suffix letter A-D ending a word after a digit (and maybe a separator)
  ten_digits,  // phone (0 + 9 digits at least) and NHS numbers
};

Needs needs_of(const PiiRule& rule) {
  static constexpr std::array<std::pair<std::string_view, Needs>, 5> kBuiltinNeeds{{
      {"email", Needs::email},
      {"postcode", Needs::inward_code},
      {"phone", Needs::ten_digits},
      {"nino", Needs::nino},
      {"nhs", Needs::ten_digits},
  }};
  // Only the shipped pattern is known to need these; an edited one under the same name is run
  // always.
  for (const auto& builtin : builtin_pii_rules()) {
    if (builtin.name != rule.name || builtin.pattern != rule.pattern) continue;
    for (const auto& [name, needs] : kBuiltinNeeds) {
      if (name == rule.name) return needs;
    }
  }
  return Needs::anything;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
// RE2's \w and \s (ASCII only): the rules end in \b and separate with \s.
bool is_word(char c) {
  return is_digit(c) || is_letter(c) || c == '_';
}
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

bool is_nino_suffix(char c) {
  return (c >= 'A' && c <= 'D') || (c >= 'a' && c <= 'd');
}

// The bytes of a 16-byte chunk (or the text's shorter tail) the prefilter looks at: digits, and '@'
// or '%'. Most of a URL is letters and '/', '-', '.', so most chunks have neither and are skipped
// whole.
struct ChunkMarks {
  std::uint32_t digits = 0;
  std::uint32_t at_or_percent = 0;
  bool non_ascii = false;
};

ChunkMarks chunk_marks(std::string_view text, std::size_t chunk) {
  ChunkMarks marks;
#if defined(__SSE2__)
  if (const auto load = chunk_load(text, chunk)) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(load->bytes));
    // Signed compares: bytes from 0x80 on are negative, hence no digits.
    const __m128i digits = _mm_and_si128(_mm_cmpgt_epi8(bytes, _mm_set1_epi8('0' - 1)),
                                         _mm_cmplt_epi8(bytes, _mm_set1_epi8('9' + 1)));
    const __m128i at_or_percent = _mm_or_si128(_mm_cmpeq_epi8(bytes, _mm_set1_epi8('@')),
                                               _mm_cmpeq_epi8(bytes, _mm_set1_epi8('%')));
    marks.digits = static_cast<std::uint32_t>(_mm_movemask_epi8(digits)) >> load->skipped;
    marks.at_or_percent =
        static_cast<std::uint32_t>(_mm_movemask_epi8(at_or_percent)) >> load->skipped;
    marks.non_ascii = (static_cast<std::uint32_t>(_mm_movemask_epi8(bytes)) >> load->skipped) != 0;
    return marks;
  }
#endif
  for (std::size_t i = chunk; i < text.size() && i < chunk + 16; ++i) {
    const char c = text[i];
    if (is_digit(c)) marks.digits |= 1U << (i - chunk);
    if (c == '@' || c == '%') marks.at_or_percent |= 1U << (i - chunk);
    if (static_cast<unsigned char>(c) >= 0x80) marks.non_ascii = true;
  }
  return marks;
}

struct FieldTraits {
  std::size_t digits = 0;
  bool email = false;
  bool inward_code = false;
  bool nino_suffix = false;
  bool percent = false;  // a '%' anywhere: the field may need decoding

  explicit FieldTraits(std::string_view text) {
    for (std::size_t chunk = 0; chunk < text.size(); chunk += 16) {
      const auto marks = chunk_marks(text, chunk);
      // Few bytes are digits: clearing them one by one beats std::popcount, which is a library
      // call on the baseline x86-64 without POPCNT.
      for (std::uint32_t digit = marks.digits; digit != 0; digit &= digit - 1) ++digits;
      // Under (?i) RE2 also matches 's' and 'k' to the UTF-8 letters U+017F and U+212A, which the
      // byte checks below do not know: such a field may hold an e-mail address or inward code.
      if (marks.non_ascii) email = inward_code = true;
      // Only the last digit of a run can be followed by a letter or separator.
      const std::uint32_t run_ends = marks.digits & ~(marks.digits >> 1);
      for (std::uint32_t visit = run_ends | marks.at_or_percent; visit != 0; visit &= visit - 1) {
        look_around(text, chunk + static_cast<std::size_t>(std::countr_zero(visit)));
      }
    }
  }

  // `text[i]` is a digit, '@' or '%': notes what it may start or end.
  void look_around(std::string_view text, std::size_t i) {
    const std::size_t size = text.size();
    auto at = [&](std::size_t j) { return j < size ? text[j] : '\0'; };
    const char c = text[i];
    if (c == '@') {
      email = email || is_letter(at(i + 1));
    } else if (c == '%') {
      percent = true;
      email = email || (at(i + 1) == '4' && at(i + 2) == '0' && is_letter(at(i + 3)));
    } else {
      const char next = at(i + 1);
      if (is_letter(next)) {
        inward_code = inward_code ||
                      (is_letter(at(i + 2)) && !is_word(at(i + 3)) && outward_code_before(text, i));
        nino_suffix = nino_suffix || nino_suffix_at(text, i + 1);
      } else if (next == '+' || is_space(next)) {
        nino_suffix = nino_suffix || nino_suffix_at(text, i + 2);
      } else if (next == '%') {
        nino_suffix =
            nino_suffix || (at(i + 2) == '2' && at(i + 3) == '0' && nino_suffix_at(text, i + 4));
      }
    }
  }

  // Do two to four word bytes starting a word ("SW1A", "M1", "GIR") end right before `i`, or before
  // a separator (whitespace, '+', "%20") there? A postcode's outward code does; the "3kd" ending
  // a click identifier such as "fbclid=IwAR2x7Yh3kd" has no such word in front.
  static bool outward_code_before(std::string_view text, std::size_t i) {
    auto word_ends_at = [&](std::size_t end) {
      std::size_t start = end;
      while (start > 0 && end - start <= 4 && is_word(text[start - 1])) --start;
      return end - start >= 2 && end - start <= 4;
    };
    if (word_ends_at(i)) return true;
    if (i >= 1 && (is_space(text[i - 1]) || text[i - 1] == '+') && word_ends_at(i - 1)) return true;
    return i >= 3 && text.substr(i - 3, 3) == "%20" && word_ends_at(i - 3);
  }

  // A National Insurance suffix letter ending a word at `i`.
  static bool nino_suffix_at(std::string_view text, std::size_t i) {
    return i < text.size() && is_nino_suffix(text[i]) &&
           (i + 1 == text.size() || !is_word(text[i + 1]));
  }

  // Bit per Needs value this field satisfies.
  std::uint8_t satisfied_kinds() const {
    std::uint8_t kinds = 0;
    for (auto needs :
         {Needs::anything, Needs::email, Needs::inward_code, Needs::nino, Needs::ten_digits}) {
      if (satisfies(needs)) kinds |= static_cast<std::uint8_t>(1U << static_cast<unsigned>(needs));
    }
    return kinds;
  }

  bool satisfies(Needs needs) const {
    switch (needs) {
      case Needs::anything:
        return true;
      case Needs::email:
        return email;
      case Needs::inward_code:
        return inward_code;
      case Needs::nino:
        return digits >= 6 && nino_suffix;
      case Needs::ten_digits:
        return digits >= 10;
    }
    return true;
  }
};

// `logo@hd.png` has the shape of an e-mail address but names an image.
bool ends_with_file_extension(std::string_view match) {
  static constexpr std::array<std::string_view, 9> kExtensions{"png",  "jpg", "jpeg", "gif", "svg",
                                                               "webp", "css", "js",   "ico"};
  auto dot = match.rfind('.');
  if (dot == std::string_view::npos) return false;
  auto tld = match.substr(dot + 1);
  return std::any_of(kExtensions.begin(), kExtensions.end(), [&](std::string_view extension) {
    return tld.size() == extension.size() &&
           std::equal(tld.begin(), tld.end(), extension.begin(),
                      [](char a, char b) { return (a | 0x20) == b; });
  });
}

bool passes(PiiCheck check, std::string_view match) {
  switch (check) {
    case PiiCheck::none:
      return true;
    case PiiCheck::nhs_mod11:
      return valid_nhs_number(match);
    case PiiCheck::not_file_extension:
      return !ends_with_file_extension(match);
  }
  return true;
}

RE2::Options rule_options() {
  RE2::Options options;
  options.set_log_errors(false);
  return options;
}

}  // namespace

bool valid_nhs_number(std::string_view text) {
  std::array<int, 10> digits{};
  std::size_t count = 0;
  for (char c : text) {
    if (!is_digit(c)) continue;
    if (count == digits.size()) return false;
    digits[count++] = c - '0';
  }
  if (count != digits.size()) return false;
  int sum = 0;
  for (std::size_t i = 0; i < 9; ++i) sum += digits[i] * static_cast<int>(10 - i);
  int check = 11 - sum % 11;
  if (check == 11) check = 0;
  return check != 10 && check == digits[9];
}

// The rules compiled: never changed once built, and shared by the copies of a scrubber on other
// threads, since compiling them is most of what starting a worker costs and RE2 objects may be used
// from several threads at once.
struct CompiledPiiRules {
  std::vector<PiiRule> rules;
  std::vector<std::unique_ptr<RE2>> patterns;
  std::vector<Needs> needs;
  std::uint8_t needed_kinds = 0;  // bit per Needs value some rule has
  RE2::Set set{rule_options(), RE2::UNANCHORED};

  explicit CompiledPiiRules(std::vector<PiiRule> rules_in) : rules(std::move(rules_in)) {
    for (const auto& rule : rules) {
      auto pattern = std::make_unique<RE2>(rule.pattern, rule_options());
      std::string error;
      if (!pattern->ok() || set.Add(rule.pattern, &error) < 0) {
        throw std::invalid_argument("PII rule '" + rule.name + "': bad pattern: " +
                                    (pattern->ok() ? error : pattern->error()));
      }
      patterns.push_back(std::move(pattern));
      needs.push_back(needs_of(rule));
      needed_kinds |= static_cast<std::uint8_t>(1U << static_cast<unsigned>(needs.back()));
    }
    if (!rules.empty() && !set.Compile()) {
      throw std::invalid_argument("PII rules: the patterns together exceed RE2's memory budget");
    }
  }
};

struct PiiScrubber::Impl {
  std::shared_ptr<const CompiledPiiRules> compiled;
  std::vector<int> set_hits;            // scratch for RE2::Set::Match
  std::vector<std::size_t> candidates;  // scratch: rules whose needs a field satisfies
  std::string decoded;                  // scratch: the field with %XX escapes decoded
  std::vector<std::uint32_t> origins;   // scratch: offset in the field of each decoded byte

  // Nearly every field fails this, and cheaply: it is checked inline before find_all is called.
  bool may_match(const FieldTraits& traits) const {
    return (traits.satisfied_kinds() & compiled->needed_kinds) != 0;
  }

  // Decodes every %XX escape of `text` into `decoded` ('+' stays: the phone rule reads "+44"), and
  // records where each decoded byte came from. False when there is nothing to decode.
  bool percent_decode(std::string_view text) {
    decoded.clear();
    origins.clear();
    for (std::size_t i = 0; i < text.size();) {
      origins.push_back(static_cast<std::uint32_t>(i));
      const int high = i + 2 < text.size() && text[i] == '%' ? hex_value(text[i + 1]) : -1;
      const int low = high >= 0 ? hex_value(text[i + 2]) : -1;
      if (low >= 0) {
        decoded.push_back(static_cast<char>(high * 16 + low));
        i += 3;
      } else {
        decoded.push_back(text[i]);
        ++i;
      }
    }
    origins.push_back(static_cast<std::uint32_t>(text.size()));
    return decoded.size() != text.size();
  }

  // Appends the matches of every rule that can match `text`, whose traits are `traits`; the caller
  // has checked may_match().
  void find_all(std::string_view text, const FieldTraits& traits, std::vector<PiiMatch>& matches) {
    candidates.clear();
    for (std::size_t i = 0; i < compiled->needs.size(); ++i) {
      if (traits.satisfies(compiled->needs[i])) candidates.push_back(i);
    }
    if (candidates.empty()) return;
    if (candidates.size() == 1) {
      find_rule(candidates.front(), text, matches);
      return;
    }
    // One pass over the field tells which rules match at all; only those are run for positions.
    // Should the set's DFA run out of memory, every candidate is run: never skip PII silently.
    RE2::Set::ErrorInfo error{RE2::Set::kNoError};
    const bool matched = compiled->set.Match(text, &set_hits, &error);
    if (!matched && error.kind == RE2::Set::kNoError) return;
    std::sort(set_hits.begin(), set_hits.end());
    for (std::size_t index : candidates) {
      if (!matched ||
          std::binary_search(set_hits.begin(), set_hits.end(), static_cast<int>(index))) {
        find_rule(index, text, matches);
      }
    }
  }

  void find_rule(std::size_t index, std::string_view text, std::vector<PiiMatch>& matches) const {
    const RE2& pattern = *compiled->patterns[index];
    const PiiCheck check = compiled->rules[index].check;
    re2::StringPiece found;
    std::size_t pos = 0;
    while (pos <= text.size() &&
           pattern.Match(text, pos, text.size(), RE2::UNANCHORED, &found, 1)) {
      const auto begin = static_cast<std::size_t>(found.data() - text.data());
      const auto end = begin + found.size();
      if (found.empty()) {
        pos = begin + 1;
      } else if (passes(check, {found.data(), found.size()})) {
        matches.push_back({static_cast<std::uint32_t>(begin), static_cast<std::uint32_t>(end),
                           static_cast<std::uint32_t>(index)});
        pos = end;
      } else {
        // A shorter match starting inside a rejected e-mail would end in the same extension; NHS
        // matches are short, so retrying one byte on stays linear.
        pos = check == PiiCheck::not_file_extension ? end : begin + 1;
      }
    }
  }
};

PiiScrubber::PiiScrubber(std::vector<PiiRule> rules) : impl_(std::make_unique<Impl>()) {
  impl_->compiled = std::make_shared<const CompiledPiiRules>(std::move(rules));
}

PiiScrubber::PiiScrubber(const PiiScrubber& other) : impl_(std::make_unique<Impl>()) {
  impl_->compiled = other.impl_->compiled;
}

PiiScrubber::~PiiScrubber() = default;
PiiScrubber::PiiScrubber(PiiScrubber&&) noexcept = default;
PiiScrubber& PiiScrubber::operator=(PiiScrubber&&) noexcept = default;

const std::vector<PiiRule>& PiiScrubber::rules() const {
  return impl_->compiled->rules;
}

void PiiScrubber::find(std::string_view text, std::vector<PiiMatch>& matches) {
  matches.clear();
  if (impl_->compiled->rules.empty() || text.empty()) return;
  const FieldTraits traits(text);
  if (impl_->may_match(traits)) impl_->find_all(text, traits, matches);
  // The rules read raw URLs ("SW1A%201AA"), but an escape's last hex digit glued to a value hides
  // its word boundary ("my%20house%20SW1A%201AA"): the decoded field is searched as well.
  if (traits.percent && impl_->percent_decode(text)) {
    const auto raw_matches = matches.size();
    const FieldTraits decoded_traits(impl_->decoded);
    if (impl_->may_match(decoded_traits)) impl_->find_all(impl_->decoded, decoded_traits, matches);
    for (auto i = raw_matches; i < matches.size(); ++i) {
      matches[i].begin = impl_->origins[matches[i].begin];
      matches[i].end = impl_->origins[matches[i].end];
    }
  }
  if (matches.empty()) return;
  std::sort(matches.begin(), matches.end(), [](const PiiMatch& a, const PiiMatch& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end > b.end;
  });
  std::size_t kept = 0;
  for (const auto& match : matches) {
    if (kept > 0 && match.begin < matches[kept - 1].end) continue;
    matches[kept++] = match;
  }
  matches.resize(kept);
}

void PiiScrubber::replace(std::string_view text, std::span<const PiiMatch> matches,
                          std::string& out) const {
  std::size_t pos = 0;
  for (const auto& match : matches) {
    out.append(text.substr(pos, match.begin - pos));
    out.append(impl_->compiled->rules[match.rule].marker);
    pos = match.end;
  }
  out.append(text.substr(pos));
}

std::size_t PiiScrubber::scrub(std::string_view text, std::string& out) {
  std::vector<PiiMatch> matches;
  find(text, matches);
  replace(text, matches, out);
  return matches.size();
}

}  // namespace veil::anonymiser
