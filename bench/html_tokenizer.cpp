// Rewrite throughput of the streaming HTML rewriter alone, single thread, on generated council-like
// pages of 10 KB to 1 MB (head scripts incl. a GTM snippet, navigation, many attributes, inline
// SVG icons, YouTube iframes, images, forms, comments), fed in 4-16 KiB chunks.
//
//   bench_html_tokenizer [CPU seconds per case, default 2] [veil source directory]
//
// Cases: "rewrite" registers the usual tags (script, iframe, img, embed, object, link, source,
// video, audio, body) and edits: scripts to googletagmanager.com made inert, YouTube iframes
// replaced, a banner after <body>. "scan" registers nothing (tokenizer and pass-through only).
//
// Then the whole EmbedBlocker path as the proxy runs it per response (Consent, EmbedBlocker and
// SecurityHeaders hooks: consent read, banner, CSP, headers; then the body transform) under
// policies/council-default.yaml, on ~100 KB pages made of demo/site/bins-and-recycling.html:
// "table-*" repeats its bin table (embeds once: the page bench/proxy serves), "main-*" repeats
// everything inside its <main> (every embed 20 times: the worst case). "*-none" is a visitor with
// no decision (banner, every embed blocked), "*-all" one who accepted everything (nothing to
// rewrite). "dense-pass" is bench/proxy's html-10k page (10,240 bytes of short <p> paragraphs:
// a tag every ~50 bytes) under bench/policies/pass-through.yaml (report-only). The source directory
// defaults to the first parent of this program's directory that holds demo/site.
//
// A third argument runs only the EmbedBlocker cases whose name contains it and skips the
// generated pages (for callgrind: `bench_html_tokenizer 0 . dense` runs each case once).
#include <fmt/core.h>

#include <time.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "veil/policies/loader.hpp"
#include "veil/proxy/consent_filter.hpp"
#include "veil/proxy/embed_blocker.hpp"
#include "veil/proxy/html_rewriter.hpp"
#include "veil/proxy/security_headers.hpp"

using namespace veil::proxy;

namespace {

std::string generate_page(std::size_t target_size, std::mt19937& random) {
  std::string page = R"html(<!DOCTYPE html>
<html lang="en-GB" class="govuk-template"><head><meta charset="utf-8">
<title>Bins, rubbish and recycling &ndash; Example Borough Council</title>
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta property="og:image" content="https://www.example.gov.uk/assets/images/opengraph.png">
<link rel="preconnect" href="https://fonts.gstatic.com" crossorigin>
<link rel="stylesheet" href="/assets/css/main.css?v=20261101" media="all">
<script async src="https://www.googletagmanager.com/gtag/js?id=G-ABC123"></script>
<script>window.dataLayer = window.dataLayer || [];function gtag(){dataLayer.push(arguments);}
gtag('js', new Date());gtag('config', 'G-ABC123', { 'anonymize_ip': true });</script>
<script>(function(w,d,s,l,i){w[l]=w[l]||[];w[l].push({'gtm.start':new Date().getTime(),event:'gtm.js'});
var f=d.getElementsByTagName(s)[0],j=d.createElement(s),dl=l!='dataLayer'?'&l='+l:'';j.async=true;
j.src='https://www.googletagmanager.com/gtm.js?id='+i+dl;f.parentNode.insertBefore(j,f);
})(window,document,'script','dataLayer','GTM-XYZ');</script>
<script src="/assets/js/site.js" defer></script>
</head>
<body class="govuk-template__body js-enabled" data-page-id="1234">
<a href="#main-content" class="govuk-skip-link" data-module="govuk-skip-link">Skip to main content</a>
<!-- header -->
<header class="govuk-header" role="banner" data-module="govuk-header"><div class="govuk-header__container govuk-width-container">
<svg focusable="false" role="img" class="govuk-header__logotype" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 148 30" height="30" width="148" aria-label="Council"><title>Council</title><path fill="currentColor" fill-rule="evenodd" d="M22.6 10.4c-1 .4-2-.1-2.4-1-.4-.9.1-2 1-2.4.9-.4 2 .1 2.4 1s-.1 2-1 2.4m-5.9 6.7c-.9.4-2-.1-2.4-1-.4-.9.1-2 1-2.4.9-.4 2 .1 2.4 1s-.1 2-1 2.4"></path></svg>
</div></header>
)html";
  const std::vector<std::string_view> blocks{
      R"html(<nav class="govuk-breadcrumbs" aria-label="Breadcrumb"><ol class="govuk-breadcrumbs__list"><li class="govuk-breadcrumbs__list-item"><a class="govuk-breadcrumbs__link" href="/">Home</a></li><li class="govuk-breadcrumbs__list-item"><a class="govuk-breadcrumbs__link" href="/bins-and-recycling">Bins &amp; recycling</a></li><li class="govuk-breadcrumbs__list-item"><a class="govuk-breadcrumbs__link" href="/bins-and-recycling/collections?postcode=AB1+2CD&amp;uprn=100012345678">Collection days</a></li></ol></nav>
)html",
      R"html(<h2 class="govuk-heading-m" id="garden-waste">Garden waste</h2>
<p class="govuk-body">Garden waste is collected every two weeks from March to November. You need a <a href="/garden-waste/subscribe" class="govuk-link">garden waste subscription</a> &ndash; it costs &pound;45 a year &amp; covers one brown bin. Put your bin out by 7am on your collection day; we can't collect bins that are too heavy to move safely (over 25kg).</p>
<ul class="govuk-list govuk-list--bullet"><li>grass cuttings, leaves and plants</li><li>small branches &lt; 10cm</li><li>no soil, rubble or food waste</li></ul>
)html",
      R"html(<div class="govuk-grid-row"><div class="govuk-grid-column-one-third"><img src="/assets/images/bins/blue-bin.jpg" srcset="/assets/images/bins/blue-bin@2x.jpg 2x" alt="A blue recycling bin" width="320" height="240" loading="lazy" decoding="async" class="app-image"></div>
<div class="govuk-grid-column-two-thirds"><p class="govuk-body">Rinse tins, cans and plastic bottles. Flatten cardboard. No plastic bags or film.</p></div></div>
)html",
      R"html(<div class="app-video"><iframe width="560" height="315" src="https://www.youtube.com/embed/dQw4w9WgXcQ?rel=0&amp;modestbranding=1" title="How to sort your recycling" frameborder="0" allow="accelerometer; autoplay; clipboard-write; encrypted-media; gyroscope; picture-in-picture" allowfullscreen></iframe></div>
)html",
      R"html(<form method="post" action="/bins-and-recycling/report-missed" novalidate class="govuk-form"><input type="hidden" name="csrf_token" value="c2VjcmV0LXRva2VuLWZvci1iZW5jaA=="><div class="govuk-form-group"><label class="govuk-label" for="postcode">Postcode</label><input class="govuk-input govuk-input--width-10" id="postcode" name="postcode" type="text" autocomplete="postal-code" spellcheck="false"></div><button type="submit" class="govuk-button" data-module="govuk-button" data-prevent-double-click="true">Find collection days</button></form>
)html",
      R"html(<table class="govuk-table"><caption class="govuk-table__caption govuk-table__caption--m">Collection calendar</caption><thead class="govuk-table__head"><tr class="govuk-table__row"><th scope="col" class="govuk-table__header">Week</th><th scope="col" class="govuk-table__header">Bin</th></tr></thead><tbody class="govuk-table__body"><tr class="govuk-table__row"><td class="govuk-table__cell">1 December</td><td class="govuk-table__cell">Blue &amp; brown</td></tr><tr class="govuk-table__row"><td class="govuk-table__cell">8 December</td><td class="govuk-table__cell">Black</td></tr></tbody></table>
)html",
      R"html(<script type="application/ld+json">{"@context":"https://schema.org","@type":"GovernmentService","name":"Bin collections","provider":{"@type":"GovernmentOrganization","name":"Example Borough Council"},"url":"https://www.example.gov.uk/bins?a=1&b=2"}</script>
<!-- related content: <a href="/old">old link</a> -->
)html",
      R"html(<div class="app-map"><iframe src="https://www.google.com/maps/embed?pb=!1m18!1m12!1m3!1d2483.5!2d-0.12!3d51.50" width="600" height="450" style="border:0;" loading="lazy" referrerpolicy="no-referrer-when-downgrade" title="Recycling centre map"></iframe></div>
<img src="https://www.facebook.com/tr?id=123456789&amp;ev=PageView&amp;noscript=1" height="1" width="1" style="display:none" alt="">
)html",
  };
  std::uniform_int_distribution<std::size_t> pick(0, blocks.size() - 1);
  while (page.size() < target_size) page += blocks[pick(random)];
  page +=
      R"html(<footer class="govuk-footer" role="contentinfo"><script src="/assets/js/govuk-frontend.min.js"></script><script>window.GOVUKFrontend.initAll()</script></footer>
</body></html>
)html";
  return page;
}

// Same host test the EmbedBlocker will need, kept minimal: the host part of an absolute or
// scheme-relative URL, compared case-insensitively by the caller's lower-case constant.
bool url_host_is(std::string_view url, std::string_view host) {
  const auto slashes = url.find("//");
  if (slashes == std::string_view::npos) return false;
  url.remove_prefix(slashes + 2);
  url = url.substr(0, url.find_first_of("/?#:"));
  if (url.size() != host.size()) return false;
  for (std::size_t i = 0; i < url.size(); ++i) {
    const char c = (url[i] >= 'A' && url[i] <= 'Z') ? static_cast<char>(url[i] | 0x20) : url[i];
    if (c != host[i]) return false;
  }
  return true;
}

void register_usual_handlers(HtmlRewriter& rewriter) {
  rewriter.on_element({HtmlTag::script}, [](HtmlElement& script) {
    const auto src = script.attribute("src");
    const bool gtm_src = src && url_host_is(*src, "www.googletagmanager.com");
    const bool gtm_inline =
        script.content().find("googletagmanager.com/gtm.js") != std::string_view::npos;
    if (gtm_src || gtm_inline) {
      script.set_attribute("type", "text/plain");
      script.set_attribute("data-veil-category", "usage");
    }
  });
  rewriter.on_element({HtmlTag::iframe}, [](HtmlElement& iframe) {
    const auto src = iframe.attribute("src");
    if (src && url_host_is(*src, "www.youtube.com")) {
      std::string placeholder = "<form method=\"post\" action=\"/_veil/consent\"><a href=\"";
      append_html_escaped(placeholder, *src);
      placeholder +=
          "\">Watch on YouTube</a><button name=\"grant\" value=\"media\">Load "
          "video</button></form>";
      iframe.replace(placeholder);
    }
  });
  rewriter.on_element({HtmlTag::img, HtmlTag::embed, HtmlTag::object, HtmlTag::link,
                       HtmlTag::source, HtmlTag::video, HtmlTag::audio},
                      [](HtmlElement& element) {
                        const auto src = element.attribute("src");
                        if (src && url_host_is(*src, "www.facebook.com")) element.remove();
                      });
  rewriter.insert_after_body_start(
      "<div class=\"veil-banner\" role=\"region\" aria-label=\"Cookies on this site\" "
      "data-nosnippet>…</div>");
}

std::vector<std::size_t> random_chunks(std::size_t size, std::mt19937& random) {
  std::uniform_int_distribution<std::size_t> chunk_size(4096, 16384);
  std::vector<std::size_t> chunks;
  for (std::size_t at = 0; at < size;) {
    chunks.push_back(std::min(chunk_size(random), size - at));
    at += chunks.back();
  }
  return chunks;
}

// CPU time of this thread: the machine running the bench is shared, wall time is not ours.
double thread_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

struct Result {
  double megabytes_per_second;  // per CPU second
  double wall_megabytes_per_second;
  std::size_t output_bytes;
  HtmlBailout bailout;
};

Result measure(const std::string& page, bool rewrite, double seconds, std::mt19937& random) {
  const auto chunks = random_chunks(page.size(), random);
  std::string out;
  out.reserve(page.size() * 2);
  Result result{0, 0, 0, HtmlBailout::none};
  std::size_t bytes = 0;
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = thread_cpu_seconds();
  double elapsed = 0;
  do {
    HtmlRewriter rewriter;
    if (rewrite) register_usual_handlers(rewriter);
    out.clear();
    std::size_t at = 0;
    for (std::size_t size : chunks) {
      rewriter.write(std::string_view(page).substr(at, size), out);
      at += size;
    }
    rewriter.end(out);
    bytes += page.size();
    result.output_bytes = out.size();
    result.bailout = rewriter.bailout();
    elapsed = thread_cpu_seconds() - cpu_start;
  } while (elapsed < seconds);
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.megabytes_per_second = static_cast<double>(bytes) / 1e6 / elapsed;
  result.wall_megabytes_per_second = static_cast<double>(bytes) / 1e6 / wall;
  return result;
}

std::filesystem::path source_directory(int argc, char** argv) {
  if (argc > 2) return argv[2];
  for (auto dir = std::filesystem::canonical("/proc/self/exe").parent_path();
       dir != dir.parent_path(); dir = dir.parent_path()) {
    if (std::filesystem::exists(dir / "demo/site/bins-and-recycling.html")) return dir;
  }
  return std::filesystem::current_path();
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The demo's bins page grown to about `target_size` by repeating one part of it: what is inside
// its <main> (every embed repeated too: the worst case), or its bin table section (embeds once, as
// on a real page; the page bench/proxy serves).
std::string demo_page(const std::filesystem::path& source, std::size_t target_size,
                      bool repeat_main) {
  const std::string page = read_file(source / "demo/site/bins-and-recycling.html");
  std::size_t begin = 0;
  std::size_t end = 0;
  if (repeat_main) {
    begin = page.find('>', page.find("<main")) + 1;
    end = page.find("</main>");
  } else {
    begin = page.find("  <section aria-labelledby=\"which-bin\">");
    end = page.find("</section>\n", begin) + 11;
  }
  const std::string_view part = std::string_view(page).substr(begin, end - begin);
  std::string grown = page.substr(0, end);
  while (grown.size() + (page.size() - end) < target_size) grown += part;
  grown += page.substr(end);
  return grown;
}

// bench/proxy's index.html: the same head, paragraphs and padding comment, to 10,240 bytes.
std::string tag_dense_page() {
  constexpr std::string_view kTail = "</body></html>\n";
  constexpr std::string_view kParagraph =
      "<p>Collections move by one day in the weeks of 25 December and 1 January. Check your new "
      "day.</p>\n";
  constexpr std::size_t kSize = 10'240;
  std::string page =
      "<!DOCTYPE html>\n<html lang=\"en-GB\"><head><meta charset=\"utf-8\"><title>Bins and "
      "recycling</title></head>\n<body>\n";
  while (page.size() + kParagraph.size() + kTail.size() + 8 <= kSize) page += kParagraph;
  page += "<!--" + std::string(kSize - page.size() - kTail.size() - 8, 'x') + "-->\n";
  page += kTail;
  return page;
}

// One response through the filters the way the proxy's core calls them.
struct FilterChain {
  std::shared_ptr<const veil::policies::Policy> policy;
  MetricsRegistry metrics;
  ConsentFilter consent{"2026-11-23"};
  EmbedBlocker blocker{consent, metrics};
  SecurityHeaders security{consent};

  std::size_t run(std::string_view cookie, std::string_view page,
                  const std::vector<std::size_t>& chunks, std::string& out) {
    namespace http = boost::beast::http;
    Exchange exchange;
    exchange.policy = policy;
    exchange.request.method(http::verb::get);
    exchange.request.target("/bins-and-recycling?postcode=EB1+4QT");
    exchange.request.set(http::field::host, "www.eastbrook.gov.uk");
    exchange.request.set(http::field::cookie, cookie);
    consent.on_request(exchange);
    blocker.on_request(exchange);
    security.on_request(exchange);
    exchange.response.result(http::status::ok);
    exchange.response.set(http::field::content_type, "text/html; charset=utf-8");
    exchange.response.set(http::field::content_length, std::to_string(page.size()));
    consent.on_response_head(exchange);
    blocker.on_response_head(exchange);
    security.on_response_head(exchange);
    auto transform = blocker.response_body_transform(exchange);
    std::size_t at = 0;
    for (std::size_t size : chunks) {
      transform->transform(page.substr(at, size), out);
      at += size;
    }
    transform->finish(out);
    return exchange.response["Content-Security-Policy"].size() +
           exchange.response["Content-Security-Policy-Report-Only"].size();
  }
};

std::shared_ptr<const veil::policies::Policy> policy(const std::filesystem::path& source,
                                                     std::string_view file) {
  const auto loaded = veil::policies::load_policy((source / file).string());
  if (!loaded.policy) throw std::runtime_error(fmt::format("cannot load {}", file));
  return loaded.policy;
}

void measure_filter(const std::filesystem::path& source, double seconds, std::string_view only,
                    std::mt19937& random) {
  FilterChain chain;
  const auto council_default = policy(source, "policies/council-default.yaml");
  const auto pass_through = policy(source, "bench/policies/pass-through.yaml");
  constexpr std::string_view kNoDecision = "_ga=GA1.1.1234.5678";
  constexpr std::string_view kAcceptedAll =
      R"(cookies_policy={"essential":true,"settings":true,"usage":true,"campaigns":true}; )"
      "cookies_preferences_set=true";
  const std::string table_page = demo_page(source, 102'400, false);
  const std::string main_page = demo_page(source, 102'400, true);
  const std::string dense_page = tag_dense_page();
  const struct {
    std::string_view name;
    const std::string& page;
    std::string_view cookie;
    const std::shared_ptr<const veil::policies::Policy>& policy;
  } cases[] = {
      {"table-none", table_page, kNoDecision, council_default},
      {"table-all", table_page, kAcceptedAll, council_default},
      {"main-none", main_page, kNoDecision, council_default},
      {"main-all", main_page, kAcceptedAll, council_default},
      {"dense-pass", dense_page, kNoDecision, pass_through},
  };
  for (const auto& [name, page, cookie, case_policy] : cases) {
    if (name.find(only) == std::string_view::npos) continue;
    chain.policy = case_policy;
    const auto chunks = random_chunks(page.size(), random);
    std::string out;
    out.reserve(page.size() * 2);
    std::size_t pages = 0;
    const double cpu_start = thread_cpu_seconds();
    double elapsed = 0;
    do {
      out.clear();
      if (chain.run(cookie, page, chunks, out) == 0) throw std::runtime_error("no CSP sent");
      ++pages;
      elapsed = thread_cpu_seconds() - cpu_start;
    } while (elapsed < seconds);
    const double bytes = static_cast<double>(pages * page.size());
    fmt::print("{:>8}B {:>12} {:>10.0f} {:>14.1f} {:>8.3f}\n", page.size(), name,
               bytes / 1e6 / elapsed, elapsed / static_cast<double>(pages) * 1e6,
               static_cast<double>(out.size()) / static_cast<double>(page.size()));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  const std::string_view only = argc > 3 ? argv[3] : "";
  std::mt19937 random(20261123);
  if (!only.empty()) {
    measure_filter(source_directory(argc, argv), seconds, only, random);
    return 0;
  }
  fmt::print("{:>9} {:>8} {:>12} {:>12} {:>8} {:>10}\n", "page", "case", "MB/s (cpu)",
             "MB/s (wall)", "out/in", "bailout");
  double slowest = 1e300;
  for (std::size_t size : {10'000u, 100'000u, 300'000u, 1'000'000u}) {
    const std::string page = generate_page(size, random);
    for (bool rewrite : {false, true}) {
      const Result result = measure(page, rewrite, seconds, random);
      if (rewrite) slowest = std::min(slowest, result.megabytes_per_second);
      fmt::print("{:>8}B {:>8} {:>12.0f} {:>12.0f} {:>8.3f} {:>10}\n", page.size(),
                 rewrite ? "rewrite" : "scan", result.megabytes_per_second,
                 result.wall_megabytes_per_second,
                 static_cast<double>(result.output_bytes) / static_cast<double>(page.size()),
                 to_string(result.bailout));
    }
  }
  fmt::print("slowest rewrite: {:.0f} MB/s per CPU second (target >= 500)\n", slowest);
  fmt::print("\n{:>9} {:>12} {:>10} {:>14} {:>8}\n", "page", "case", "MB/s (cpu)", "CPU us/page",
             "out/in");
  measure_filter(source_directory(argc, argv), seconds, only, random);
  return 0;
}
