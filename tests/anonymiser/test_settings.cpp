#include <catch2/catch.hpp>
#include <stdexcept>

#include "veil/anonymiser/settings.hpp"

using namespace veil::anonymiser;

TEST_CASE("method, rotation and format names round-trip", "[settings]") {
  for (auto method :
       {Method::truncate, Method::hash, Method::cryptopan, Method::ipcrypt, Method::ipcrypt_pfx}) {
    CHECK(parse_method(to_string(method)) == method);
  }
  CHECK(parse_method("ipcrypt-pfx") == Method::ipcrypt_pfx);
  CHECK_FALSE(parse_method("md5"));
  CHECK(parse_rotation("daily") == Rotation::daily);
  CHECK(parse_log_format("auto") == LogFormat::automatic);
  CHECK_FALSE(parse_log_format("csv"));
}

TEST_CASE("scrub selects PII rules by name, in catalogue order", "[settings]") {
  AnonymiseSettings settings;
  CHECK(selected_pii_rules(settings).size() == 5);

  settings.scrub = std::vector<std::string>{"nhs", "email"};
  auto rules = selected_pii_rules(settings);
  REQUIRE(rules.size() == 2);
  CHECK(rules[0].name == "email");
  CHECK(rules[1].name == "nhs");
  CHECK(rules[1].check == PiiCheck::nhs_mod11);

  settings.scrub = std::vector<std::string>{};
  CHECK(selected_pii_rules(settings).empty());

  settings.scrub = std::vector<std::string>{"passport"};
  CHECK_THROWS_WITH(selected_pii_rules(settings), "unknown PII rule 'passport'");
}

TEST_CASE("key sizes follow the methods' definitions", "[settings]") {
  CHECK(key_bytes_for(Method::truncate) == 0);
  CHECK(key_bytes_for(Method::ipcrypt) == 16);
  CHECK(key_bytes_for(Method::ipcrypt_pfx) == 32);
  CHECK(key_bytes_for(Method::cryptopan) == 32);
  CHECK(key_bytes_for(Method::hash) == 32);
}
