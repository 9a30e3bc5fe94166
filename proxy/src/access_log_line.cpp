#include "access_log_line.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <ctime>

namespace veil::proxy {
namespace detail {
namespace {

using anonymiser::LogFormat;

constexpr char kHex[] = "0123456789ABCDEF";

void append_hex_escape(std::string& out, unsigned char byte) {
  out += "\\x";
  out += kHex[byte >> 4];
  out += kHex[byte & 0xF];
}

// nginx's default log escaping (ngx_http_log_escape): everything but printable ASCII, plus `"`
// and `\`, becomes `\xXX`, so that a field can never break out of its quotes or the line.
constexpr std::array<bool, 256> kCombinedEscaped = [] {
  std::array<bool, 256> escaped{};
  for (int byte = 0; byte < 256; ++byte) {
    escaped[byte] = byte < 0x20 || byte >= 0x7F || byte == '"' || byte == '\\';
  }
  return escaped;
}();

void append_combined_field(std::string& out, std::string_view text) {
  if (text.empty()) {
    out += '-';
    return;
  }
  // Runs of bytes that need no escape are appended whole.
  std::size_t run = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (!kCombinedEscaped[byte]) continue;
    out.append(text, run, i - run);
    append_hex_escape(out, byte);
    run = i + 1;
  }
  out.append(text, run);
}

// Length of the valid UTF-8 sequence starting at text[0] (1-4), or 0 when it is not valid
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
std::size_t utf8_sequence_length(std::string_view text) {
  const auto lead = static_cast<unsigned char>(text[0]);
  std::size_t length = 0;
  char32_t minimum = 0;
  char32_t code_point = 0;
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) {
    length = 2, minimum = 0x80, code_point = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, minimum = 0x800, code_point = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, minimum = 0x10000, code_point = lead & 0x07;
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  for (std::size_t i = 1; i < length; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if ((byte & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (byte & 0x3F);
  }
  if (code_point < minimum || code_point > 0x10FFFF ||
      (code_point >= 0xD800 && code_point <= 0xDFFF)) {
    return 0;
  }
  return length;
}

// nginx escape=json (ngx_escape_json), and U+FFFD for bytes that are not UTF-8.
void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x80) {
      const auto length = utf8_sequence_length(text.substr(i));
      if (length == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(text.substr(i, length));
        i += length;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (byte < 0x20) {
          out += "\\u00";
          out += kHex[byte >> 4];
          out += kHex[byte & 0xF];
        } else {
          out += c;
        }
    }
    ++i;
  }
  out += '"';
}

template <class Integer>
void append_integer(std::string& out, Integer value, int min_digits = 1) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  const auto digits = static_cast<int>(result.ptr - buffer);
  out.append(static_cast<std::size_t>(std::max(0, min_digits - digits)), '0');
  out.append(buffer, result.ptr);
}

// `09:36:15`
void append_clock(std::string& out, const std::tm& t) {
  append_integer(out, t.tm_hour, 2);
  out += ':';
  append_integer(out, t.tm_min, 2);
  out += ':';
  append_integer(out, t.tm_sec, 2);
}

// `23/Nov/2026:09:36:15 +0000`
void append_clf_time(std::string& out, const std::tm& t) {
  static constexpr std::array<std::string_view, 12> kMonths{
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  append_integer(out, t.tm_mday, 2);
  out += '/';
  out += kMonths[static_cast<std::size_t>(t.tm_mon)];
  out += '/';
  append_integer(out, t.tm_year + 1900, 4);
  out += ':';
  append_clock(out, t);
  out += " +0000";
}

// `2026-11-23T09:36:15+00:00`
void append_iso_time(std::string& out, const std::tm& t) {
  append_integer(out, t.tm_year + 1900, 4);
  out += '-';
  append_integer(out, t.tm_mon + 1, 2);
  out += '-';
  append_integer(out, t.tm_mday, 2);
  out += 'T';
  append_clock(out, t);
  out += "+00:00";
}

// The timestamp of the second `time` falls in, spelt for `format`. The last second's text is kept
// per thread: lines come many to a second, gmtime_r takes a lock, and formatting the fields cost
// more than the rest of a short line.
std::string_view timestamp(std::chrono::system_clock::time_point time, LogFormat format) {
  struct Second {
    std::time_t seconds = -1;
    std::string text;
  };
  thread_local std::array<Second, 2> last;  // combined, json
  Second& cached = last[format == LogFormat::json ? 1 : 0];
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  if (seconds != cached.seconds) {
    std::tm fields{};
    gmtime_r(&seconds, &fields);
    cached.text.clear();
    if (format == LogFormat::json) {
      append_iso_time(cached.text, fields);
    } else {
      append_clf_time(cached.text, fields);
    }
    cached.seconds = seconds;
  }
  return cached.text;
}

void append_combined(const AccessRecord& record, std::string& out) {
  append_combined_field(out, record.client_address);
  out += " - - [";
  out += timestamp(record.time, LogFormat::combined);
  out += "] \"";
  append_combined_field(out, record.method);
  out += ' ';
  append_combined_field(out, record.target);
  if (!record.protocol.empty()) {
    out += ' ';
    append_combined_field(out, record.protocol);
  }
  out += "\" ";
  append_integer(out, record.status);
  out += ' ';
  append_integer(out, record.body_bytes_sent);
  out += " \"";
  append_combined_field(out, record.referrer);
  out += "\" \"";
  append_combined_field(out, record.user_agent);
  out += '"';
}

void append_json(const AccessRecord& record, std::string& out) {
  out += "{\"time_iso8601\":\"";
  out += timestamp(record.time, LogFormat::json);
  out += "\",\"remote_addr\":";
  append_json_string(out, record.client_address);
  out += ",\"request_method\":";
  append_json_string(out, record.method);
  out += ",\"request_uri\":";
  append_json_string(out, record.target);
  out += ",\"server_protocol\":";
  append_json_string(out, record.protocol);
  out += ",\"status\":";
  append_integer(out, record.status);
  out += ",\"body_bytes_sent\":";
  append_integer(out, record.body_bytes_sent);
  out += ",\"http_referer\":";
  append_json_string(out, record.referrer);
  out += ",\"http_user_agent\":";
  append_json_string(out, record.user_agent);
  out += ",\"http_x_forwarded_for\":";
  append_json_string(out, record.forwarded_for);
  out += ",\"upstream\":";
  append_json_string(out, record.upstream);
  // $request_time: seconds with millisecond resolution.
  const auto milliseconds = std::max<std::int64_t>(0, record.duration.count() / 1000);
  out += ",\"request_time\":";
  append_integer(out, milliseconds / 1000);
  out += '.';
  append_integer(out, milliseconds % 1000, 3);
  out += '}';
}

}  // namespace

void append_raw_access_line(const AccessRecord& record, LogFormat format, std::string& out) {
  if (format == LogFormat::json) {
    append_json(record, out);
  } else {
    append_combined(record, out);
  }
}

}  // namespace detail

}  // namespace veil::proxy
