// Throughput of AddressAnonymiser::rewrite_addresses, one line at a time on one thread, as the
// line anonymiser calls it:
//   - on log lines without any address (the cost of scanning alone), and
//   - on realistic combined-log lines (about 250 bytes, a client address and an X-Forwarded-For
//     proxy address each, 80% IPv4 / 20% IPv6, 60,000 distinct clients per million lines with a
//     skewed popularity) for every method.
// Usage: bench_address_scan [LINES [METHOD]]   (default 1,000,000 lines, every method). Speeds are
// per second of this thread's CPU time.
#include <fmt/core.h>

#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "veil/anonymiser/address_anonymiser.hpp"

using namespace veil::anonymiser;

namespace {

class Random {
 public:
  std::uint64_t next() {
    state_ = state_ * 6364136223846793005ull + 1442695040888963407ull;
    return state_ >> 11;
  }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
  double unit() { return static_cast<double>(next() >> 11) / static_cast<double>(1ull << 42); }

 private:
  std::uint64_t state_ = 42;
};

const char* const kPaths[] = {"/",
                              "/bins/collection-day?uprn=100023336956&page=2",
                              "/council-tax/pay-online",
                              "/planning/applications/search?ref=23%2F01234%2FFUL&status=decided",
                              "/libraries/opening-times.html",
                              "/assets/css/main.3f9a2c.css",
                              "/parking/permits?zone=C",
                              "/search?q=school+admissions+2024&start=10",
                              "/images/logo.svg"};
const char* const kReferrers[] = {"-", "https://www.example.gov.uk/", "https://www.google.co.uk/",
                                  "https://www.example.gov.uk/search?q=bin+collection"};
const char* const kAgents[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.109 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"};

std::string client_address(std::size_t index) {
  // Derived from the index so each distinct client keeps its address.
  std::uint64_t h = (index + 1) * 0x9E3779B97F4A7C15ull;
  if (index % 5 != 0) {
    return fmt::format("{}.{}.{}.{}", 1 + (h >> 56) % 223, (h >> 48) & 255, (h >> 40) & 255,
                       (h >> 32) & 255);
  }
  return fmt::format("2a02:{:x}:{:x}:{:x}::{:x}", (h >> 48) & 0xffff, (h >> 32) & 0xffff,
                     (h >> 16) & 0xffff, h & 0xffff);
}

std::string line_text(Random& random, const std::string& client, const std::string& proxy) {
  return fmt::format(
      "{} - - [10/Oct/2023:13:{:02}:{:02} +0000] \"GET {} HTTP/1.1\" 200 {} \"{}\" \"{}\" \"{}\"",
      client, random.below(60), random.below(60), kPaths[random.below(std::size(kPaths))],
      random.below(90000), kReferrers[random.below(std::size(kReferrers))],
      kAgents[random.below(std::size(kAgents))], proxy);
}

std::vector<std::string> realistic_lines(std::size_t count) {
  Random random;
  std::vector<std::string> lines;
  lines.reserve(count);
  std::size_t distinct = std::max<std::size_t>(1, count * 60000 / 1000000);
  for (std::size_t i = 0; i < count; ++i) {
    double u = random.unit();
    auto client = client_address(static_cast<std::size_t>(u * u * u * distinct));
    auto proxy = fmt::format("10.0.{}.{}", random.below(4), 1 + random.below(8));
    lines.push_back(line_text(random, client, proxy));
  }
  return lines;
}

std::vector<std::string> address_free_lines(std::size_t count) {
  Random random;
  std::vector<std::string> lines;
  lines.reserve(count);
  for (std::size_t i = 0; i < count; ++i) lines.push_back(line_text(random, "-", "-"));
  return lines;
}

// CPU time of this thread: the machine is shared, so wall time would measure the neighbours.
double thread_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

struct Result {
  double megabytes_per_second;
  std::size_t replaced;
};

// The best of three passes, each with a fresh anonymiser (cold caches), to damp the noise of a
// shared machine.
Result run(const AnonymiseSettings& settings, const MasterKey& key,
           const std::vector<std::string>& lines) {
  Result best{0, 0};
  for (int pass = 0; pass < 3; ++pass) {
    AddressAnonymiser anonymiser(settings, key);
    std::size_t bytes = 0, replaced = 0;
    std::string out;
    double start = thread_seconds();
    for (const auto& line : lines) {
      out.clear();
      replaced += anonymiser.rewrite_addresses(line, 19640, out);
      bytes += line.size() + 1;
    }
    double speed = static_cast<double>(bytes) / 1e6 / (thread_seconds() - start);
    if (speed > best.megabytes_per_second) best = {speed, replaced};
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t count = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  auto plain = address_free_lines(count);
  auto realistic = realistic_lines(count);
  std::size_t bytes = 0;
  for (const auto& line : realistic) bytes += line.size() + 1;
  fmt::print("{} lines, {:.0f} bytes per line on average\n", count,
             static_cast<double>(bytes) / static_cast<double>(count));

  MasterKey key{std::vector<std::uint8_t>(32, 0x5a)};
  AnonymiseSettings settings;
  auto scan = run(settings, key, plain);
  fmt::print("{:<28} {:>8.0f} MB/s  ({} replaced)\n", "scan, no addresses",
             scan.megabytes_per_second, scan.replaced);

  for (auto method :
       {Method::truncate, Method::hash, Method::cryptopan, Method::ipcrypt, Method::ipcrypt_pfx}) {
    for (auto rotation : {Rotation::never, Rotation::daily}) {
      if (method == Method::truncate && rotation == Rotation::daily) continue;
      if (argc > 2 && to_string(method) != argv[2]) continue;
      settings.method = method;
      settings.rotation = rotation;
      MasterKey method_key{std::vector<std::uint8_t>(key_bytes_for(method))};
      for (std::size_t i = 0; i < method_key.bytes.size(); ++i)
        method_key.bytes[i] = static_cast<std::uint8_t>(i * 7 + 1);
      auto result = run(settings, method_key, realistic);
      fmt::print("{:<28} {:>8.0f} MB/s  ({} replaced)\n",
                 fmt::format("{} rotate={}", to_string(method), to_string(rotation)),
                 result.megabytes_per_second, result.replaced);
    }
  }
}
