#include <catch2/catch.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_html_support.hpp"
#include "veil/proxy/html_rewriter.hpp"

using namespace veil::proxy;
using veil::proxy::test::chunk_cuts;
using veil::proxy::test::rewrite;

namespace {

// The host of a URL as a browser would resolve it from an attribute: scheme-relative `//host`,
// any case, userinfo and port ignored. Empty for relative URLs.
std::string url_host(std::string_view url) {
  while (!url.empty() && (url.front() == ' ' || url.front() == '\n' || url.front() == '\t')) {
    url.remove_prefix(1);
  }
  const auto scheme_end = url.find("//");
  if (scheme_end == std::string_view::npos) return {};
  const auto colon = url.find(':');
  if (scheme_end != 0 && !(colon != std::string_view::npos && colon + 1 == scheme_end)) return {};
  url.remove_prefix(scheme_end + 2);
  url = url.substr(0, url.find_first_of("/?#\\"));
  if (const auto at = url.rfind('@'); at != std::string_view::npos) url.remove_prefix(at + 1);
  url = url.substr(0, url.find(':'));
  std::string host;
  for (char c : url) host += (c >= 'A' && c <= 'Z') ? static_cast<char>(c | 0x20) : c;
  return host;
}

// The policy-free example use: every <script src> to `host` becomes inert, keeping its URL.
auto neutralise_scripts_to(std::string host) {
  return [host = std::move(host)](HtmlRewriter& rewriter) {
    rewriter.on_element({HtmlTag::script}, [host](HtmlElement& script) {
      const auto src = script.attribute("src");
      if (!src || url_host(*src) != host) return;
      script.set_attribute("type", "text/plain");
      script.set_attribute("data-veil-src", *src);
      script.remove_attribute("src");
    });
  };
}

// Same output for the input whole, split at every byte, and fed byte by byte.
template <typename Setup>
std::string rewrite_every_split(std::string_view input, Setup setup) {
  const std::string whole = rewrite(input, {}, setup);
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    INFO("split at " << cut);
    REQUIRE(rewrite(input, {cut}, setup) == whole);
  }
  REQUIRE(rewrite(input, chunk_cuts(input.size(), 1), setup) == whole);
  return whole;
}

constexpr std::string_view kPage = R"html(<!doctype html><html><head>
<script async SRC="HTTPS://WWW.GoogleTagManager.com/gtag/js?id=G-1"></script>
<script src='/js/site.js'></script>
<script>var s = "<script src=//www.googletagmanager.com/x.js></scr" + "ipt>";</script>
<!-- <script src="https://www.googletagmanager.com/c.js"></script> -->
<script src="&#x2F;&#47;www.googletagmanager.com/gtm.js?id=GTM-1&amp;l=dl"></script>
<script src=//www.googletagmanager.com/u.js src=https://other.example/></script>
</head><BODY class=home><p>Hello</p>
<iframe src="https://www.youtube.com/embed/a" width=560 height=315>fallback <b>text</b></iframe>
<img src=/a.png alt="a &amp; b"></body></html>)html";

}  // namespace

TEST_CASE("url_host reads hosts the way a browser would", "[html]") {
  CHECK(url_host("HTTPS://WWW.Example.com:443/a") == "www.example.com");
  CHECK(url_host("//user@cdn.example/x") == "cdn.example");
  CHECK(url_host("/relative//path") == "");
  CHECK(url_host("javascript://x") == "x");
}

TEST_CASE("no handlers, or handlers that edit nothing: output is the input", "[html]") {
  CHECK(rewrite_every_split(kPage, [](HtmlRewriter&) {}) == kPage);
  const std::string out = rewrite_every_split(kPage, [](HtmlRewriter& rewriter) {
    rewriter.on_element(HtmlTagSet::all(),
                        [](HtmlElement& element) { (void)element.attribute("src"); });
  });
  CHECK(out == kPage);
}

TEST_CASE("example use: neutralise every <script src> to one host", "[html]") {
  const std::string out =
      rewrite_every_split(kPage, neutralise_scripts_to("www.googletagmanager.com"));
  const std::string_view expected = R"html(<!doctype html><html><head>
<script type="text/plain" data-veil-src="HTTPS://WWW.GoogleTagManager.com/gtag/js?id=G-1" async ></script>
<script src='/js/site.js'></script>
<script>var s = "<script src=//www.googletagmanager.com/x.js></scr" + "ipt>";</script>
<!-- <script src="https://www.googletagmanager.com/c.js"></script> -->
<script type="text/plain" data-veil-src="//www.googletagmanager.com/gtm.js?id=GTM-1&amp;l=dl" ></script>
<script type="text/plain" data-veil-src="//www.googletagmanager.com/u.js"  ></script>
</head><BODY class=home><p>Hello</p>
<iframe src="https://www.youtube.com/embed/a" width=560 height=315>fallback <b>text</b></iframe>
<img src=/a.png alt="a &amp; b"></body></html>)html";
  CHECK(out == expected);
}

TEST_CASE("an iframe is replaced up to and including its end tag", "[html]") {
  const std::string out = rewrite_every_split(kPage, [](HtmlRewriter& rewriter) {
    rewriter.on_element({HtmlTag::iframe}, [](HtmlElement& iframe) {
      const auto src = iframe.attribute("src");
      REQUIRE(src);
      iframe.insert_before("<!--b-->");
      iframe.replace("<form method=\"post\"><a href=\"" + html_escaped(*src) +
                     "\">Watch</a></form>");
      iframe.insert_after("<!--a-->");
    });
  });
  CHECK(out.find("<iframe") == std::string::npos);
  CHECK(out.find("fallback") == std::string::npos);
  CHECK(out.find("<!--b--><form method=\"post\"><a href=\"https://www.youtube.com/embed/a\">"
                 "Watch</a></form><!--a-->\n<img") != std::string::npos);
}

TEST_CASE("inline script content is available to recognise a snippet", "[html]") {
  const std::string_view page =
      "<script>(function(w,d,s,l,i){j.src='https://www.googletagmanager.com/gtm.js?id='+i})"
      "(window,document,'script','dataLayer','GTM-X');</script><script>site()</script>"
      "<script src=a.js></script>";
  std::vector<std::string> seen;
  const std::string out = rewrite_every_split(page, [&](HtmlRewriter& rewriter) {
    rewriter.on_element({HtmlTag::script}, [&](HtmlElement& script) {
      REQUIRE(script.has_content());
      REQUIRE(script.content_complete());
      seen.emplace_back(script.content());
      if (script.content().find("googletagmanager.com/gtm.js") != std::string_view::npos) {
        script.set_attribute("type", "text/plain");
        script.set_attribute("data-veil-category", "campaigns");
      }
    });
  });
  CHECK(seen[0].find("GTM-X") != std::string::npos);
  CHECK(seen[1] == "site()");
  CHECK(seen[2].empty());
  CHECK(out.rfind("<script type=\"text/plain\" data-veil-category=\"campaigns\">(function", 0) ==
        0);
  CHECK(out.find("</script><script>site()</script><script src=a.js></script>") !=
        std::string::npos);
}

TEST_CASE("a script longer than the cap: handlers see its start, the rest streams", "[html]") {
  HtmlRewriterOptions options;
  options.max_construct_bytes = 100;
  const std::string page = "<p><script>" + std::string(1000, 'x') + "</script><img src=a>";
  for (std::size_t chunk : {7u, 64u, 4096u}) {
    bool complete = true;
    std::size_t seen = 0;
    HtmlBailout bailout = HtmlBailout::none;
    const std::string out = rewrite(
        page, chunk_cuts(page.size(), chunk),
        [&](HtmlRewriter& rewriter) {
          rewriter.on_element({HtmlTag::script}, [&](HtmlElement& script) {
            complete = script.content_complete();
            seen = script.content().size();
            script.replace("<!--script removed-->");
            script.insert_after("<!--after-->");
          });
        },
        &bailout, options);
    INFO("chunk " << chunk);
    CHECK(bailout == HtmlBailout::none);
    CHECK_FALSE(complete);
    CHECK(seen == 100);
    CHECK(out == "<p><!--script removed--><!--after--><img src=a>");
  }
}

TEST_CASE("attribute edits: set, add, remove, duplicates, escaping", "[html]") {
  const auto setup = [](HtmlRewriter& rewriter) {
    rewriter.on_element({HtmlTag::img, HtmlTag::link}, [](HtmlElement& element) {
      element.set_attribute("SRC", "/x?a=1&b=\"2\"");
      element.set_attribute("data-new", "<'>");
      element.remove_attribute("alt");
      element.set_attribute("data-gone", "x");
      element.remove_attribute("data-gone");
    });
  };
  CHECK(rewrite_every_split("<img src=a SRC='b' alt=x alt=y/>", setup) ==
        "<img data-new=\"&lt;&#39;&gt;\" src=\"/x?a=1&amp;b=&quot;2&quot;\"   >");
  CHECK(rewrite_every_split("<LINK\nhref=x>", setup) ==
        "<LINK src=\"/x?a=1&amp;b=&quot;2&quot;\" data-new=\"&lt;&#39;&gt;\"\nhref=x>");
  CHECK(rewrite_every_split("<img/alt=a>", setup) ==
        "<img src=\"/x?a=1&amp;b=&quot;2&quot;\" data-new=\"&lt;&#39;&gt;\"/>");
}

TEST_CASE("set_attribute refuses names that would break the tag", "[html]") {
  rewrite("<img>", {}, [](HtmlRewriter& rewriter) {
    rewriter.on_element({HtmlTag::img}, [](HtmlElement& img) {
      CHECK_THROWS_AS(img.set_attribute("a b", "x"), std::invalid_argument);
      CHECK_THROWS_AS(img.set_attribute("a>", "x"), std::invalid_argument);
      CHECK_THROWS_AS(img.remove_attribute(""), std::invalid_argument);
    });
  });
}

TEST_CASE("HTML goes right after the first <body> start tag", "[html]") {
  const auto banner = [](HtmlRewriter& rewriter) {
    rewriter.insert_after_body_start("<div id=banner></div>");
  };
  CHECK(rewrite_every_split("<html><BODY class=\"a>b\"><p>x<body>", banner) ==
        "<html><BODY class=\"a>b\"><div id=banner></div><p>x<body>");
  CHECK(rewrite_every_split("<!-- <body> --><script>'<body>'</script><body>", banner) ==
        "<!-- <body> --><script>'<body>'</script><body><div id=banner></div>");
  HtmlRewriter rewriter;
  banner(rewriter);
  std::string out;
  rewriter.write("<p>no body tag", out);
  rewriter.end(out);
  CHECK(out == "<p>no body tag");
  CHECK_FALSE(rewriter.inserted_after_body_start());
}

TEST_CASE("registering after the first write is refused", "[html]") {
  HtmlRewriter rewriter;
  std::string out;
  rewriter.write("<p>", out);
  CHECK_THROWS_AS(rewriter.on_element({HtmlTag::img}, [](HtmlElement&) {}), std::logic_error);
}

TEST_CASE("on bail-out, held bytes and the rest pass through unmodified", "[html]") {
  const auto remove_everything = [](HtmlRewriter& rewriter) {
    rewriter.on_element({HtmlTag::script, HtmlTag::img, HtmlTag::iframe},
                        [](HtmlElement& element) { element.remove(); });
  };
  // The ambiguity comes after an edit: edits before it stand, the rest is untouched.
  const std::string_view ambiguous = "<img src=a><select><style><img src=b></style></select><img>";
  for (std::size_t cut = 0; cut <= ambiguous.size(); ++cut) {
    HtmlBailout bailout = HtmlBailout::none;
    CHECK(rewrite(ambiguous, {cut}, remove_everything, &bailout) ==
          "<select><style><img src=b></style></select><img>");
    CHECK(bailout == HtmlBailout::ambiguous_select);
  }
  // The document budget runs out while a script is held: it goes out as it came.
  HtmlRewriterOptions options;
  options.max_document_bytes = 20;
  const std::string_view held = "<script>abc</script><img src=x>";
  HtmlBailout bailout = HtmlBailout::none;
  CHECK(rewrite(held, {12}, remove_everything, &bailout, options) == held);
  CHECK(bailout == HtmlBailout::document_too_large);
}

// What handlers are shown while they edit everything: kind, source attribute, inline content.
std::vector<std::string> handler_views(std::string_view input, const std::vector<std::size_t>& cuts,
                                       bool scan, HtmlBailout& bailout,
                                       HtmlRewriterOptions options = {}) {
  std::vector<std::string> views;
  HtmlRewriter rewriter(options);
  rewriter.on_element(HtmlTagSet::all(), [&](HtmlElement& element) {
    views.push_back(std::string(element.name()) +
                    " src=" + std::string(element.attribute("src").value_or("-")) +
                    " content=" + std::string(element.content()) +
                    (element.content_complete() ? "" : " (incomplete)"));
    element.set_attribute("data-seen", "1");
    if (element.tag() == HtmlTag::iframe) element.replace("<p>placeholder</p>");
  });
  rewriter.insert_after_body_start("<div id=banner></div>");
  std::string out;
  std::size_t begin = 0;
  for (std::size_t cut : cuts) {
    const auto piece = input.substr(begin, cut - begin);
    scan ? rewriter.scan(piece) : rewriter.write(piece, out);
    begin = cut;
  }
  scan ? rewriter.scan(input.substr(begin)) : rewriter.write(input.substr(begin), out);
  scan ? rewriter.end_scan() : rewriter.end(out);
  bailout = rewriter.bailout();
  CHECK(out.empty() == scan);
  return views;
}

TEST_CASE("scan shows the handlers what write does, and renders nothing", "[html]") {
  HtmlRewriterOptions small;
  small.max_construct_bytes = 40;
  const std::string long_script = "<p><script>" + std::string(100, 'x') + "</script><img src=a>";
  const struct {
    std::string_view input;
    HtmlRewriterOptions options;
  } cases[] = {
      {kPage, {}},
      {"<img src=a><select><style><img src=b></style></select><img src=c>", {}},
      {long_script, small},
      {"<script src=x>unterminated", {}},
  };
  for (const auto& [input, options] : cases) {
    HtmlBailout written_bailout = HtmlBailout::none;
    const auto written = handler_views(input, {}, false, written_bailout, options);
    REQUIRE_FALSE(written.empty());
    for (std::size_t cut = 0; cut <= input.size(); ++cut) {
      INFO(input << " split at " << cut);
      HtmlBailout scanned_bailout = HtmlBailout::none;
      CHECK(handler_views(input, {cut}, true, scanned_bailout, options) == written);
      CHECK(scanned_bailout == written_bailout);
    }
  }
}

TEST_CASE("random input with a no-op handler passes through", "[html]") {
  std::mt19937 random(42);
  const std::string_view alphabet = "<>/!-=\"' \nscriptSCRIPTiframebody";
  for (int round = 0; round < 200; ++round) {
    std::string input;
    for (std::size_t i = 0, size = random() % 200; i < size; ++i) {
      input += random() % 5 == 0 ? static_cast<char>(random() % 256)
                                 : alphabet[random() % alphabet.size()];
    }
    const auto setup = [](HtmlRewriter& rewriter) {
      rewriter.on_element(HtmlTagSet::all(), [](HtmlElement&) {});
    };
    for (std::size_t chunk : {1u, 5u, 1000u}) {
      REQUIRE(rewrite(input, chunk_cuts(input.size(), chunk), setup) == input);
    }
  }
}
