#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "veil/anonymiser/io.hpp"

using namespace veil::anonymiser;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "veil-io-XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
  std::size_t entries() const {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(path), {}));
  }
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void spit(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string read_all(InputFile& input, std::size_t chunk = 65536) {
  std::string text, buffer(chunk, '\0');
  while (std::size_t n = input.read(buffer.data(), buffer.size())) text.append(buffer, 0, n);
  return text;
}

std::string sample_text(std::size_t lines) {
  std::mt19937 random(42);
  std::string text;
  for (std::size_t i = 0; i < lines; ++i) {
    text += "192.0.2." + std::to_string(random() % 256) +
            " - - [23/Nov/2026:10:00:00 +0000] \"GET /" + std::to_string(random()) +
            " HTTP/1.1\" 200 " + std::to_string(random() % 9999) + "\n";
  }
  return text;
}

void write_gzip(const std::string& path, const std::string& text) {
  auto output = OutputFile::open(path, OutputFile::Mode::truncate);
  output->write(text.substr(0, text.size() / 2));
  output->flush();
  output->write(text.substr(text.size() / 2));
  output->commit();
}

}  // namespace

TEST_CASE("gzip output reads back through InputFile", "[io]") {
  TempDir dir;
  std::string text = sample_text(20000);
  write_gzip(dir.file("out.log.gz"), text);
  std::string compressed = slurp(dir.file("out.log.gz"));
  REQUIRE(compressed.size() > 2);
  CHECK(static_cast<unsigned char>(compressed[0]) == 0x1f);
  CHECK(compressed.size() < text.size() / 2);

  InputFile input(dir.file("out.log.gz"));
  CHECK_FALSE(input.live());
  CHECK(input.regular_file());
  CHECK(read_all(input, 1000) == text);
  CHECK(input.position() == compressed.size());
}

TEST_CASE("concatenated gzip members decode as one stream", "[io]") {
  TempDir dir;
  std::string first = sample_text(300), second = sample_text(700);
  write_gzip(dir.file("a.gz"), first);
  write_gzip(dir.file("b.gz"), second);
  spit(dir.file("both.gz"), slurp(dir.file("a.gz")) + slurp(dir.file("b.gz")));
  InputFile input(dir.file("both.gz"));
  CHECK(read_all(input) == first + second);
}

TEST_CASE("truncated or corrupt gzip input is an error naming the file", "[io]") {
  TempDir dir;
  write_gzip(dir.file("full.gz"), sample_text(5000));
  std::string compressed = slurp(dir.file("full.gz"));
  spit(dir.file("cut.gz"), compressed.substr(0, compressed.size() - 20));
  InputFile cut(dir.file("cut.gz"));
  CHECK_THROWS_WITH(read_all(cut), Catch::Contains("cut.gz") && Catch::Contains("truncated"));

  std::string damaged = compressed;
  for (std::size_t i = 100; i < 200; ++i) damaged[i] = static_cast<char>(damaged[i] ^ 0x5a);
  spit(dir.file("damaged.gz"), damaged);
  InputFile bad(dir.file("damaged.gz"));
  CHECK_THROWS_WITH(read_all(bad), Catch::Contains("damaged.gz") && Catch::Contains("gzip"));
}

TEST_CASE("plain input is passed through whatever its name", "[io]") {
  TempDir dir;
  std::string text = "not compressed\r\nat all";
  spit(dir.file("looks.gz"), text);
  InputFile input(dir.file("looks.gz"));
  CHECK(read_all(input) == text);
  InputFile empty_input((spit(dir.file("empty"), ""), dir.file("empty")));
  CHECK(read_all(empty_input).empty());
  CHECK_THROWS_WITH(InputFile(dir.file("missing.log")), Catch::Contains("missing.log"));
}

TEST_CASE("peek returns the start of the input without consuming it", "[io]") {
  TempDir dir;
  std::string text = sample_text(2000);
  for (bool gzip : {false, true}) {
    std::string path = dir.file(gzip ? "p.gz" : "p.log");
    if (gzip) {
      write_gzip(path, text);
    } else {
      spit(path, text);
    }
    InputFile input(path);
    CHECK(input.peek(4096) == text.substr(0, 4096));
    CHECK(input.peek(100) == text.substr(0, 100));
    CHECK(read_all(input, 777) == text);
  }
}

TEST_CASE("a replacement leaves the original untouched until commit", "[io]") {
  TempDir dir;
  std::string target = dir.file("access.log");
  spit(target, "original\n");
  ::chmod(target.c_str(), 0640);
  {
    auto replacement = OutputFile::replacing(target);
    replacement->write("new content\n");
    CHECK(slurp(target) == "original\n");
  }  // not committed: discarded
  CHECK(slurp(target) == "original\n");
  CHECK(dir.entries() == 1);

  auto replacement = OutputFile::replacing(target);
  replacement->write("new content\n");
  replacement->commit();
  CHECK(slurp(target) == "new content\n");
  CHECK(dir.entries() == 1);
  struct stat status {};
  REQUIRE(::stat(target.c_str(), &status) == 0);
  CHECK((status.st_mode & 07777) == 0640);
}

TEST_CASE("a gzip replacement is compressed", "[io]") {
  TempDir dir;
  std::string target = dir.file("old.log.gz");
  write_gzip(target, "before\n");
  auto replacement = OutputFile::replacing(target);
  replacement->write("after\n");
  replacement->commit();
  InputFile input(target);
  CHECK(read_all(input) == "after\n");
  CHECK(dir.entries() == 1);
}

TEST_CASE("reopen after rotation writes to a new file at the same path", "[io]") {
  TempDir dir;
  std::string path = dir.file("live.log");
  auto output = OutputFile::open(path, OutputFile::Mode::append);
  output->write("one\n");
  fs::rename(path, dir.file("live.log.1"));
  output->write("two\n");  // still the renamed file
  output->reopen();
  output->write("three\n");
  output->commit();
  CHECK(slurp(dir.file("live.log.1")) == "one\ntwo\n");
  CHECK(slurp(path) == "three\n");

  auto appending = OutputFile::open(path, OutputFile::Mode::append);
  appending->write("four\n");
  appending->commit();
  CHECK(slurp(path) == "three\nfour\n");
  auto truncating = OutputFile::open(path, OutputFile::Mode::truncate);
  truncating->commit();
  CHECK(slurp(path).empty());
}

TEST_CASE("same_file compares identity, not spelling", "[io]") {
  TempDir dir;
  spit(dir.file("a"), "x");
  spit(dir.file("b"), "x");
  CHECK(same_file(dir.file("a"), (dir.path / "." / "a").string()));
  CHECK_FALSE(same_file(dir.file("a"), dir.file("b")));
  CHECK_FALSE(same_file(dir.file("a"), dir.file("missing")));
}
