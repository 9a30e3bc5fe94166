// Per-line cost of the log-line anonymiser on generated combined lines (80% IPv4, 20% IPv6 clients,
// council-site paths, referrers with queries, ~1% PII in the target, ~0.5% user names), split into
// its parts: parsing, PII scrubbing of the target/referrer/user fields, and the whole line with
// `truncate`. Usage: bench_line_anonymiser [LINES|LOG] [ROUNDS]: LOG, a combined log file, is
// measured instead of generated lines (bench/anonymise leaves one in bench/data/).
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "veil/anonymiser/line_anonymiser.hpp"
#include "veil/anonymiser/log_format.hpp"
#include "veil/anonymiser/pii_scrubber.hpp"

using namespace veil::anonymiser;

namespace {

std::vector<std::string> generate_lines(std::size_t count) {
  static constexpr std::array<std::string_view, 12> kPaths{
      "/",
      "/bins-and-recycling/bin-collection-days",
      "/council-tax/pay-your-council-tax",
      "/planning-and-building-control/search-planning-applications",
      "/parking/pay-a-parking-fine",
      "/assets/css/main.min.css",
      "/assets/js/app.bundle.js",
      "/images/logo@2x.png",
      "/libraries/opening-times",
      "/jobs/vacancies",
      "/search",
      "/housing/apply-for-housing",
  };
  static constexpr std::array<std::string_view, 8> kQueries{
      "",         "?page=2", "?q=bin+collection", "?utm_source=newsletter&utm_medium=email",
      "?id=1234", "",        "?ref=20240301",     "?lang=cy"};
  static constexpr std::array<std::string_view, 5> kPii{"?email=jane.doe%40example.org",
                                                        "?postcode=SW1A+1AA", "?phone=07700900123",
                                                        "?nino=AB123456C", "?nhs=9434765919"};
  static constexpr std::array<std::string_view, 4> kReferrers{
      "https://www.google.co.uk/search?q=council+tax+band", "https://www.example.gov.uk/",
      "https://www.bing.com/search?q=bin+day&form=QBLH", "https://www.facebook.com/"};
  static constexpr std::array<std::string_view, 5> kAgents{
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.0.0 Safari/537.36",
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
      "Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
      "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
      "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
      "Version/17.1 Safari/605.1.15"};
  std::mt19937_64 random(42);
  auto pick = [&](const auto& table) { return table[random() % table.size()]; };
  std::vector<std::string> lines;
  lines.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    std::string client = random() % 5 == 0
                             ? fmt::format("2a00:23c{:x}:{:x}:{:x}::{:x}", random() % 16,
                                           random() % 0xffff, random() % 0xffff, random() % 0xffff)
                             : fmt::format("{}.{}.{}.{}", 1 + random() % 223, random() % 256,
                                           random() % 256, 1 + random() % 254);
    std::string target(pick(kPaths));
    target += random() % 100 == 0 ? pick(kPii) : pick(kQueries);
    std::string_view user = random() % 200 == 0 ? "jsmith" : "-";
    std::string_view referrer = random() % 100 < 35 ? "-" : pick(kReferrers);
    lines.push_back(fmt::format(
        R"({} - {} [{:02}/Mar/2024:{:02}:{:02}:{:02} +0000] "GET {} HTTP/1.1" {} {} "{}" "{}")",
        client, user, 1 + random() % 28, random() % 24, random() % 60, random() % 60, target,
        random() % 10 == 0 ? 304 : 200, random() % 50000, referrer, pick(kAgents)));
  }
  return lines;
}

// CPU time of this thread: other load on a shared machine does not count against the code measured.
double thread_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

template <typename Work>
void measure(std::string_view name, const std::vector<std::string>& lines, int rounds,
             Work&& work) {
  std::size_t bytes = 0;
  for (const auto& line : lines) bytes += line.size() + 1;
  double best = 1e300;
  for (int round = 0; round < rounds; ++round) {
    const double start = thread_seconds();
    for (const auto& line : lines) work(line);
    best = std::min(best, thread_seconds() - start);
  }
  fmt::print("{:<34} {:>9.0f} MB/s {:>8.2f} M lines/s {:>7.0f} ns/line\n", name,
             static_cast<double>(bytes) / best / 1e6,
             static_cast<double>(lines.size()) / best / 1e6,
             best * 1e9 / static_cast<double>(lines.size()));
}

// The lines of the file at `path` (without their "\n" or a "\r" before it).
std::vector<std::string> read_lines(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    fmt::print(stderr, "bench_line_anonymiser: cannot read {}\n", path);
    std::exit(2);
  }
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
  }
  return lines;
}

}  // namespace

int main(int argc, char** argv) {
  const char* source = argc > 1 ? argv[1] : "200000";
  const int rounds = argc > 2 ? std::max(1, std::atoi(argv[2])) : 3;
  const bool from_file = std::filesystem::is_regular_file(source);
  const std::string_view count_text(source);
  std::size_t count = 0;
  const auto [count_end, error] =
      std::from_chars(count_text.data(), count_text.data() + count_text.size(), count);
  if (!from_file && (error != std::errc() || count_end != count_text.data() + count_text.size())) {
    fmt::print(stderr, "bench_line_anonymiser: {} is neither a log file nor a line count\n",
               source);
    return 2;
  }
  const auto lines = from_file ? read_lines(source) : generate_lines(count);
  if (lines.empty()) {
    fmt::print(stderr, "bench_line_anonymiser: no lines to measure\n");
    return 2;
  }
  std::size_t bytes = 0;
  for (const auto& line : lines) bytes += line.size() + 1;
  fmt::print("{} {} lines, {:.1f} B/line, best of {} rounds, thread CPU time\n", lines.size(),
             from_file ? source : "generated combined",
             static_cast<double>(bytes) / static_cast<double>(lines.size()), rounds);

  AnonymiseSettings settings;
  auto parser = make_line_parser(LogFormat::combined, settings);
  ParsedLine parsed;
  std::size_t sink = 0;
  measure("parse (combined)", lines, rounds, [&](const std::string& line) {
    sink += parser->parse(line, parsed) ? parsed.field_count : 0;
  });

  PiiScrubber pii(selected_pii_rules(settings));
  std::vector<PiiMatch> matches;
  measure("parse + PII find (all rules)", lines, rounds, [&](const std::string& line) {
    parser->parse(line, parsed);
    for (const auto& span : parsed.spans()) {
      if (span.role == FieldRole::target || span.role == FieldRole::referrer ||
          span.role == FieldRole::user) {
        pii.find(std::string_view(line).substr(span.begin, span.end - span.begin), matches);
        sink += matches.size();
      }
    }
  });

  LineAnonymiser anonymiser(settings, LogFormat::combined, MasterKey{});
  std::string out;
  measure("anonymise_line (truncate, all PII)", lines, rounds, [&](const std::string& line) {
    out.clear();
    anonymiser.anonymise_line(line, out);
    sink += out.size();
  });
  const auto& stats = anonymiser.stats();
  fmt::print("per round: {} addresses, {} PII, {} unparsed (checksum {})\n",
             stats.addresses / static_cast<std::uint64_t>(rounds),
             stats.pii / static_cast<std::uint64_t>(rounds),
             stats.unparsed / static_cast<std::uint64_t>(rounds), sink % 10);
  return 0;
}
