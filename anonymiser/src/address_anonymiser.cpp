#include "veil/anonymiser/address_anonymiser.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "address_scan.hpp"
#include "keys.hpp"
#include "methods/address_method.hpp"

namespace veil::anonymiser {
namespace {

// Recent address -> result mappings of one keyed method. Two-way set-associative (the more recent
// way first), so a lookup is one hash and at most two compares; a busy site's tens of thousands of
// clients mostly fit, and memory stays bounded (64 Ki slots of 34 bytes) whatever the input.
// Addresses here are bare (no zone), so bytes and family identify them.
class ResultCache {
 public:
  std::optional<IpAddress> find(const IpAddress& address) {
    if (slots_.empty()) slots_.resize(kSlots);
    Slot* ways = &slots_[set_of(address) * kWays];
    if (!ways[0].holds(address)) {
      if (!ways[1].holds(address)) return std::nullopt;
      std::swap(ways[0], ways[1]);
    }
    auto result = IpAddress::v6(ways[0].output);
    return ways[0].output_is_v4 ? result.to_v4() : result;
  }

  // After a failed find(): the least recent way of the set makes room.
  void store(const IpAddress& address, const IpAddress& result) {
    Slot* ways = &slots_[set_of(address) * kWays];
    ways[1] = ways[0];
    ways[0] = {address.bytes(), result.bytes(), tag(address), result.is_v4()};
  }

 private:
  static constexpr std::size_t kWays = 2;
  static constexpr std::size_t kSetBits = 15;
  static constexpr std::size_t kSlots = kWays << kSetBits;

  // 0 marks an empty slot.
  static std::uint8_t tag(const IpAddress& address) { return address.is_v4() ? 1 : 2; }

  static std::size_t set_of(const IpAddress& address) {
    std::uint64_t high, low;
    std::memcpy(&high, address.bytes().data(), 8);
    std::memcpy(&low, address.bytes().data() + 8, 8);
    std::uint64_t mixed = (high * 0x9E3779B97F4A7C15ull) ^ (low * 0xC2B2AE3D27D4EB4Full);
    return static_cast<std::size_t>((mixed ^ (mixed >> 29)) * 0xBF58476D1CE4E5B9ull >>
                                    (64 - kSetBits));
  }

  struct Slot {
    std::array<std::uint8_t, 16> input;
    std::array<std::uint8_t, 16> output;
    std::uint8_t input_tag = 0;
    bool output_is_v4 = false;

    bool holds(const IpAddress& address) const {
      return input_tag == tag(address) && input == address.bytes();
    }
  };
  std::vector<Slot> slots_;
};

// A method keyed for one day (or for all days without rotation) with its cache.
struct DayMethod {
  Day day = 0;
  std::unique_ptr<AddressMethod> method;
  ResultCache cache;
  std::uint64_t last_used = 0;
};

// Records arrive roughly in date order; a few days cover out-of-order lines around midnight and
// files that interleave days.
constexpr std::size_t kCachedDays = 4;

}  // namespace

struct AddressAnonymiser::Impl {
  AnonymiseSettings settings;
  MasterKey key;
  bool keyed;
  bool rotates;
  std::vector<std::unique_ptr<DayMethod>> days;
  DayMethod* current = nullptr;
  std::uint64_t clock = 0;

  // Truncation to whole fields (the default /24 and /48) of an address whose kept fields are
  // written as IpAddress::format writes them keeps their text and writes the rest as format would:
  // the result of masking and formatting the address, at a fraction of the cost, on the client
  // field of nearly every line.
  std::optional<std::size_t> kept_octets;  // IPv4
  std::optional<std::size_t> kept_groups;  // IPv6: 1 to 6, so that the zero groups become "::"

  Impl(const AnonymiseSettings& settings_in, const MasterKey& key_in)
      : settings(settings_in),
        key(key_in),
        keyed(settings_in.method != Method::truncate),
        rotates(keyed && settings_in.rotation == Rotation::daily) {
    if (!keyed && settings.ipv4_prefix % 8 == 0) {
      kept_octets = static_cast<std::size_t>(settings.ipv4_prefix / 8);
    }
    if (!keyed && settings.ipv6_prefix % 16 == 0 && settings.ipv6_prefix >= 16 &&
        settings.ipv6_prefix <= 96) {
      kept_groups = static_cast<std::size_t>(settings.ipv6_prefix / 16);
    }
    if (keyed && key.bytes.empty()) {
      throw std::invalid_argument(std::string(to_string(settings.method)) + " needs a key file");
    }
    // The master key has the method's own size with or without rotation, so that a key file works
    // with both settings.
    if (keyed && key.bytes.size() != key_bytes_for(settings.method)) {
      throw std::invalid_argument(std::string(to_string(settings.method)) + " needs a " +
                                  std::to_string(key_bytes_for(settings.method)) +
                                  "-byte key, got " + std::to_string(key.bytes.size()) + " bytes");
    }
    // Builds the undated or only instance now, so that a bad key or prefix fails here.
    method_for(rotates ? kUndated : 0);
  }

  DayMethod& method_for(Day day) {
    if (!rotates) day = 0;
    if (current && current->day == day) return *current;
    auto found = std::find_if(days.begin(), days.end(),
                              [&](const auto& entry) { return entry->day == day; });
    if (found == days.end()) {
      auto entry = std::make_unique<DayMethod>();
      entry->day = day;
      if (rotates) {
        auto day_key =
            derive_day_key(key.bytes, settings.method, day, key_bytes_for(settings.method));
        entry->method = make_address_method(settings, day_key);
      } else {
        entry->method = make_address_method(settings, key.bytes);
      }
      if (days.size() == kCachedDays) {
        auto oldest = std::min_element(days.begin(), days.end(), [](const auto& a, const auto& b) {
          return a->last_used < b->last_used;
        });
        *oldest = std::move(entry);
        found = oldest;
      } else {
        days.push_back(std::move(entry));
        found = days.end() - 1;
      }
    }
    current = found->get();
    current->last_used = ++clock;
    return *current;
  }

  IpAddress map(const IpAddress& address, Day day) {
    // Methods see IPv4-mapped IPv6 as IPv4.
    const bool mapped = address.is_v4_mapped();
    const IpAddress bare = mapped ? address.to_v4() : address;

    DayMethod& method = method_for(day);
    IpAddress result;
    if (!keyed) {
      result = method.method->apply(bare);
    } else if (auto cached = method.cache.find(bare)) {
      result = *cached;
    } else {
      result = method.method->apply(bare);
      method.cache.store(bare, result);
    }
    return mapped && result.is_v4() ? result.to_v4_mapped() : result;
  }

  // When the truncation of `token`, all of whose text `text` is, can be written from the text:
  // appends it and returns true.
  bool append_truncated_text(std::string_view text, const AddressToken& token,
                             std::string& out) const {
    const auto& bytes = token.address.bytes();
    if (token.address.is_v4()) {
      if (!kept_octets) return false;
      std::size_t end = 0, kept_end = 0;  // of the text each octet would have
      for (std::size_t i = 0; i < 4; ++i) {
        const unsigned octet = bytes[12 + i];
        end += (i > 0) + std::size_t{1} + (octet >= 10) + (octet >= 100);
        if (i + 1 == *kept_octets) kept_end = end;
      }
      if (end != text.size()) return false;  // leading zeros
      if (*kept_octets == 0) {
        out.append("0.0.0.0");
      } else {
        out.append(text.data(), kept_end);
        out.append(std::string_view(".0.0.0").substr(0, 2 * (4 - *kept_octets)));
      }
      return true;
    }
    if (!kept_groups || token.encoded_colon_letter) return false;
    std::size_t end = 0;  // of the text the kept groups would have
    for (std::size_t i = 0; i < *kept_groups; ++i) {
      const unsigned group = unsigned{bytes[2 * i]} << 8 | bytes[2 * i + 1];
      if (group == 0) return false;  // may be part of a "::" in the text, or in the result
      end += (i > 0) + std::size_t{1} + (group >= 0x10) + (group >= 0x100) + (group >= 0x1000);
      // Each group ends where its canonical form would: none has leading zeros.
      if (end >= text.size() || text[end] != ':') return false;
    }
    // Hex digits and colons have bit 0x20 set, but for the uppercase letters.
    unsigned lowercase = 0x20;
    for (std::size_t i = 0; i < end; ++i) lowercase &= static_cast<unsigned char>(text[i]);
    if (lowercase == 0) return false;
    out.append(text.data(), end);
    out.append("::");
    return true;
  }

  // The mapping of `token`, written as the token was (percent-encoded colons included).
  void append_mapped(const AddressToken& token, Day day, std::string& out) {
    char buffer[IpAddress::kMaxTextLength];
    std::size_t length = map(token.address, day).format(buffer);
    if (!token.encoded_colon_letter) {
      out.append(buffer, length);
      return;
    }
    for (std::size_t i = 0; i < length; ++i) {
      if (buffer[i] == ':') {
        out += "%3";
        out += token.encoded_colon_letter;
      } else {
        out += buffer[i];
      }
    }
  }
};

AddressAnonymiser::AddressAnonymiser(const AnonymiseSettings& settings, const MasterKey& key)
    : impl_(std::make_unique<Impl>(settings, key)) {}
AddressAnonymiser::~AddressAnonymiser() = default;
AddressAnonymiser::AddressAnonymiser(AddressAnonymiser&&) noexcept = default;
AddressAnonymiser& AddressAnonymiser::operator=(AddressAnonymiser&&) noexcept = default;

std::unique_ptr<AddressAnonymiser> AddressAnonymiser::clone() const {
  return std::make_unique<AddressAnonymiser>(impl_->settings, impl_->key);
}

IpAddress AddressAnonymiser::map(const IpAddress& address, Day day) {
  return impl_->map(address, day);
}

bool AddressAnonymiser::rewrite_whole_address(std::string_view text, Day day, std::string& out) {
  AddressToken token;
  if (!whole_address(text, token)) return false;
  if (!impl_->append_truncated_text(text, token, out)) impl_->append_mapped(token, day, out);
  return true;
}

std::size_t AddressAnonymiser::rewrite_addresses(std::string_view text, Day day, std::string& out) {
  constexpr std::size_t kShortText = 16;  // below one chunk of the scanner
  if (text.size() < kShortText && !may_hold_address(text)) {
    out.append(text);
    return 0;
  }
  std::size_t copied = 0, replaced = 0;
  while (auto token = find_next_address(text, copied)) {
    out.append(text.data() + copied, token->begin - copied);
    impl_->append_mapped(*token, day, out);
    copied = token->end;
    ++replaced;
  }
  out.append(text.data() + copied, text.size() - copied);
  return replaced;
}

}  // namespace veil::anonymiser
