// Field names Beast has no enumerator for, and range iteration over a name's fields.
#pragma once

#include <string_view>
#include <utility>

namespace veil::proxy {

inline constexpr std::string_view kXForwardedFor = "X-Forwarded-For";
inline constexpr std::string_view kXForwardedProto = "X-Forwarded-Proto";
inline constexpr std::string_view kXRealIp = "X-Real-IP";

// for (const auto& field : fields_named(head, name)) ...
template <class Fields, class Name>
auto fields_named(const Fields& fields, Name name) {
  struct Range {
    decltype(fields.equal_range(name)) bounds;
    auto begin() const { return bounds.first; }
    auto end() const { return bounds.second; }
  };
  return Range{fields.equal_range(name)};
}

}  // namespace veil::proxy
