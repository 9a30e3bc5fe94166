#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>

#include "keys.hpp"
#include "veil/anonymiser/address_anonymiser.hpp"

using namespace veil::anonymiser;

namespace {

// A key file in a fresh temporary directory, removed at the end of the test.
class TempKeyFile {
 public:
  TempKeyFile(const std::string& contents, mode_t mode) {
    char pattern[] = "/tmp/veil-keys-XXXXXX";
    directory_ = mkdtemp(pattern);
    path_ = directory_ + "/key";
    std::ofstream(path_) << contents;
    chmod(path_.c_str(), mode);
  }
  ~TempKeyFile() {
    std::remove(path_.c_str());
    rmdir(directory_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string directory_;
  std::string path_;
};

// The error loading `contents`, with the file's path replaced by "PATH".
std::string load_error(const std::string& contents, std::size_t bytes) {
  TempKeyFile file(contents, 0600);
  try {
    load_key_file(file.path(), bytes);
  } catch (const std::runtime_error& error) {
    std::string message = error.what();
    auto at = message.find(file.path());
    return at == std::string::npos ? message : message.replace(at, file.path().size(), "PATH");
  }
  return "no error";
}

std::string hex(const std::vector<std::uint8_t>& bytes) {
  std::string text;
  for (auto byte : bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    text += kDigits[byte >> 4];
    text += kDigits[byte & 15];
  }
  return text;
}

}  // namespace

TEST_CASE("key files hold hex with surrounding whitespace", "[keys]") {
  TempKeyFile file("  00112233445566778899AABBCCDDEEFF\n", 0600);
  std::vector<std::string> warnings;
  auto key = load_key_file(file.path(), 16, &warnings);
  REQUIRE(key.bytes.size() == 16);
  CHECK(key.bytes[0] == 0x00);
  CHECK(key.bytes[1] == 0x11);
  CHECK(key.bytes[15] == 0xff);
  CHECK(warnings.empty());
}

TEST_CASE("key file errors say what and where", "[keys]") {
  CHECK(load_error("abcdef012345\n", 32) == "key file PATH: expected 64 hex digits, got 12");
  CHECK(load_error("", 16) == "key file PATH: expected 32 hex digits, got 0");
  CHECK(load_error("00112233 44556677\n", 8) == "key file PATH: not hex");
  CHECK(load_error("0x00112233\n", 5) == "key file PATH: not hex");
  CHECK_THROWS_WITH(load_key_file("/nonexistent/veil-key", 32),
                    Catch::StartsWith("key file /nonexistent/veil-key: cannot open"));
}

TEST_CASE("a world-readable key file gets a warning", "[keys]") {
  TempKeyFile file(std::string(64, 'a'), 0644);
  std::vector<std::string> warnings;
  load_key_file(file.path(), 32, &warnings);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0] == "key file " + file.path() + " is readable by other users (chmod 600 it)");
}

TEST_CASE("day labels are UTC calendar dates", "[keys]") {
  CHECK(day_label(0) == "1970-01-01");
  CHECK(day_label(19723) == "2024-01-01");
  CHECK(day_label(-1) == "1969-12-31");
  CHECK(day_label(kUndated) == "undated");
}

TEST_CASE("daily keys are HKDF-SHA256 of the master key and the date", "[keys]") {
  std::vector<std::uint8_t> master(32, 0x42);
  auto monday = derive_day_key(master, Method::cryptopan, 19723, 32);
  CHECK(monday.size() == 32);
  CHECK(derive_day_key(master, Method::cryptopan, 19723, 32) == monday);
  CHECK(derive_day_key(master, Method::cryptopan, 19724, 32) != monday);
  CHECK(derive_day_key(master, Method::hash, 19723, 32) != monday);
  CHECK(derive_day_key(master, Method::cryptopan, kUndated, 32) != monday);
  // Known answers computed independently with Python's hmac module (RFC 5869 HKDF, empty salt).
  CHECK(hex(monday) == "13358e3c2307fb96b4348bc7850726c18011866ab37677aa39ccb44a3cc2d749");
  CHECK(hex(derive_day_key(master, Method::ipcrypt, kUndated, 16)) ==
        "5783ba152f825310b7a4dd71d13cb394");
}
