#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "veil/anonymiser/pii_scrubber.hpp"

using namespace veil::anonymiser;

namespace {

PiiScrubber scrubber_for(std::string_view rule_name) {
  AnonymiseSettings settings;
  settings.scrub = std::vector<std::string>{std::string(rule_name)};
  return PiiScrubber(selected_pii_rules(settings));
}

// The whole of `text` is one match of the rule.
bool matches_whole(PiiScrubber& scrubber, std::string_view text) {
  std::vector<PiiMatch> matches;
  scrubber.find(text, matches);
  return matches.size() == 1 && matches[0].begin == 0 && matches[0].end == text.size();
}

bool matches_any(PiiScrubber& scrubber, std::string_view text) {
  std::vector<PiiMatch> matches;
  scrubber.find(text, matches);
  return !matches.empty();
}

struct Table {
  std::string rule;
  std::vector<std::string> must_match;
  std::vector<std::string> must_not_match;
};

}  // namespace

// shared/reference/logs-and-anonymisation.md §8, every row.
TEST_CASE("PII rules: the reference must-match and must-not-match tables", "[pii]") {
  const std::vector<Table> tables{
      {"email",
       {"jane.doe@example.org", "jane.doe%40example.org", "j_smith+tag@mail.example.co.uk"},
       {"logo@2x.png", "no-at-sign.example.com",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36",
        "icon@hd.png", "sprite@retina.svg", "bundle@v2.js", "main@min.css", "fav@x.ico"}},
      {"postcode",
       {"SW1A 1AA", "SW1A+1AA", "sw1a%201aa", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT", "EC1A1BB",
        "W1A 0AX", "GIR 0AA"},
       {"QA1 1AA", "AI1 1AA", "SW1A 1AC", "HTTP/1.1 200", "Win64; x64"}},
      {"phone",
       {"07700 900123", "07700900123", "%2B447700900123", "+44 (0)20 7946 0018", "020 7946 0018",
        "0044 1632 960 983", "01632-960-983"},
       {"1709251200", "200 0123", "100012345678"}},
      {"nino",
       {"AB123456C", "ab 12 34 56 c", "JZ%2012%2034%2056%20D", "OA123456A"},
       {"BG123456A", "GB123456A", "ZZ123456A", "NT123456A", "DA123456A", "AO123456A", "AB123456E",
        "11 A1 11 11"}},
      {"nhs",
       {"9434765919", "943 476 5919", "943-476-5919"},
       {"9434765918", "9434765910", "94347659190"}},
  };
  for (const auto& table : tables) {
    auto scrubber = scrubber_for(table.rule);
    for (const auto& text : table.must_match) {
      INFO(table.rule << " must match '" << text << "'");
      CHECK(matches_whole(scrubber, text));
      // Also inside a URL, as it appears in a request target.
      CHECK(matches_any(scrubber, "/search?q=" + text + "&page=2"));
    }
    for (const auto& text : table.must_not_match) {
      INFO(table.rule << " must not match '" << text << "'");
      CHECK_FALSE(matches_any(scrubber, text));
    }
  }
}

TEST_CASE("NHS numbers need a valid mod-11 check digit", "[pii]") {
  CHECK(valid_nhs_number("9434765919"));  // sum 299, r 2, check 9
  CHECK(valid_nhs_number("943 476 5919"));
  CHECK(valid_nhs_number("4010232137"));
  CHECK_FALSE(valid_nhs_number("9434765918"));
  CHECK_FALSE(valid_nhs_number("943476591"));
  CHECK_FALSE(valid_nhs_number("94347659190"));
  // 11 - 0 = 11 maps to check digit 0; a remainder of 1 (check 10) is never valid.
  CHECK(valid_nhs_number("4500000070"));
  CHECK_FALSE(valid_nhs_number("4500000071"));
  for (char last = '0'; last <= '9'; ++last) {
    CHECK_FALSE(valid_nhs_number(std::string("123456789") + last));
  }
}

TEST_CASE("the scrubber replaces matches by markers and leaves other bytes alone", "[pii]") {
  PiiScrubber scrubber(builtin_pii_rules());
  std::string out;
  CHECK(scrubber.scrub("/report?email=jane.doe%40example.org&pc=SW1A+1AA&nhs=943+476+5919&x=1",
                       out) == 3);
  CHECK(out == "/report?email=[email]&pc=[postcode]&nhs=[nhs]&x=1");

  out.clear();
  CHECK(scrubber.scrub("/contact?tel=07700900123&ni=AB123456C&n=9434765918", out) == 2);
  CHECK(out == "/contact?tel=[phone]&ni=[nino]&n=9434765918");

  out.clear();
  CHECK(scrubber.scrub("/images/logo@2x.png?v=20240101", out) == 0);
  CHECK(out == "/images/logo@2x.png?v=20240101");

  // Image names shaped like addresses stay; a real address after them is still found.
  out.clear();
  CHECK(scrubber.scrub("/img/icon@hd.png?from=bob@example.com", out) == 1);
  CHECK(out == "/img/icon@hd.png?from=[email]");

  out.clear();
  CHECK(scrubber.scrub("", out) == 0);
  CHECK(out.empty());
}

TEST_CASE("percent-encoded values are searched decoded too", "[pii]") {
  PiiScrubber scrubber(builtin_pii_rules());
  const std::vector<std::pair<std::string, std::string>> cases{
      // "%20" glued to the postcode hides its word boundary from the raw-URL pattern.
      {"/search?q=my%20house%20SW1A%201AA&x=1", "/search?q=my%20house%20[postcode]&x=1"},
      {"/s?q=flat%2CSW1A+1AA", "/s?q=flat%2C[postcode]"},
      {"/m?to=jane%2Edoe%40example%2Eorg&n=1", "/m?to=[email]&n=1"},
      {"/p?nhs=%22943%20476%205919%22", "/p?nhs=%22[nhs]%22"},
      {"/img/icon%40hd.png", "/img/icon%40hd.png"},
      {"/bad/escape%zz%4", "/bad/escape%zz%4"},
  };
  for (const auto& [field, expected] : cases) {
    INFO(field);
    std::string out;
    scrubber.scrub(field, out);
    CHECK(out == expected);
  }
}

TEST_CASE("overlapping matches of different rules are replaced once", "[pii]") {
  // A phone number and an NHS number in one query: each replaced once, in order.
  PiiScrubber scrubber(builtin_pii_rules());
  std::vector<PiiMatch> matches;
  scrubber.find("?n=020 7946 0018&m=9434765919", matches);
  REQUIRE(matches.size() == 2);
  CHECK(matches[0].begin < matches[0].end);
  CHECK(matches[0].end <= matches[1].begin);
}

TEST_CASE("policy rules: selection, custom patterns, errors name the rule", "[pii]") {
  AnonymiseSettings settings;
  settings.scrub = std::vector<std::string>{};
  PiiScrubber none(selected_pii_rules(settings));
  std::string out;
  CHECK(none.scrub("/a?email=jane@example.org", out) == 0);
  CHECK(out == "/a?email=jane@example.org");

  // A custom rule has no built-in prefilter: it runs on every field.
  PiiScrubber custom({PiiRule{"uprn", R"(uprn=[0-9]{1,12})", "uprn=[uprn]", PiiCheck::none}});
  out.clear();
  CHECK(custom.scrub("/property?uprn=1", out) == 1);
  CHECK(out == "/property?uprn=[uprn]");

  try {
    PiiScrubber bad({PiiRule{"broken", "(unclosed", "[x]", PiiCheck::none}});
    FAIL("a bad pattern must throw");
  } catch (const std::invalid_argument& error) {
    CHECK(std::string(error.what()).find("broken") != std::string::npos);
  }
}

TEST_CASE("the prefilter of the built-in rules never hides a match", "[pii]") {
  // The same patterns under other names run on every field: what they find is the truth.
  PiiScrubber prefiltered(builtin_pii_rules());
  auto unfiltered_rules = builtin_pii_rules();
  for (auto& rule : unfiltered_rules) rule.name += "-unfiltered";
  PiiScrubber unfiltered(unfiltered_rules);

  // The last four hold letters RE2 folds to 's' and 'k' under (?i): U+017F and U+212A.
  const std::vector<std::string> values{"SW1A 1AA",
                                        "sw1a%201aa",
                                        "GIR+0AA",
                                        "M1 1AEx",
                                        "EC1A1BB",
                                        "B33%208TH",
                                        "DN55+1PT",
                                        "W1A\t0AX",
                                        "CR2%0A6XH",
                                        "x7Yh3kd",
                                        "2x7Yh3kd",
                                        "Cj0KCQiA",
                                        "AB123456C",
                                        "AB 12 34 56 C",
                                        "ab%2012%2034%2056%20c",
                                        "AB123456%0CC",
                                        "AB123456%0AC",
                                        "AB123456%0dc",
                                        "AB123456\tC",
                                        "AB12345%206D",
                                        "07700 900123",
                                        "%2B447700900123",
                                        "0044-20-7946-0958",
                                        "943 476 5919",
                                        "943%0A476%0A5919",
                                        "jane.doe@example.org",
                                        "J.Smith%40Gmail.COM",
                                        "logo@2x.png",
                                        "x%2540y.com",
                                        "W1A%0D0AX",
                                        "SW1A 1\xC5\xBF"
                                        "A",
                                        "SW1A%201%C5%BFA",
                                        "jo@\xE2\x84\xAA"
                                        "x.com",
                                        "jo%40%E2%84%AAx.com"};
  const std::vector<std::string> glue{"", " ", "+", "%20", "_", "9", "a", "/", "%0C"};
  std::vector<PiiMatch> expected, found;
  // Padding moves every value across the scanner's 16-byte chunk boundaries.
  for (std::size_t padding = 0; padding < 17; ++padding) {
    for (std::size_t i = 0; i < values.size(); ++i) {
      for (const auto& separator : glue) {
        const std::string field = "/q?" + std::string(padding, 'x') + "=" + values[i] + separator +
                                  values[(i + padding) % values.size()];
        INFO(field);
        unfiltered.find(field, expected);
        prefiltered.find(field, found);
        REQUIRE(found.size() == expected.size());
        for (std::size_t m = 0; m < found.size(); ++m) {
          CHECK(found[m].begin == expected[m].begin);
          CHECK(found[m].end == expected[m].end);
          CHECK(found[m].rule == expected[m].rule);
        }
      }
    }
  }
}
