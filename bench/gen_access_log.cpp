// Writes a realistic synthetic nginx/Apache combined access log of a UK council website to stdout:
// about 80% IPv4 and 20% IPv6 clients with a Zipf-like popularity (about 60k distinct per million
// lines, a few private ones), council-site paths and referrers with query strings (35% of referrers
// "-"), about 1% of requests carrying personal data in the query (e-mail, postcode, phone, National
// Insurance number, NHS number with a valid check digit), user agents including bots, and an
// X-Forwarded-For list as an extra field on some lines. Fast and deterministic for a given seed.
//
//   bench_gen_access_log [LINES [SEED]] > access.log      (default 1000000 lines, seed 1)
#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

// xoshiro256**: fast, and the same sequence on every platform (unlike std:: distributions).
class Random {
 public:
  explicit Random(std::uint64_t seed) {
    for (auto& word : state_) {
      seed += 0x9e3779b97f4a7c15ULL;  // splitmix64 to spread the seed
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      word = z ^ (z >> 31);
    }
  }
  std::uint64_t next() {
    std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }
  // Uniform in [0, bound).
  std::uint32_t below(std::uint32_t bound) {
    return static_cast<std::uint32_t>(((next() >> 32) * bound) >> 32);
  }
  bool percent(double p) { return static_cast<double>(next() >> 11) * 0x1.0p-53 * 100.0 < p; }
  template <typename T, std::size_t N>
  const T& pick(const std::array<T, N>& items) {
    return items[below(N)];
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<std::uint64_t, 4> state_{};
};

void append_number(std::string& out, std::uint64_t value) {
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.append(digits, end);
}

void append_two_digits(std::string& out, unsigned value) {
  out += static_cast<char>('0' + value / 10);
  out += static_cast<char>('0' + value % 10);
}

void append_hex(std::string& out, unsigned value) {
  char digits[8];
  auto end = std::to_chars(digits, digits + sizeof digits, value, 16).ptr;
  out.append(digits, end);
}

std::string ipv4_client(Random& random) {
  std::string text;
  unsigned first;
  if (random.percent(1.6)) {  // private and loopback addresses, as seen behind proxies and in tests
    static constexpr std::array<unsigned, 3> kPrivate = {10, 192, 127};
    first = random.pick(kPrivate);
  } else {
    do first = 1 + random.below(223);
    while (first == 10 || first == 127);
  }
  append_number(text, first);
  for (int i = 0; i < 3; ++i) {
    text += '.';
    append_number(text, random.below(256));
  }
  return text;
}

std::string ipv6_client(Random& random) {
  // Global unicast from a few big ISP/mobile allocations, compressed like servers log them.
  static constexpr std::array<std::string_view, 6> kPrefixes = {
      "2a00:23c5:", "2a01:4b00:", "2a02:c7c:", "2a0a:ef40:", "2001:4860:", "2a01:cb19:"};
  std::string text(random.pick(kPrefixes));
  append_hex(text, random.below(0x10000));
  text += ':';
  append_hex(text, random.below(0x10000));
  if (random.percent(50)) {
    text += "::";
    append_hex(text, 1 + random.below(0xffff));
  } else {
    for (int i = 0; i < 4; ++i) {
      text += ':';
      append_hex(text, random.below(0x10000));
    }
  }
  return text;
}

constexpr std::array<std::string_view, 24> kPages = {
    "/",
    "/bins-and-recycling/collection-days",
    "/bins-and-recycling/report-a-missed-bin",
    "/council-tax/pay-your-council-tax",
    "/council-tax/discounts-and-exemptions",
    "/planning/applications/search",
    "/planning/view-comment-on-applications",
    "/parking/permits/resident-permit",
    "/parking/pay-a-penalty-charge-notice",
    "/libraries/opening-times",
    "/libraries/renew-books-online",
    "/schools/admissions/apply-for-a-primary-school-place",
    "/housing/apply-for-council-housing",
    "/births-deaths-marriages/register-a-death",
    "/roads-and-travel/report-a-pothole",
    "/adult-social-care/care-needs-assessment",
    "/news/2026/11/winter-gritting-routes",
    "/contact-us",
    "/search",
    "/assets/css/main.css",
    "/assets/js/app.js",
    "/images/logo.svg",
    "/favicon.ico",
    "/robots.txt"};

constexpr std::array<std::string_view, 12> kQueries = {
    "?page=2",
    "?page=3",
    "?q=bin+collection+day",
    "?q=council+tax+band",
    "?ref=26%2F01234%2FFUL",
    "?utm_source=newsletter&utm_medium=email&utm_campaign=winter",
    "?ward=castle&sort=date",
    "?lang=cy",
    "?q=library+opening+hours",
    "?week=47",
    "?fbclid=IwAR2x7Yh3kd",
    "?gclid=Cj0KCQiA"};

constexpr std::array<std::string_view, 6> kFirstNames = {"jane",   "mohammed", "olivia",
                                                         "george", "priya",    "tom"};
constexpr std::array<std::string_view, 6> kSurnames = {"smith",    "khan",  "jones",
                                                       "williams", "patel", "evans"};
constexpr std::array<std::string_view, 8> kPostcodes = {
    "SW1A+1AA", "M1+1AE", "B33+8TH", "CR2+6XH", "DN55+1PT", "EH1+1YZ", "LS1+4AP", "CF10+1EP"};

std::string valid_nhs_number(Random& random) {
  for (;;) {
    std::string digits;
    int sum = 0;
    for (int i = 0; i < 9; ++i) {
      int digit = static_cast<int>(random.below(10));
      digits += static_cast<char>('0' + digit);
      sum += digit * (10 - i);
    }
    int check = 11 - sum % 11;
    if (check == 11) check = 0;
    if (check == 10) continue;  // no valid number with these nine digits
    digits += static_cast<char>('0' + check);
    return digits;
  }
}

void append_pii_query(std::string& out, Random& random, char separator) {
  out += separator;
  switch (random.below(5)) {
    case 0:
      out.append("email=").append(random.pick(kFirstNames)).append(".");
      out.append(random.pick(kSurnames)).append(random.percent(50) ? "%40" : "@");
      out.append(random.percent(50) ? "gmail.com" : "btinternet.co.uk");
      break;
    case 1:
      out.append("postcode=").append(random.pick(kPostcodes));
      break;
    case 2:
      out.append("phone=0");
      out.append(random.percent(50) ? "7700900" : "1632960");
      append_number(out, 100 + random.below(900));
      break;
    case 3: {
      static constexpr std::string_view kLetters = "ABCEGHJKLMNPRSTWXYZ";
      out.append("nino=");
      out += kLetters[random.below(kLetters.size())];
      out += kLetters[random.below(kLetters.size())];
      for (int i = 0; i < 6; ++i) out += static_cast<char>('0' + random.below(10));
      out += "ABCD"[random.below(4)];
      break;
    }
    default:
      out.append("nhs=").append(valid_nhs_number(random));
  }
}

void append_target(std::string& out, Random& random) {
  std::string_view page = random.pick(kPages);
  out.append(page);
  bool has_query = random.percent(30);
  if (has_query) out.append(random.pick(kQueries));
  if (random.percent(1.0)) append_pii_query(out, random, has_query ? '&' : '?');
}

constexpr std::array<std::string_view, 14> kAgents = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.6723.102 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "curl/8.5.0",
    "python-requests/2.32.3",
    "Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)"};

constexpr std::array<std::string_view, 5> kSearchReferrers = {
    "https://www.google.co.uk/search?q=council+bin+collection+days&hl=en-GB",
    "https://www.google.com/", "https://www.bing.com/search?q=pay+council+tax&form=QBLH",
    "https://duckduckgo.com/", "https://www.facebook.com/"};

void append_referrer(std::string& out, Random& random) {
  if (random.percent(35)) {
    out += '-';
  } else if (random.percent(30)) {
    out.append(random.pick(kSearchReferrers));
  } else {
    out.append("https://www.example-council.gov.uk");
    append_target(out, random);
    if (random.percent(0.8)) append_pii_query(out, random, '?');
  }
}

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// "[01/Nov/2026:00:00:07 +0000]" for a time in seconds since 2026-11-01 00:00:00 UTC (30 days).
void append_timestamp(std::string& out, std::uint64_t seconds) {
  unsigned day = static_cast<unsigned>(seconds / 86400) % 30 + 1;
  unsigned hour = static_cast<unsigned>(seconds / 3600 % 24);
  unsigned minute = static_cast<unsigned>(seconds / 60 % 60);
  out += '[';
  append_two_digits(out, day);
  out.append("/").append(kMonths[10]).append("/2026:");
  append_two_digits(out, hour);
  out += ':';
  append_two_digits(out, minute);
  out += ':';
  append_two_digits(out, static_cast<unsigned>(seconds % 60));
  out.append(" +0000]");
}

// Client ranks drawn with probability ~ 1/(rank + 8): a few very busy clients and a long tail.
class ZipfClients {
 public:
  ZipfClients(Random& random, std::size_t count) {
    double total = 0;
    for (std::size_t rank = 0; rank < count; ++rank) {
      total += 1.0 / static_cast<double>(rank + 8);
      cumulative_.push_back(total);
      clients_.push_back(random.percent(80) ? ipv4_client(random) : ipv6_client(random));
    }
    for (double& value : cumulative_) value /= total;
  }
  const std::string& draw(Random& random) {
    double u = static_cast<double>(random.next() >> 11) * 0x1.0p-53;
    auto it = std::lower_bound(cumulative_.begin(), cumulative_.end(), u);
    return clients_[std::min<std::size_t>(it - cumulative_.begin(), clients_.size() - 1)];
  }

 private:
  std::vector<double> cumulative_;
  std::vector<std::string> clients_;
};

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t lines = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  std::uint64_t seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1;
  if (argc > 3 || lines == 0) {
    std::fprintf(stderr, "usage: bench_gen_access_log [LINES [SEED]]\n");
    return 2;
  }
  Random random(seed);
  ZipfClients clients(random, 64000);
  constexpr std::array<std::string_view, 3> kUsers = {"jsmith", "a.khan", "planning.officer"};
  std::string out;
  out.reserve(1 << 21);
  std::uint64_t milliseconds = 0;
  for (std::uint64_t i = 0; i < lines; ++i) {
    milliseconds += random.below(170);
    out.append(clients.draw(random)).append(" - ");
    if (random.percent(0.5)) {
      out.append(random.pick(kUsers));
    } else {
      out += '-';
    }
    out += ' ';
    append_timestamp(out, milliseconds / 1000);
    unsigned method = random.below(100);
    out.append(method < 90 ? " \"GET " : method < 98 ? " \"POST " : " \"HEAD ");
    append_target(out, random);
    out.append(random.percent(70) ? " HTTP/1.1\" " : " HTTP/2.0\" ");
    unsigned status = random.below(100);
    out.append(status < 85   ? "200 "
               : status < 92 ? "304 "
               : status < 96 ? "301 "
               : status < 99 ? "404 "
                             : "500 ");
    append_number(out, status < 85 ? 200 + random.below(60000) : random.below(600));
    out.append(" \"");
    append_referrer(out, random);
    out.append("\" \"").append(random.pick(kAgents)).append("\"");
    if (random.percent(
            5)) {  // behind the council's CDN: the X-Forwarded-For chain as an extra field
      out.append(" \"").append(clients.draw(random)).append(", ").append(ipv4_client(random));
      out += '"';
    }
    out += '\n';
    if (out.size() >= (1 << 20)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}
