#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "veil/anonymiser/line_anonymiser.hpp"
#include "veil/anonymiser/log_format.hpp"
#include "veil/anonymiser/pii_scrubber.hpp"

using namespace veil::anonymiser;

namespace {

// truncate keeps /24 and /48 by default: 203.0.113.9 -> 203.0.113.0, 2001:db8:1:2::7 ->
// 2001:db8:1::
std::string anonymise(LogFormat format, std::string_view line, LineStats* stats = nullptr,
                      const AnonymiseSettings& settings = {}) {
  LineAnonymiser anonymiser(settings, format, MasterKey{});
  std::string out;
  anonymiser.anonymise_line(line, out);
  if (stats) *stats = anonymiser.stats();
  return out;
}

bool is_address_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.' ||
         c == ':';
}

// `address` occurs in `text` as a whole token (not as part of a longer address-like run).
bool survives(std::string_view text, std::string_view address) {
  for (auto pos = text.find(address); pos != std::string_view::npos;
       pos = text.find(address, pos + 1)) {
    const bool starts = pos == 0 || !is_address_char(text[pos - 1]);
    const auto end = pos + address.size();
    const bool ends = end == text.size() || !is_address_char(text[end]);
    if (starts && ends) return true;
  }
  return false;
}

std::string replace_all(std::string text, std::string_view placeholder, std::string_view value) {
  for (auto pos = text.find(placeholder); pos != std::string::npos;
       pos = text.find(placeholder, pos + value.size())) {
    text.replace(pos, placeholder.size(), value);
  }
  return text;
}

bool parses(LogFormat format, std::string_view line, std::string_view state = {}) {
  auto parser = make_line_parser(format, {});
  parser->set_state(state);
  ParsedLine parsed;
  return parser->parse(line, parsed);
}

// An address in one of its text forms, and the bare address that must not survive.
struct AddressForm {
  std::string text;
  std::string core;
};

const std::vector<AddressForm>& address_forms() {
  static const std::vector<AddressForm> forms{
      {"198.51.100.77", "198.51.100.77"},
      {"2001:db8:abcd:12::77", "2001:db8:abcd:12::77"},
      {"::ffff:198.51.100.77", "198.51.100.77"},
      {"fe80::1:77%eth0", "fe80::1:77"},
      {"[2001:db8:abcd:12::77]:8443", "2001:db8:abcd:12::77"},
      {"198.51.100.77:51234", "198.51.100.77"},
  };
  return forms;
}

constexpr std::string_view kW3cFields =
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    "cs(User-Agent) cs(Referer) sc-status X-Forwarded-For";

// Lines with the address at {A} in every position (client, user, X-Forwarded-For element, path,
// query string, referrer, user agent, and where an access log's HTTP version stands).
struct FormatTemplate {
  LogFormat format;
  std::string line;
  std::string_view state;
};

const std::vector<FormatTemplate>& templates() {
  static const std::vector<FormatTemplate> all{
      {LogFormat::combined,
       R"L({A} - {A} [01/Mar/2024:10:00:00 +0000] "GET /node/{A}/view?ip={A}&x=1 HTTP/1.1" 200 512 "http://{A}/page?from={A}" "Mozilla/5.0 (probe {A})" "{A}, 10.9.8.7" 0.004)L",
       {}},
      {LogFormat::common,
       R"L({A} - {A} [01/Mar/2024:10:00:00 +0000] "GET /node/{A}/view?ip={A}&x=1 HTTP/1.1" 200 512)L",
       {}},
      {LogFormat::combined,
       R"L({A} - - [01/Mar/2024:10:00:00 +0000] "GET /x HTTP/{A}" 200 512 "-" "-")L",
       {}},
      {LogFormat::common, R"L({A} - - [01/Mar/2024:10:00:00 +0000] "GET /x {A}" 200 512)L", {}},
      {LogFormat::w3c,
       "2024-03-01 10:00:00 {A} GET /node/{A}/view ip={A}&x=1 443 {A} {A} Mozilla/5.0+({A}) "
       "http://{A}/page?from={A} 200 {A},10.9.8.7",
       kW3cFields},
      {LogFormat::json,
       R"L({"time_iso8601":"2024-03-01T10:00:00+00:00","remote_addr":"{A}","remote_user":"{A}","request":"GET /node/{A}/view?ip={A} HTTP/1.1","http_referer":"http://{A}/","http_user_agent":"UA ({A})","http_x_forwarded_for":"{A}, 10.9.8.7","upstream":{"peer":"{A}"}})L",
       {}},
      {LogFormat::plain,
       "[Fri Mar 01 10:00:00 2024] [error] [client {A}] File not found: /srv/{A}",
       {}},
  };
  return all;
}

}  // namespace

TEST_CASE("combined: addresses everywhere, PII in target, referrer and user only", "[line]") {
  LineStats stats;
  const std::string line =
      R"L(203.0.113.9 - jane.doe@example.org [10/Oct/2000:13:55:36 -0700] "GET /bins?postcode=SW1A+1AA&from=203.0.113.10 HTTP/1.1" 200 2326 "http://[2001:db8:1:2::7]:8080/?tel=07700900123" "Mozilla/5.0 (X11) jane@example.org 192.0.2.1")L";
  CHECK(
      anonymise(LogFormat::combined, line, &stats) ==
      R"L(203.0.113.0 - [email] [10/Oct/2000:13:55:36 -0700] "GET /bins?postcode=[postcode]&from=203.0.113.0 HTTP/1.1" 200 2326 "http://[2001:db8:1::]:8080/?tel=[phone]" "Mozilla/5.0 (X11) jane@example.org 192.0.2.0")L");
  CHECK(stats.lines == 1);
  CHECK(stats.addresses == 4);
  CHECK(stats.pii == 3);  // the e-mail address in the user agent is not a PII field
  CHECK(stats.unparsed == 0);
}

TEST_CASE("status and byte count are never taken for an NHS number", "[line]") {
  const std::string line =
      R"L(192.0.2.1 - - [01/Mar/2024:10:00:00 +0000] "GET /annual-report.pdf HTTP/1.1" 200 2204128 "-" "UA")L";
  // The whole-line mistake this guards against: the NHS rule does match there, check digit and all.
  PiiScrubber scrubber(builtin_pii_rules());
  std::string whole_line;
  REQUIRE(scrubber.scrub(line, whole_line) == 1);
  CHECK(whole_line.find("[nhs]") != std::string::npos);

  LineStats stats;
  const auto out = anonymise(LogFormat::combined, line, &stats);
  CHECK(
      out ==
      R"L(192.0.2.0 - - [01/Mar/2024:10:00:00 +0000] "GET /annual-report.pdf HTTP/1.1" 200 2204128 "-" "UA")L");
  CHECK(stats.pii == 0);
}

TEST_CASE("reverse-DNS client names keep only their registrable suffix", "[line]") {
  const std::string rest = R"L( - - [01/Mar/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "UA")L";
  const std::vector<std::pair<std::string, std::string>> cases{
      {"host81-2-69-160.range81-2.btcentralplus.com", "btcentralplus.com"},
      {"cpc1-cmbg1-2-0-cust123.5-4.cable.virginm.net", "virginm.net"},
      {"dhcp-1-2-3-4.example.co.uk", "example.co.uk"},
      {"HOST-9.Staff.Council.GOV.UK.", "Council.GOV.UK"},
      {"piweba3y.prodigy.com", "prodigy.com"},
      {"example.com", "example.com"},
      {"localhost", "localhost"},
      {"-", "-"},
  };
  for (const auto& [client, expected] : cases) {
    INFO(client);
    CHECK(anonymise(LogFormat::combined, client + rest) == expected + rest);
  }
}

TEST_CASE("line endings, empty lines and bytes around replacements stay as they were", "[line]") {
  LineAnonymiser anonymiser({}, LogFormat::combined, MasterKey{});
  std::string out;
  anonymiser.anonymise_line(
      "192.0.2.1 - - [01/Mar/2024:10:00:00 +0000] \"GET /\\\"\\x00 HTTP/1.1\" 200 1 \"-\" "
      "\"\xff\"\r",
      out);
  CHECK(out ==
        "192.0.2.0 - - [01/Mar/2024:10:00:00 +0000] \"GET /\\\"\\x00 HTTP/1.1\" 200 1 \"-\" "
        "\"\xff\"\r");
  out.clear();
  anonymiser.anonymise_line("", out);
  anonymiser.anonymise_line("\r", out);
  CHECK(out == "\r");
  CHECK(anonymiser.stats().lines == 3);
  CHECK(anonymiser.stats().unparsed == 0);
}

TEST_CASE("unparsed lines still lose every address but are not PII-scrubbed", "[line]") {
  LineStats stats;
  const std::string line =
      "garbage 203.0.113.9 [client 2001:db8:1:2::7] email=jane@example.org from 198.51.100.1:80";
  CHECK(anonymise(LogFormat::combined, line, &stats) ==
        "garbage 203.0.113.0 [client 2001:db8:1::] email=jane@example.org from 198.51.100.0:80");
  CHECK(stats.unparsed == 1);
  CHECK(stats.addresses == 3);
  CHECK(stats.pii == 0);
}

TEST_CASE("every address form in every position of every format is anonymised", "[line]") {
  for (const auto& format_template : templates()) {
    for (const auto& form : address_forms()) {
      const auto line = replace_all(format_template.line, "{A}", form.text);
      INFO(to_string(format_template.format) << ": " << line);
      AnonymiseSettings settings;
      LineAnonymiser anonymiser(settings, format_template.format, MasterKey{});
      anonymiser.set_state(format_template.state);
      std::string out;
      anonymiser.anonymise_line(line, out);
      INFO("-> " << out);
      CHECK_FALSE(survives(out, form.core));
      CHECK(anonymiser.stats().unparsed == 0);
      CHECK(parses(format_template.format, out, format_template.state));
    }
  }
}

namespace {

std::string hex_group(std::mt19937_64& random) {
  std::array<char, 8> buffer{};
  const int length = std::snprintf(buffer.data(), buffer.size(), "%x",
                                   static_cast<unsigned>(1 + random() % 0xffff));
  return std::string(buffer.data(), static_cast<std::size_t>(length));
}

// A random address in a random text form. Its low bits are never all zero, so that truncation
// changes it and survival can be detected.
AddressForm random_address(std::mt19937_64& random) {
  auto octet = [&] { return std::to_string(random() % 256); };
  const auto v4 = std::to_string(1 + random() % 223) + "." + octet() + "." + octet() + "." +
                  std::to_string(1 + random() % 254);
  std::string v6_full;
  for (int i = 0; i < 8; ++i) {
    if (i > 0) v6_full += ':';
    v6_full += hex_group(random);
  }
  const auto v6_compressed = hex_group(random) + ":" + hex_group(random) + ":" + hex_group(random) +
                             "::" + hex_group(random) + ":" + hex_group(random);
  switch (random() % 8) {
    case 0:
      return {v6_full, v6_full};
    case 1:
      return {v6_compressed, v6_compressed};
    case 2:
      return {"::ffff:" + v4, v4};
    case 3: {
      const auto link_local = "fe80::" + hex_group(random) + ":" + hex_group(random);
      return {link_local + "%eth" + std::to_string(random() % 4), link_local};
    }
    case 4:
      return {"[" + v6_compressed + "]:" + std::to_string(1 + random() % 65535), v6_compressed};
    case 5:
      return {v4 + ":" + std::to_string(1 + random() % 65535), v4};
    default:
      return {v4, v4};
  }
}

}  // namespace

TEST_CASE("property: random addresses in every position never survive", "[line]") {
  std::mt19937_64 random(20240301);
  for (const auto method : {Method::truncate, Method::hash}) {
    AnonymiseSettings settings;
    settings.method = method;
    const MasterKey key{std::vector<std::uint8_t>(key_bytes_for(method), 0x5a)};
    for (const auto& format_template : templates()) {
      INFO(to_string(method) << " " << to_string(format_template.format));
      LineAnonymiser anonymiser(settings, format_template.format, key);
      anonymiser.set_state(format_template.state);
      std::string input;
      std::string output;
      std::size_t surviving = 0;
      std::size_t unparsable = 0;
      constexpr std::size_t kLines = 300;
      for (std::size_t n = 0; n < kLines; ++n) {
        std::string line = format_template.line;
        std::vector<AddressForm> used;
        for (auto pos = line.find("{A}"); pos != std::string::npos; pos = line.find("{A}", pos)) {
          used.push_back(random_address(random));
          line.replace(pos, 3, used.back().text);
          pos += used.back().text.size();
        }
        input += line + "\n";
        std::string out;
        anonymiser.anonymise_line(line, out);
        for (const auto& address : used) {
          if (survives(out, address.core)) {
            ++surviving;
            UNSCOPED_INFO(address.core << " survived in " << out);
          }
        }
        if (!parses(format_template.format, out, format_template.state)) ++unparsable;
        output += out + "\n";
      }
      CHECK(surviving == 0);
      CHECK(unparsable == 0);
      CHECK(anonymiser.stats().lines == kLines);
      CHECK(anonymiser.stats().unparsed == 0);
      CHECK(std::count(output.begin(), output.end(), '\n') == static_cast<long>(kLines));
      CHECK(output != input);
    }
  }
}

TEST_CASE("W3C state carried between blocks gives the same output as one pass", "[line]") {
  const std::string log =
      "#Software: Microsoft Internet Information Services 10.0\r\n"
      "#Fields: date time c-ip cs-uri-query\r\n"
      "2024-03-01 10:00:00 192.0.2.1 email=a%40b.org\r\n"
      "#Fields: date time cs-uri-query c-ip\r\n"
      "2024-03-01 10:00:01 nhs=9434765919 192.0.2.2\r\n"
      "2024-03-01 10:00:02 pc=M1+1AE 2001:db8:1:2::3\r\n";
  auto run = [](LineAnonymiser& anonymiser, std::string_view block) {
    std::string out;
    while (!block.empty()) {
      auto end = block.find('\n');
      anonymiser.anonymise_line(block.substr(0, end), out);
      out += '\n';
      block.remove_prefix(end + 1);
    }
    return out;
  };
  LineAnonymiser whole({}, LogFormat::w3c, MasterKey{});
  const auto expected = run(whole, log);
  CHECK(expected ==
        "#Software: Microsoft Internet Information Services 10.0\r\n"
        "#Fields: date time c-ip cs-uri-query\r\n"
        "2024-03-01 10:00:00 192.0.2.0 email=[email]\r\n"
        "#Fields: date time cs-uri-query c-ip\r\n"
        "2024-03-01 10:00:01 nhs=[nhs] 192.0.2.0\r\n"
        "2024-03-01 10:00:02 pc=[postcode] 2001:db8:1::\r\n");
  CHECK(whole.stats().unparsed == 0);

  for (std::size_t split :
       {std::size_t{0}, log.find("2024"), log.find("#Fields: date time cs"), log.rfind("2024")}) {
    const std::string_view first(log.data(), split);
    const std::string_view second(log.data() + split, log.size() - split);
    const auto state = LineAnonymiser::carry_state(LogFormat::w3c, first, "");
    LineAnonymiser a({}, LogFormat::w3c, MasterKey{});
    LineAnonymiser b({}, LogFormat::w3c, MasterKey{});
    b.set_state(state);
    INFO("split at " << split);
    CHECK(run(a, first) + run(b, second) == expected);
    CHECK(a.stats().unparsed + b.stats().unparsed == 0);
  }
}

TEST_CASE("detect_format recognises each format from the first lines", "[line]") {
  const std::string combined =
      R"L(192.0.2.1 - - [01/Mar/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "UA")L";
  const std::string common =
      R"L(192.0.2.1 - - [01/Aug/1995:00:00:01 -0400] "GET /images/launch-logo.gif HTTP/1.0" 200 1713)L";
  CHECK(detect_format(combined + "\n" + combined + "\n") == LogFormat::combined);
  CHECK(detect_format(common + "\r\n" + common + "\r\n") == LogFormat::common);
  CHECK(detect_format(combined + "\n" + common + "\n") == LogFormat::common);
  CHECK(detect_format("#Software: IIS\n#Fields: date time c-ip\n2024-03-01 10:00:00 ::1\n") ==
        LogFormat::w3c);
  CHECK(detect_format("{\"remote_addr\":\"192.0.2.1\",\"status\":200}\n{\"a\":1}\n") ==
        LogFormat::json);
  CHECK(detect_format("[Fri Mar 01 10:00:00 2024] [error] [client 192.0.2.1] oops\n") ==
        LogFormat::plain);
  CHECK(detect_format("") == LogFormat::plain);
  // A sample cut in the middle of its last line is judged on the complete ones.
  CHECK(detect_format(combined + "\n" + combined.substr(0, 30)) == LogFormat::combined);
  // One stray line among many does not demote the log to plain.
  std::string mostly_combined;
  for (int i = 0; i < 20; ++i) mostly_combined += combined + "\n";
  mostly_combined += "truncated junk\n";
  CHECK(detect_format(mostly_combined) == LogFormat::combined);
}

TEST_CASE("the anonymiser rejects an undecided format and bad PII patterns", "[line]") {
  CHECK_THROWS_AS(LineAnonymiser({}, LogFormat::automatic, MasterKey{}), std::invalid_argument);
  AnonymiseSettings settings;
  settings.pii_rules.push_back({"broken", "[", "[x]", PiiCheck::none});
  CHECK_THROWS_AS(LineAnonymiser(settings, LogFormat::combined, MasterKey{}),
                  std::invalid_argument);
}

TEST_CASE("property: junk lines with addresses between the junk lose every address", "[line]") {
  // Quotes, brackets, braces, backslashes and '#' exercise every parser's error paths.
  static constexpr std::string_view kJunk = "\"[]{}\\#:,-/=?%@.aZ09 \t";
  std::mt19937_64 random(7);
  for (const auto format : {LogFormat::combined, LogFormat::common, LogFormat::w3c, LogFormat::json,
                            LogFormat::plain}) {
    INFO(to_string(format));
    LineAnonymiser anonymiser({}, format, MasterKey{});
    anonymiser.set_state(format == LogFormat::w3c ? kW3cFields : std::string_view{});
    std::size_t surviving = 0;
    constexpr std::size_t kLines = 400;
    for (std::size_t n = 0; n < kLines; ++n) {
      std::string line;
      std::vector<AddressForm> used;
      const auto pieces = random() % 12;
      for (std::size_t piece = 0; piece < pieces; ++piece) {
        if (random() % 3 == 0) {
          used.push_back(random_address(random));
          line += ' ' + used.back().text + ' ';
        } else {
          for (auto length = random() % 10; length > 0; --length) {
            line += kJunk[random() % kJunk.size()];
          }
        }
      }
      std::string out;
      anonymiser.anonymise_line(line, out);
      REQUIRE(out.find('\n') == std::string::npos);
      for (const auto& address : used) {
        if (survives(out, address.core)) {
          ++surviving;
          UNSCOPED_INFO(address.core << " survived in " << out);
        }
      }
    }
    CHECK(surviving == 0);
    CHECK(anonymiser.stats().lines == kLines);
  }
}

TEST_CASE("only a real date and time escape the address scan", "[line]") {
  LineStats stats;
  AnonymiseSettings settings;
  LineAnonymiser w3c(settings, LogFormat::w3c, MasterKey{});
  w3c.set_state("#Fields: date time c-ip");
  std::string out;
  w3c.anonymise_line("2024-03-01 192.0.2.77 192.0.2.1", out);
  CHECK(out == "2024-03-01 192.0.2.0 192.0.2.0");
  CHECK(w3c.stats().unparsed == 1);
  out.clear();
  w3c.anonymise_line("192.0.2.77 10:00:00 192.0.2.1", out);
  CHECK(out == "192.0.2.0 10:00:00 192.0.2.0");
  CHECK(w3c.stats().unparsed == 2);

  CHECK(anonymise(LogFormat::json, R"({"time":"192.0.2.77","@timestamp":"2001:db8:1:2::7"})",
                  &stats) == R"({"time":"192.0.2.0","@timestamp":"2001:db8:1::"})");
  CHECK(stats.unparsed == 0);
  CHECK(stats.addresses == 2);
}

TEST_CASE("property: fields seen before are rewritten exactly as on first sight", "[line]") {
  // Repeating user agents, referrers, targets and user names are remembered between lines; a
  // fresh anonymiser for every line remembers nothing. Both must write the same bytes, over days
  // (daily keys), with addresses and PII in the repeated fields, and count the same.
  const std::array<std::string, 6> agents{"curl/8.0",
                                          "Mozilla/5.0 Chrome/120.0.0.0 Safari/537.36",
                                          "probe from 198.51.100.23 and 2001:db8::1",
                                          "UA \\\"quoted\\\" 192.0.2.1",
                                          "mailer jane@example.org",
                                          std::string(600, 'x') + " 203.0.113.77"};
  const std::array<std::string, 5> targets{"/", "/bins?ip=192.0.2.9", "/a?postcode=SW1A+1AA",
                                           "/node/2001:db8::9/view", "/b?email=jo%40example.org"};
  const std::array<std::string, 4> referrers{"-", "https://www.google.co.uk/search?q=bins",
                                             "http://192.0.2.55/", "https://x/?nhs=9434765919"};
  const std::array<std::string, 3> users{"-", "jsmith", "jane@example.org"};
  const std::array<std::string, 3> days{"01/Mar/2024:23:59:59 +0000", "02/Mar/2024:00:00:00 +0000",
                                        "02/Mar/2024:10:00:00 +0100"};
  std::mt19937_64 random(7);
  auto pick = [&](const auto& table) { return table[random() % table.size()]; };
  for (const auto method : {Method::truncate, Method::hash, Method::ipcrypt_pfx}) {
    for (const auto rotation : {Rotation::never, Rotation::daily}) {
      if (method == Method::truncate && rotation == Rotation::daily) continue;
      INFO(to_string(method) << " " << to_string(rotation));
      AnonymiseSettings settings;
      settings.method = method;
      settings.rotation = rotation;
      MasterKey key{std::vector<std::uint8_t>(key_bytes_for(method))};
      for (std::size_t i = 0; i < key.bytes.size(); ++i)
        key.bytes[i] = static_cast<std::uint8_t>(i);
      LineAnonymiser remembering(settings, LogFormat::combined, key);
      LineStats fresh_stats;
      for (int n = 0; n < 400; ++n) {
        const std::string line = "192.0.2." + std::to_string(n % 250) + " - " + pick(users) + " [" +
                                 pick(days) + "] \"GET " + pick(targets) + " HTTP/1.1\" 200 " +
                                 std::to_string(n) + " \"" + pick(referrers) + "\" \"" +
                                 pick(agents) + "\"";
        std::string remembered, fresh;
        remembering.anonymise_line(line, remembered);
        LineAnonymiser once(settings, LogFormat::combined, key);
        once.anonymise_line(line, fresh);
        fresh_stats += once.stats();
        REQUIRE(remembered == fresh);
      }
      CHECK(remembering.stats().addresses == fresh_stats.addresses);
      CHECK(remembering.stats().pii == fresh_stats.pii);
      CHECK(remembering.stats().pii > 0);
    }
  }
}

TEST_CASE("clones share the PII rules, not the caches or statistics, and run side by side",
          "[line]") {
  AnonymiseSettings settings;
  settings.ipv4_prefix = 16;
  LineAnonymiser prototype(settings, LogFormat::combined, MasterKey{});
  // Lines that run the PII patterns (and their shared DFA caches) as well as lines that do not.
  std::vector<std::string> lines;
  for (int i = 0; i < 2000; ++i) {
    lines.push_back("198.51." + std::to_string(i % 256) +
                    ".7 - - [10/Oct/2024:13:55:36 +0000] \"GET /report?postcode=SW1A+" +
                    std::to_string(i % 10) + "AA&email=jo" + std::to_string(i) +
                    "%40example.org HTTP/1.1\" 200 2326 \"https://www.example.gov.uk/?nhs=943 476 "
                    "5919\" \"Mozilla/5.0\"");
    lines.push_back("2001:db8:abcd:" + std::to_string(i % 100) +
                    "::9 - - [10/Oct/2024:13:55:36 +0000] \"GET /bins HTTP/1.1\" 200 12 \"-\" "
                    "\"curl/8.5.0\"");
  }
  auto run = [&lines](LineAnonymiser& anonymiser) {
    std::string out;
    for (const auto& line : lines) {
      anonymiser.anonymise_line(line, out);
      out += '\n';
    }
    return out;
  };
  const std::string expected = run(prototype);
  REQUIRE(prototype.stats().pii == 3 * 2000);
  REQUIRE(expected.find("198.51.0.0 ") != std::string::npos);

  LineAnonymiser first = prototype.clone();
  LineAnonymiser second = prototype.clone();
  CHECK(first.stats().lines == 0);
  std::string first_out, second_out;
  std::thread other([&] { second_out = run(second); });
  first_out = run(first);
  other.join();
  CHECK(first_out == expected);
  CHECK(second_out == expected);
  CHECK(first.stats().pii == prototype.stats().pii);
  CHECK(second.stats().addresses == prototype.stats().addresses);
}
