// Small ASCII helpers for HTTP field values (token comparisons are case-insensitive, lists are
// comma-separated with optional whitespace).
#pragma once

#include <cstddef>
#include <string_view>

namespace veil::proxy {

constexpr char to_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
}

constexpr bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  }
  return true;
}

constexpr bool istarts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

constexpr std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Iterates the trimmed elements of a comma-separated list ("a, b,c" → "a", "b", "c"); an empty
// element ("a,,b") is yielded as empty so callers can reject it.
class ListElements {
 public:
  explicit constexpr ListElements(std::string_view list) : list_(list) {}

  class iterator {
   public:
    constexpr iterator(std::string_view rest, bool end) : rest_(rest), end_(end) { advance(); }
    constexpr std::string_view operator*() const { return current_; }
    constexpr iterator& operator++() {
      advance();
      return *this;
    }
    constexpr bool operator!=(const iterator& other) const { return done_ != other.done_; }

   private:
    constexpr void advance() {
      if (end_ || exhausted_) {
        done_ = true;
        return;
      }
      const auto comma = rest_.find(',');
      current_ = trim(rest_.substr(0, comma));
      if (comma == std::string_view::npos) {
        exhausted_ = true;
      } else {
        rest_ = rest_.substr(comma + 1);
      }
    }
    std::string_view rest_;
    std::string_view current_;
    bool end_;
    bool exhausted_ = false;
    bool done_ = false;
  };

  constexpr iterator begin() const { return iterator(list_, false); }
  constexpr iterator end() const { return iterator({}, true); }

 private:
  std::string_view list_;
};

constexpr ListElements split_list(std::string_view list) {
  return ListElements(list);
}

// Whether the comma-separated `list` contains `token` (case-insensitive).
constexpr bool list_contains(std::string_view list, std::string_view token) {
  for (std::string_view element : split_list(list)) {
    if (iequals(element, token)) return true;
  }
  return false;
}

}  // namespace veil::proxy
